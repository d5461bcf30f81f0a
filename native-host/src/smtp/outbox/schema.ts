/**
 * The outbox tables, in the account database under their own migrations namespace. A
 * message row holds what is needed after delivery (the Sent copy, the original for a
 * bounce); a delivery row is one relay transaction with its own retry schedule.
 */
import type { Migration } from '../../store/index.js';

export const OUTBOX_NAMESPACE = 'smtp_outbox';

export const OUTBOX_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'outbox messages and their relay deliveries',
    up: (db) => {
      db.exec(`
        CREATE TABLE outbox_messages (
          id TEXT PRIMARY KEY,
          created_at INTEGER NOT NULL,
          sender TEXT NOT NULL,
          subject TEXT,
          protection TEXT NOT NULL,
          original_blob TEXT NOT NULL,
          sent_blob TEXT NOT NULL,
          sent_stored INTEGER NOT NULL DEFAULT 0,
          bounced INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE outbox_deliveries (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          message_id TEXT NOT NULL REFERENCES outbox_messages(id) ON DELETE CASCADE,
          blob_id TEXT NOT NULL,
          recipients TEXT NOT NULL,
          state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
          attempts INTEGER NOT NULL DEFAULT 0,
          next_attempt_at INTEGER NOT NULL,
          last_error TEXT,
          failed_recipients TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX outbox_deliveries_due ON outbox_deliveries (state, next_attempt_at);
        CREATE INDEX outbox_deliveries_message ON outbox_deliveries (message_id);
      `);
    },
  },
];
