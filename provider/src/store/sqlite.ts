/**
 * The embedded SQLite implementation of the provider's data layer (one file in the data
 * directory, WAL mode). Every multi-statement change runs in a transaction.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import {
  conflictOf,
  kdfText,
  nextUpdatedAt,
  toHeld,
  toUser,
  type HeldRow,
  type UserRow,
} from './rows.js';
import type {
  Checkpoint,
  LimitChange,
  PendingHandshake,
  ProviderStore,
  PushRow,
  StoredDoc,
} from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  login TEXT NOT NULL UNIQUE,
  address TEXT NOT NULL UNIQUE,
  wkd_hash TEXT NOT NULL,
  salt TEXT NOT NULL,
  verifier TEXT NOT NULL,
  kdf TEXT,
  public_key TEXT,
  key_fingerprint TEXT UNIQUE,
  created_at INTEGER NOT NULL,
  sync_clock INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS users_wkd ON users (wkd_hash);
CREATE TABLE IF NOT EXISTS tokens (
  hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  last_used_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS recovery (
  user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_docs (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  ciphertext TEXT NOT NULL,
  hash TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, collection, id)
);
CREATE INDEX IF NOT EXISTS sync_docs_order ON sync_docs (user_id, collection, updated_at, id);
CREATE TABLE IF NOT EXISTS held_mail (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  sender TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS relayed (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  envelope_id TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, envelope_id)
);
CREATE INDEX IF NOT EXISTS relayed_age ON relayed (accepted_at);
CREATE TABLE IF NOT EXISTS handshakes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  client TEXT NOT NULL,
  value TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS handshakes_client ON handshakes (client, seq);
CREATE INDEX IF NOT EXISTS handshakes_expiry ON handshakes (expires_at);
CREATE TABLE IF NOT EXISTS login_limits (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS login_limits_expiry ON login_limits (expires_at);
`;

interface DocRow {
  id: string;
  deleted: number;
  ciphertext: string;
  hash: string;
  updated_at: number;
}

const toDoc = (r: DocRow): StoredDoc => ({
  id: r.id,
  deleted: r.deleted === 1,
  ciphertext: r.ciphertext,
  hash: r.hash,
  updatedAt: r.updated_at,
});

/** Columns added after the first release, for data directories made before them. */
function migrate(db: Database.Database): void {
  const columns = (db.prepare('PRAGMA table_info(users)').all() as { name: string }[]).map(
    (c) => c.name,
  );
  // Accounts from before have no description: the SRP library's fast hash.
  if (!columns.includes('kdf')) db.exec('ALTER TABLE users ADD COLUMN kdf TEXT');
}

export function openSqliteStore(file: string): ProviderStore {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  migrate(db);

  const q = {
    insertUser: db.prepare(
      'INSERT INTO users (id, login, address, wkd_hash, salt, verifier, kdf, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    userById: db.prepare('SELECT * FROM users WHERE id = ?'),
    userByLogin: db.prepare('SELECT * FROM users WHERE login = ?'),
    userByAddress: db.prepare('SELECT * FROM users WHERE address = ?'),
    userByWkdHash: db.prepare('SELECT * FROM users WHERE wkd_hash = ?'),
    userByFingerprint: db.prepare('SELECT * FROM users WHERE key_fingerprint = ?'),
    setPassword: db.prepare('UPDATE users SET salt = ?, verifier = ?, kdf = ? WHERE id = ?'),
    setKey: db.prepare('UPDATE users SET public_key = ?, key_fingerprint = ? WHERE id = ?'),
    addToken: db.prepare('INSERT INTO tokens (hash, user_id, last_used_at) VALUES (?, ?, ?)'),
    getToken: db.prepare('SELECT user_id, last_used_at FROM tokens WHERE hash = ?'),
    useToken: db.prepare('UPDATE tokens SET last_used_at = ? WHERE hash = ?'),
    deleteToken: db.prepare('DELETE FROM tokens WHERE hash = ?'),
    deleteTokensOf: db.prepare('DELETE FROM tokens WHERE user_id = ? AND hash != ?'),
    setRecovery: db.prepare(
      'INSERT INTO recovery (user_id, record) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET record = excluded.record',
    ),
    createRecovery: db.prepare(
      'INSERT INTO recovery (user_id, record) VALUES (?, ?) ON CONFLICT(user_id) DO NOTHING',
    ),
    getRecovery: db.prepare('SELECT record FROM recovery WHERE user_id = ?'),
    pullAll: db.prepare(
      'SELECT id, deleted, ciphertext, hash, updated_at FROM sync_docs WHERE user_id = ? AND collection = ? ORDER BY updated_at, id LIMIT ?',
    ),
    pullAfter: db.prepare(
      `SELECT id, deleted, ciphertext, hash, updated_at FROM sync_docs
       WHERE user_id = ? AND collection = ? AND (updated_at > ? OR (updated_at = ? AND id > ?))
       ORDER BY updated_at, id LIMIT ?`,
    ),
    getDoc: db.prepare(
      'SELECT id, deleted, ciphertext, hash, updated_at FROM sync_docs WHERE user_id = ? AND collection = ? AND id = ?',
    ),
    putDoc: db.prepare(
      `INSERT INTO sync_docs (user_id, collection, id, deleted, ciphertext, hash, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(user_id, collection, id) DO UPDATE SET deleted = excluded.deleted,
         ciphertext = excluded.ciphertext, hash = excluded.hash, updated_at = excluded.updated_at`,
    ),
    clock: db.prepare('SELECT sync_clock FROM users WHERE id = ?'),
    setClock: db.prepare('UPDATE users SET sync_clock = ? WHERE id = ?'),
    hold: db.prepare(
      'INSERT INTO held_mail (id, user_id, path, sender, received_at) VALUES (?, ?, ?, ?, ?)',
    ),
    heldFor: db.prepare('SELECT * FROM held_mail WHERE user_id = ? ORDER BY received_at'),
    heldBefore: db.prepare('SELECT * FROM held_mail WHERE received_at < ? ORDER BY received_at'),
    release: db.prepare('DELETE FROM held_mail WHERE id = ?'),
    relayed: db.prepare(
      'SELECT 1 FROM relayed WHERE user_id = ? AND envelope_id = ? AND accepted_at >= ?',
    ),
    remember: db.prepare(
      'INSERT OR REPLACE INTO relayed (user_id, envelope_id, accepted_at) VALUES (?, ?, ?)',
    ),
    forgetRelayed: db.prepare('DELETE FROM relayed WHERE accepted_at < ?'),
    expireHandshakes: db.prepare('DELETE FROM handshakes WHERE expires_at < ?'),
    dropHandshake: db.prepare('DELETE FROM handshakes WHERE key = ?'),
    trimClientHandshakes: db.prepare(
      'DELETE FROM handshakes WHERE seq IN (SELECT seq FROM handshakes WHERE client = ? ORDER BY seq DESC LIMIT -1 OFFSET ?)',
    ),
    trimHandshakes: db.prepare(
      'DELETE FROM handshakes WHERE seq IN (SELECT seq FROM handshakes ORDER BY seq DESC LIMIT -1 OFFSET ?)',
    ),
    insertHandshake: db.prepare(
      'INSERT INTO handshakes (key, client, value, expires_at) VALUES (?, ?, ?, ?)',
    ),
    takeHandshake: db.prepare('DELETE FROM handshakes WHERE key = ? RETURNING value, expires_at'),
    readLimit: db.prepare('SELECT value FROM login_limits WHERE key = ? AND expires_at >= ?'),
    writeLimit: db.prepare(
      'INSERT OR REPLACE INTO login_limits (key, value, expires_at) VALUES (?, ?, ?)',
    ),
    deleteLimit: db.prepare('DELETE FROM login_limits WHERE key = ?'),
    expireLimits: db.prepare('DELETE FROM login_limits WHERE expires_at < ?'),
  };
  const addHandshake = db.transaction(
    (h: PendingHandshake, bounds: { perClient: number; max: number }, now: number) => {
      q.expireHandshakes.run(now);
      q.dropHandshake.run(h.key);
      // Room for the new one: the client's newest perClient - 1 stay.
      q.trimClientHandshakes.run(h.client, Math.max(0, bounds.perClient - 1));
      q.insertHandshake.run(h.key, h.client, h.value, h.expiresAt);
      q.trimHandshakes.run(bounds.max);
    },
  );
  const updateLimit = db.transaction((key: string, now: number, change: LimitChange) => {
    const current = (q.readLimit.get(key, now) as { value: string } | undefined)?.value ?? null;
    const next = change(current);
    if (next) q.writeLimit.run(key, next.value, next.expiresAt);
    else q.deleteLimit.run(key);
  });
  const rememberRelayed = db.transaction(
    (userId: string, envelopeId: string, now: number, forgetBefore: number) => {
      q.forgetRelayed.run(forgetBefore);
      q.remember.run(userId, envelopeId, now);
    },
  );

  // Each row is its own transaction (the contract: atomic per row); the per-user clock makes
  // `updatedAt` strictly increasing even when the wall clock stalls or steps back.
  const pushRow = db.transaction(
    (
      userId: string,
      collection: string,
      row: PushRow,
      now: number,
    ): { conflict?: StoredDoc; written?: StoredDoc } => {
      const stored = q.getDoc.get(userId, collection, row.newDocumentState.id) as
        DocRow | undefined;
      const conflict = conflictOf(row, stored ? toDoc(stored) : null);
      if (conflict) return { conflict };
      const clock = (q.clock.get(userId) as { sync_clock: number }).sync_clock;
      const updatedAt = nextUpdatedAt(now, clock);
      q.setClock.run(updatedAt, userId);
      const doc = row.newDocumentState;
      q.putDoc.run(
        userId,
        collection,
        doc.id,
        doc.deleted ? 1 : 0,
        doc.ciphertext,
        doc.hash,
        updatedAt,
      );
      return { written: { ...doc, updatedAt } };
    },
  );

  return {
    async createUser(u) {
      const createdAt = Date.now();
      q.insertUser.run(
        u.id,
        u.login,
        u.address,
        u.wkdHash,
        u.salt,
        u.verifier,
        kdfText(u.kdf ?? null),
        createdAt,
      );
      return {
        id: u.id,
        login: u.login,
        address: u.address,
        salt: u.salt,
        verifier: u.verifier,
        kdf: u.kdf ?? null,
        publicKey: null,
        keyFingerprint: null,
        createdAt,
      };
    },
    userById: async (id) => toUser(q.userById.get(id) as UserRow | undefined),
    userByLogin: async (login) => toUser(q.userByLogin.get(login) as UserRow | undefined),
    userByAddress: async (address) => toUser(q.userByAddress.get(address) as UserRow | undefined),
    userByWkdHash: async (hash) => toUser(q.userByWkdHash.get(hash) as UserRow | undefined),
    userByFingerprint: async (fpr) => toUser(q.userByFingerprint.get(fpr) as UserRow | undefined),
    setPassword: async (id, salt, verifier, kdf) =>
      void q.setPassword.run(salt, verifier, kdfText(kdf), id),
    setPublicKey: async (id, armored, fpr) => void q.setKey.run(armored, fpr, id),
    addToken: async (hash, userId, now) => void q.addToken.run(hash, userId, now),
    async touchToken(hash, now, idleMs) {
      const row = q.getToken.get(hash) as { user_id: string; last_used_at: number } | undefined;
      if (!row) return null;
      if (now - row.last_used_at > idleMs) {
        q.deleteToken.run(hash);
        return null;
      }
      q.useToken.run(now, hash);
      return { userId: row.user_id, lastUsedAt: now };
    },
    deleteToken: async (hash) => void q.deleteToken.run(hash),
    deleteTokensOf: async (userId, except = '') => void q.deleteTokensOf.run(userId, except),
    setRecovery: async (userId, record) => void q.setRecovery.run(userId, record),
    createRecovery: async (userId, record) => q.createRecovery.run(userId, record).changes === 1,
    getRecovery: async (userId) =>
      (q.getRecovery.get(userId) as { record: string } | undefined)?.record ?? null,
    async pull(userId, collection, after: Checkpoint | null, limit) {
      const rows = (
        after
          ? q.pullAfter.all(userId, collection, after.updatedAt, after.updatedAt, after.id, limit)
          : q.pullAll.all(userId, collection, limit)
      ) as DocRow[];
      return rows.map(toDoc);
    },
    async push(userId, collection, rows, now) {
      const conflicts: StoredDoc[] = [];
      const written: StoredDoc[] = [];
      for (const row of rows) {
        const result = pushRow(userId, collection, row, now);
        if (result.conflict) conflicts.push(result.conflict);
        if (result.written) written.push(result.written);
      }
      return { conflicts, written };
    },
    holdMessage: async (h) => void q.hold.run(h.id, h.userId, h.path, h.sender, h.receivedAt),
    heldFor: async (userId) => (q.heldFor.all(userId) as HeldRow[]).map(toHeld),
    heldBefore: async (time) => (q.heldBefore.all(time) as HeldRow[]).map(toHeld),
    releaseHeld: async (id) => void q.release.run(id),
    relayedBefore: async (userId, envelopeId, since) =>
      q.relayed.get(userId, envelopeId, since) !== undefined,
    rememberRelayed: async (userId, envelopeId, now, forgetBefore) =>
      void rememberRelayed(userId, envelopeId, now, forgetBefore),
    addHandshake: async (h, bounds, now) => void addHandshake(h, bounds, now),
    async takeHandshake(key, now) {
      const row = q.takeHandshake.get(key) as { value: string; expires_at: number } | undefined;
      return row && row.expires_at >= now ? row.value : null;
    },
    readLimit: async (key, now) =>
      (q.readLimit.get(key, now) as { value: string } | undefined)?.value ?? null,
    updateLimit: async (key, now, change) => void updateLimit(key, now, change),
    async forgetExpired(now) {
      q.expireHandshakes.run(now);
      q.expireLimits.run(now);
    },
    close: async () => void db.close(),
  };
}
