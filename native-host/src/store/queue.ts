/**
 * The durable queue of local changes to replay upstream (flags, moves, expunges, appends,
 * mailbox operations). Entries are appended in the same transaction as the change they
 * describe, so a change is never applied locally without being queued, or queued without
 * being applied. Order is `seq`; an idempotency key makes a repeated append a no-op; entries
 * never change once written (a trigger enforces it) except for their delivery bookkeeping.
 */
import { randomUUID } from 'node:crypto';
import { statementCache, type SqliteDatabase, type Statement } from './database.js';

export interface QueuedChange {
  seq: number;
  key: string;
  kind: string;
  payload: unknown;
  createdAt: Date;
  attempts: number;
  lastError: string | null;
}

interface Row {
  seq: number;
  idempotency_key: string;
  kind: string;
  payload: string;
  created_at: number;
  attempts: number;
  last_error: string | null;
}

export class ChangeQueue {
  private readonly sql: (text: string) => Statement;

  constructor(db: SqliteDatabase) {
    this.sql = statementCache(db);
  }

  /**
   * Appends a change (call inside the transaction that makes it). Returns its seq; for a key
   * already queued, the seq of the first entry, and nothing is written. Without a key the
   * entry is unique: creating, deleting and creating a mailbox again are three changes.
   */
  append(kind: string, payload: unknown, key: string = `${kind}:${randomUUID()}`): number {
    const idempotencyKey = key;
    const inserted = this.sql(
      `INSERT INTO change_queue (idempotency_key, kind, payload, created_at)
         VALUES (?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
    ).run(idempotencyKey, kind, JSON.stringify(payload), Date.now());
    if (inserted.changes) return Number(inserted.lastInsertRowid);
    return this.sql('SELECT seq FROM change_queue WHERE idempotency_key = ?')
      .pluck()
      .get(idempotencyKey) as number;
  }

  /** Undelivered changes, oldest first. */
  pending(limit = 100): QueuedChange[] {
    const rows = this.sql(
      'SELECT * FROM change_queue WHERE done_at IS NULL ORDER BY seq LIMIT ?',
    ).all(limit) as Row[];
    return rows.map((row) => ({
      seq: row.seq,
      key: row.idempotency_key,
      kind: row.kind,
      payload: JSON.parse(row.payload),
      createdAt: new Date(row.created_at),
      attempts: row.attempts,
      lastError: row.last_error,
    }));
  }

  markDone(seq: number): void {
    this.sql('UPDATE change_queue SET done_at = ? WHERE seq = ?').run(Date.now(), seq);
  }

  /** Records a failed delivery; the entry stays pending, in its place. */
  markFailed(seq: number, reason: string): void {
    this.sql('UPDATE change_queue SET attempts = attempts + 1, last_error = ? WHERE seq = ?').run(
      reason,
      seq,
    );
  }

  /** Forgets delivered entries older than `before`; returns how many. */
  prune(before: Date): number {
    return this.sql('DELETE FROM change_queue WHERE done_at IS NOT NULL AND done_at < ?').run(
      before.getTime(),
    ).changes;
  }
}
