/**
 * The sync engine's own bookkeeping, in the account database (namespace "sync", so it is
 * encrypted at rest with the mail index and commits in the same file):
 * - folders: per upstream mailbox the UIDVALIDITY, the HIGHESTMODSEQ seen at the last
 *   pass, the highest upstream UID below which everything is stored, and whether the
 *   last pass ended with the counts matching the server's;
 * - undecrypted: messages stored as they came because no key opened them, to retry;
 * - journal: upstream operations in flight (an APPEND or MOVE whose answer may have been
 *   lost to a crash), so a replay after a restart finds their result instead of doing them
 *   twice;
 * - meta: small values (the upstream delimiter, a digest of the decryption keys).
 */
import type { AccountStore, Migration, SqliteDatabase } from '../store/index.js';

export const SYNC_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'folder state, undecrypted messages, upstream operation journal',
    up: (db) =>
      db.exec(`
        CREATE TABLE sync_folders (
          path TEXT PRIMARY KEY,
          uidvalidity INTEGER NOT NULL,
          highestmodseq INTEGER NOT NULL DEFAULT 0,
          last_uid INTEGER NOT NULL DEFAULT 0,
          messages INTEGER NOT NULL DEFAULT 0,
          synced INTEGER NOT NULL DEFAULT 0,
          synced_at INTEGER
        ) STRICT;
        CREATE TABLE sync_undecrypted (
          path TEXT NOT NULL,
          uidvalidity INTEGER NOT NULL,
          uid INTEGER NOT NULL,
          mailbox_id TEXT NOT NULL,
          local_uid INTEGER NOT NULL,
          reason TEXT NOT NULL,
          PRIMARY KEY (path, uidvalidity, uid)
        ) STRICT;
        CREATE TABLE sync_journal (
          key TEXT PRIMARY KEY,
          data TEXT NOT NULL
        ) STRICT;
        CREATE TABLE sync_meta (
          name TEXT PRIMARY KEY,
          value TEXT NOT NULL
        ) STRICT;
      `),
  },
];

export interface FolderState {
  path: string;
  uidValidity: number;
  highestModseq: number;
  lastUid: number;
  messages: number;
  synced: boolean;
}

export interface UndecryptedEntry {
  path: string;
  uidValidity: number;
  uid: number;
  mailboxId: string;
  localUid: number;
  reason: string;
}

export class SyncState {
  readonly db: SqliteDatabase;

  constructor(store: AccountStore) {
    store.database.registerMigrations('sync', SYNC_MIGRATIONS);
    this.db = store.database.raw;
  }

  folder(path: string): FolderState | null {
    const row = this.db.prepare('SELECT * FROM sync_folders WHERE path = ?').get(path) as
      | {
          path: string;
          uidvalidity: number;
          highestmodseq: number;
          last_uid: number;
          messages: number;
          synced: number;
        }
      | undefined;
    return row
      ? {
          path: row.path,
          uidValidity: row.uidvalidity,
          highestModseq: row.highestmodseq,
          lastUid: row.last_uid,
          messages: row.messages,
          synced: row.synced === 1,
        }
      : null;
  }

  folders(): FolderState[] {
    const paths = this.db.prepare('SELECT path FROM sync_folders ORDER BY path').pluck().all();
    return (paths as string[]).map((p) => this.folder(p)!);
  }

  saveFolder(state: FolderState): void {
    this.db
      .prepare(
        `INSERT INTO sync_folders (path, uidvalidity, highestmodseq, last_uid, messages, synced, synced_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (path) DO UPDATE SET uidvalidity = excluded.uidvalidity,
           highestmodseq = excluded.highestmodseq, last_uid = excluded.last_uid,
           messages = excluded.messages, synced = excluded.synced,
           synced_at = coalesce(excluded.synced_at, synced_at)`,
      )
      .run(
        state.path,
        state.uidValidity,
        state.highestModseq,
        state.lastUid,
        state.messages,
        state.synced ? 1 : 0,
        state.synced ? Date.now() : null,
      );
  }

  /** Only ever moves forward: a batch stored out of order never lowers it. */
  advanceLastUid(path: string, uidValidity: number, lastUid: number): void {
    this.db
      .prepare(
        `INSERT INTO sync_folders (path, uidvalidity, last_uid) VALUES (?, ?, ?)
         ON CONFLICT (path) DO UPDATE SET last_uid = max(last_uid, excluded.last_uid)
         WHERE uidvalidity = excluded.uidvalidity`,
      )
      .run(path, uidValidity, lastUid);
  }

  forgetFolder(path: string): void {
    this.db.prepare('DELETE FROM sync_folders WHERE path = ?').run(path);
  }

  addUndecrypted(entry: UndecryptedEntry): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO sync_undecrypted (path, uidvalidity, uid, mailbox_id, local_uid, reason)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(entry.path, entry.uidValidity, entry.uid, entry.mailboxId, entry.localUid, entry.reason);
  }

  undecrypted(): UndecryptedEntry[] {
    const rows = this.db
      .prepare('SELECT * FROM sync_undecrypted ORDER BY path, uidvalidity, uid')
      .all() as {
      path: string;
      uidvalidity: number;
      uid: number;
      mailbox_id: string;
      local_uid: number;
      reason: string;
    }[];
    return rows.map((r) => ({
      path: r.path,
      uidValidity: r.uidvalidity,
      uid: r.uid,
      mailboxId: r.mailbox_id,
      localUid: r.local_uid,
      reason: r.reason,
    }));
  }

  removeUndecrypted(entry: Pick<UndecryptedEntry, 'path' | 'uidValidity' | 'uid'>): void {
    this.db
      .prepare('DELETE FROM sync_undecrypted WHERE path = ? AND uidvalidity = ? AND uid = ?')
      .run(entry.path, entry.uidValidity, entry.uid);
  }

  journal<T>(key: string): T | null {
    const data = this.db.prepare('SELECT data FROM sync_journal WHERE key = ?').pluck().get(key);
    return data === undefined ? null : (JSON.parse(data as string) as T);
  }

  setJournal(key: string, data: unknown): void {
    this.db
      .prepare('INSERT OR REPLACE INTO sync_journal (key, data) VALUES (?, ?)')
      .run(key, JSON.stringify(data));
  }

  clearJournal(key: string): void {
    this.db.prepare('DELETE FROM sync_journal WHERE key = ?').run(key);
  }

  meta(name: string): string | null {
    const value = this.db.prepare('SELECT value FROM sync_meta WHERE name = ?').pluck().get(name);
    return (value as string | undefined) ?? null;
  }

  setMeta(name: string, value: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO sync_meta (name, value) VALUES (?, ?)')
      .run(name, value);
  }

  /** Runs `fn` in one transaction (with the store's own statements, e.g. queue.markDone). */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
