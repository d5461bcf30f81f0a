/**
 * The mail index schema: the one source of truth for the "mail" namespace of the account
 * database. Append new migrations; never edit one that has shipped.
 *
 * Shape (IMAP-shaped, so the IMAP server answers from SQL without parsing messages):
 * - mailboxes: stable id (AUTOINCREMENT, never reused), name, special use, UIDVALIDITY
 *   (32-bit, from a per-account counter so a re-created name never repeats one), UIDNEXT,
 *   HIGHESTMODSEQ.
 * - subscriptions: by name, since IMAP lets a client subscribe to names that do not exist.
 * - contents: one row per distinct message content (the keyed hash that names its blob),
 *   with the precomputed ENVELOPE, BODYSTRUCTURE and part layout (as JSON and, from
 *   migration 4, in IMAP's wire form); copies share it. content_headers (migration 4; the
 *   column of migration 2 before) keeps its raw header for header fetches and searches,
 *   NULL when too big to keep.
 * - messages: per mailbox UID, MODSEQ, flags (system flags as a bit set for indexed
 *   searches and counts, keywords as JSON), internal date, size, and the upstream mailbox,
 *   UIDVALIDITY and UID it was synced from.
 * - expunged: tombstones (UID and the MODSEQ of its expunge) for CONDSTORE/QRESYNC clients
 *   and the sync engine.
 * - change_queue: local changes to replay upstream, append-only and ordered by seq, with
 *   an idempotency key; only its delivery columns may change.
 */
import { encodeBodyStructure, encodeEnvelope } from '../imap/index.js';
import type { Migration } from './database.js';

export const MAIL_NAMESPACE = 'mail';

export const MAIL_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'mailboxes, messages, contents, tombstones, subscriptions, change queue',
    up: (db) =>
      db.exec(`
        CREATE TABLE mail_counters (
          name TEXT PRIMARY KEY,
          value INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE mailboxes (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          name TEXT NOT NULL UNIQUE,
          special_use TEXT,
          uidvalidity INTEGER NOT NULL CHECK (uidvalidity BETWEEN 1 AND 4294967295),
          uidnext INTEGER NOT NULL DEFAULT 1 CHECK (uidnext BETWEEN 1 AND 4294967296),
          highestmodseq INTEGER NOT NULL DEFAULT 1 CHECK (highestmodseq >= 1),
          created_at INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE subscriptions (
          name TEXT PRIMARY KEY
        ) STRICT;

        CREATE TABLE contents (
          blob_id TEXT PRIMARY KEY,
          size INTEGER NOT NULL,
          envelope TEXT NOT NULL,
          body_structure TEXT NOT NULL,
          layout TEXT NOT NULL
        ) STRICT;

        CREATE TABLE messages (
          id INTEGER PRIMARY KEY,
          mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
          uid INTEGER NOT NULL CHECK (uid BETWEEN 1 AND 4294967295),
          modseq INTEGER NOT NULL,
          system_flags INTEGER NOT NULL DEFAULT 0,
          keywords TEXT NOT NULL DEFAULT '[]',
          internal_date INTEGER NOT NULL,
          size INTEGER NOT NULL,
          blob_id TEXT NOT NULL REFERENCES contents (blob_id),
          upstream_mailbox TEXT,
          upstream_uidvalidity INTEGER,
          upstream_uid INTEGER,
          UNIQUE (mailbox_id, uid)
        ) STRICT;
        CREATE INDEX messages_by_modseq ON messages (mailbox_id, modseq);
        CREATE INDEX messages_unseen ON messages (mailbox_id, uid) WHERE (system_flags & 1) = 0;
        CREATE INDEX messages_by_blob ON messages (blob_id);
        CREATE UNIQUE INDEX messages_by_upstream
          ON messages (upstream_mailbox, upstream_uidvalidity, upstream_uid)
          WHERE upstream_uid IS NOT NULL;

        CREATE TABLE expunged (
          mailbox_id INTEGER NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
          uid INTEGER NOT NULL,
          modseq INTEGER NOT NULL,
          PRIMARY KEY (mailbox_id, uid)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX expunged_by_modseq ON expunged (mailbox_id, modseq);

        CREATE TABLE change_queue (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          idempotency_key TEXT NOT NULL UNIQUE,
          kind TEXT NOT NULL,
          payload TEXT NOT NULL,
          created_at INTEGER NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0,
          last_error TEXT,
          done_at INTEGER
        ) STRICT;
        CREATE INDEX change_queue_pending ON change_queue (seq) WHERE done_at IS NULL;
        CREATE TRIGGER change_queue_append_only
          BEFORE UPDATE OF seq, idempotency_key, kind, payload, created_at ON change_queue
          BEGIN
            SELECT RAISE(ABORT, 'change_queue entries are immutable');
          END;
      `),
  },
  {
    version: 2,
    description: 'message headers kept in the index for header-only fetches',
    // Rows from before keep NULL and are served from their blobs.
    up: (db) => db.exec('ALTER TABLE contents ADD COLUMN header BLOB'),
  },
  {
    version: 3,
    description: 'message and unseen counts per mailbox, kept by triggers',
    // Triggers, not application code, keep the counts: every path that touches messages
    // (including ones written later) keeps them right, and STATUS reads two integers instead
    // of counting a 100,000-row mailbox.
    up: (db) =>
      db.exec(`
        ALTER TABLE mailboxes ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE mailboxes ADD COLUMN unseen_count INTEGER NOT NULL DEFAULT 0;
        UPDATE mailboxes SET
          message_count = (SELECT count(*) FROM messages m WHERE m.mailbox_id = mailboxes.id),
          unseen_count = (SELECT count(*) FROM messages m
                          WHERE m.mailbox_id = mailboxes.id AND (m.system_flags & 1) = 0);
        CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
          UPDATE mailboxes SET message_count = message_count + 1,
            unseen_count = unseen_count + ((NEW.system_flags & 1) = 0)
          WHERE id = NEW.mailbox_id;
        END;
        CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
          UPDATE mailboxes SET message_count = message_count - 1,
            unseen_count = unseen_count - ((OLD.system_flags & 1) = 0)
          WHERE id = OLD.mailbox_id;
        END;
        CREATE TRIGGER messages_count_update AFTER UPDATE OF system_flags, mailbox_id ON messages
        BEGIN
          UPDATE mailboxes SET message_count = message_count - 1,
            unseen_count = unseen_count - ((OLD.system_flags & 1) = 0)
          WHERE id = OLD.mailbox_id;
          UPDATE mailboxes SET message_count = message_count + 1,
            unseen_count = unseen_count + ((NEW.system_flags & 1) = 0)
          WHERE id = NEW.mailbox_id;
        END;
      `),
  },
  {
    version: 4,
    description: 'ENVELOPE and BODYSTRUCTURE in IMAP wire form; headers in their own table',
    // A FETCH of ENVELOPE/BODYSTRUCTURE for a whole mailbox then costs a string copy per
    // message instead of a JSON parse and an IMAP encoding. Headers move out of the wide
    // contents rows, where reaching them meant walking each row's overflow pages: a header
    // scan (Thunderbird's first look, SEARCH SUBJECT) reads only this narrow table, as
    // latin1 text (see headerText), which SQLite hands to JavaScript cheaper than a blob. Its
    // partial index finds, at no cost in the usual case, contents whose header was too big
    // to keep, for which header searches cannot be answered from the index.
    up: (db) => {
      db.exec(`
        ALTER TABLE contents ADD COLUMN envelope_imap TEXT;
        ALTER TABLE contents ADD COLUMN body_structure_imap TEXT;
        CREATE TABLE content_headers (
          blob_id TEXT PRIMARY KEY REFERENCES contents (blob_id) ON DELETE CASCADE,
          header TEXT
        ) STRICT;
        CREATE INDEX content_headers_missing ON content_headers (blob_id) WHERE header IS NULL;
      `);
      const keep = db.prepare('INSERT INTO content_headers (blob_id, header) VALUES (?, ?)');
      const old = db.prepare('SELECT blob_id, header FROM contents').all() as {
        blob_id: string;
        header: Buffer | null;
      }[];
      for (const row of old) keep.run(row.blob_id, row.header && headerText(row.header));
      db.exec('ALTER TABLE contents DROP COLUMN header');
      const update = db.prepare(
        'UPDATE contents SET envelope_imap = ?, body_structure_imap = ? WHERE blob_id = ?',
      );
      const rows = db.prepare('SELECT blob_id, envelope, body_structure FROM contents').all() as {
        blob_id: string;
        envelope: string;
        body_structure: string;
      }[];
      for (const row of rows) {
        const wire = imapWireForms(JSON.parse(row.envelope), JSON.parse(row.body_structure));
        update.run(wire.envelope, wire.bodyStructure, row.blob_id);
      }
    },
  },
];

/** What the contents columns `envelope_imap` and `body_structure_imap` hold. */
export function imapWireForms(
  envelope: Parameters<typeof encodeEnvelope>[0],
  bodyStructure: Parameters<typeof encodeBodyStructure>[0],
): { envelope: string; bodyStructure: string } {
  return {
    envelope: encodeEnvelope(envelope),
    bodyStructure: encodeBodyStructure(bodyStructure, true),
  };
}

/**
 * How content_headers keeps a header: as a latin1 string, one character per octet, which
 * SQLite stores as UTF-8 and gives back unchanged. The IMAP server filters and sends the
 * header as exactly this string.
 */
export function headerText(header: Uint8Array): string {
  return Buffer.from(header.buffer, header.byteOffset, header.byteLength).toString('latin1');
}
