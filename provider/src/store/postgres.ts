/**
 * The PostgreSQL implementation of the provider's data layer, for several API, MX and relay
 * processes sharing one database. Same behaviour as the SQLite store; where SQLite relies on
 * its single writer, this one takes row locks:
 * - a push locks the user's row (`FOR UPDATE`) for each document it applies, so the sync
 *   clock stays strictly increasing and the "assumed state" check cannot race another
 *   process writing the same document;
 * - the schema comes from numbered migrations (postgres-schema.ts), applied under an
 *   advisory lock.
 */
import pg from 'pg';
import { MIGRATIONS } from './postgres-schema.js';
import {
  conflictOf,
  kdfText,
  nextUpdatedAt,
  toHeld,
  toUser,
  type HeldRow,
  type UserRow,
} from './rows.js';
import type { ProviderStore, PushRow, StoredDoc } from './types.js';

/** BIGINT (int8) columns hold milliseconds, well inside a double's exact range. */
const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Any key for pg_advisory_xact_lock, the same in every process: "LBmg". */
const MIGRATION_LOCK = 0x4c426d67;

interface DocRow {
  id: string;
  deleted: boolean;
  ciphertext: string;
  hash: string;
  updated_at: number;
}

const toDoc = (r: DocRow): StoredDoc => ({
  id: r.id,
  deleted: r.deleted,
  ciphertext: r.ciphertext,
  hash: r.hash,
  updatedAt: r.updated_at,
});

const DOC_COLUMNS = 'id, deleted, ciphertext, hash, updated_at';

/** Brings the database to the newest schema; safe when several processes start together. */
async function migrate(pool: pg.Pool): Promise<void> {
  await transaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
    );
    const done = await c.query<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(done.rows.map((r) => r.version));
    for (const [i, sql] of MIGRATIONS.entries()) {
      const version = i + 1;
      if (applied.has(version)) continue;
      await c.query(sql);
      await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
        version,
        Date.now(),
      ]);
    }
  });
}

async function transaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export interface PostgresStoreOptions {
  /** Connections this process keeps open at most (pg's pool; default 10). */
  maxConnections?: number;
}

/** Opens (and migrates) the store at `url`, e.g. `postgres://leapbird@127.0.0.1:5432/mail`. */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<ProviderStore> {
  const pool = new pg.Pool({ connectionString: url, max: options.maxConnections ?? 10, types });
  // An idle connection the server dropped must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot open the PostgreSQL database: ${(err as Error).message}`);
  }

  const one = async <R extends pg.QueryResultRow>(sql: string, params: unknown[]) =>
    (await pool.query<R>(sql, params)).rows[0];
  const userBy = async (column: string, value: string) =>
    toUser(await one<UserRow>(`SELECT * FROM users WHERE ${column} = $1`, [value]));

  // Each row in its own transaction (the contract: atomic per row).
  const pushRow = (
    userId: string,
    collection: string,
    row: PushRow,
    now: number,
  ): Promise<{ conflict?: StoredDoc; written?: StoredDoc }> =>
    transaction(pool, async (c) => {
      // The user's row is the lock for all of the user's documents: pushes of one user from
      // any process apply one at a time, each seeing what the one before committed.
      const locked = await c.query<{ sync_clock: number }>(
        'SELECT sync_clock FROM users WHERE id = $1 FOR UPDATE',
        [userId],
      );
      const clock = locked.rows[0]?.sync_clock;
      if (clock === undefined) throw new Error('push for an unknown user');
      const stored = (
        await c.query<DocRow>(
          `SELECT ${DOC_COLUMNS} FROM sync_docs WHERE user_id = $1 AND collection = $2 AND id = $3`,
          [userId, collection, row.newDocumentState.id],
        )
      ).rows[0];
      const conflict = conflictOf(row, stored ? toDoc(stored) : null);
      if (conflict) return { conflict };
      const updatedAt = nextUpdatedAt(now, clock);
      await c.query('UPDATE users SET sync_clock = $1 WHERE id = $2', [updatedAt, userId]);
      const doc = row.newDocumentState;
      await c.query(
        `INSERT INTO sync_docs (user_id, collection, id, deleted, ciphertext, hash, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id, collection, id) DO UPDATE SET deleted = excluded.deleted,
           ciphertext = excluded.ciphertext, hash = excluded.hash, updated_at = excluded.updated_at`,
        [userId, collection, doc.id, doc.deleted, doc.ciphertext, doc.hash, updatedAt],
      );
      return { written: { ...doc, updatedAt } };
    });

  return {
    async createUser(u) {
      const createdAt = Date.now();
      await pool.query(
        'INSERT INTO users (id, login, address, wkd_hash, salt, verifier, kdf, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [
          u.id,
          u.login,
          u.address,
          u.wkdHash,
          u.salt,
          u.verifier,
          kdfText(u.kdf ?? null),
          createdAt,
        ],
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
    userById: (id) => userBy('id', id),
    userByLogin: (login) => userBy('login', login),
    userByAddress: (address) => userBy('address', address),
    userByWkdHash: (hash) => userBy('wkd_hash', hash),
    userByFingerprint: (fpr) => userBy('key_fingerprint', fpr),
    async setPassword(id, salt, verifier, kdf) {
      await pool.query('UPDATE users SET salt = $1, verifier = $2, kdf = $3 WHERE id = $4', [
        salt,
        verifier,
        kdfText(kdf),
        id,
      ]);
    },
    async setPublicKey(id, armored, fpr) {
      await pool.query('UPDATE users SET public_key = $1, key_fingerprint = $2 WHERE id = $3', [
        armored,
        fpr,
        id,
      ]);
    },
    async addToken(hash, userId, now) {
      await pool.query('INSERT INTO tokens (hash, user_id, last_used_at) VALUES ($1, $2, $3)', [
        hash,
        userId,
        now,
      ]);
    },
    async touchToken(hash, now, idleMs) {
      // One statement marks a live token used, so two processes cannot disagree about it.
      const used = await one<{ user_id: string }>(
        'UPDATE tokens SET last_used_at = $2 WHERE hash = $1 AND $2 - last_used_at <= $3 RETURNING user_id',
        [hash, now, idleMs],
      );
      if (used) return { userId: used.user_id, lastUsedAt: now };
      // Unknown, or idle too long: an idle one goes.
      await pool.query('DELETE FROM tokens WHERE hash = $1', [hash]);
      return null;
    },
    async deleteToken(hash) {
      await pool.query('DELETE FROM tokens WHERE hash = $1', [hash]);
    },
    async deleteTokensOf(userId, except = '') {
      await pool.query('DELETE FROM tokens WHERE user_id = $1 AND hash <> $2', [userId, except]);
    },
    async setRecovery(userId, record) {
      await pool.query(
        'INSERT INTO recovery (user_id, record) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET record = excluded.record',
        [userId, record],
      );
    },
    async createRecovery(userId, record) {
      const result = await pool.query(
        'INSERT INTO recovery (user_id, record) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING',
        [userId, record],
      );
      return result.rowCount === 1;
    },
    getRecovery: async (userId) =>
      (await one<{ record: string }>('SELECT record FROM recovery WHERE user_id = $1', [userId]))
        ?.record ?? null,
    async pull(userId, collection, after, limit) {
      const result = after
        ? await pool.query<DocRow>(
            `SELECT ${DOC_COLUMNS} FROM sync_docs
             WHERE user_id = $1 AND collection = $2 AND (updated_at > $3 OR (updated_at = $3 AND id > $4))
             ORDER BY updated_at, id LIMIT $5`,
            [userId, collection, after.updatedAt, after.id, limit],
          )
        : await pool.query<DocRow>(
            `SELECT ${DOC_COLUMNS} FROM sync_docs WHERE user_id = $1 AND collection = $2
             ORDER BY updated_at, id LIMIT $3`,
            [userId, collection, limit],
          );
      return result.rows.map(toDoc);
    },
    async push(userId, collection, rows, now) {
      const conflicts: StoredDoc[] = [];
      const written: StoredDoc[] = [];
      for (const row of rows) {
        const result = await pushRow(userId, collection, row, now);
        if (result.conflict) conflicts.push(result.conflict);
        if (result.written) written.push(result.written);
      }
      return { conflicts, written };
    },
    async holdMessage(h) {
      await pool.query(
        'INSERT INTO held_mail (id, user_id, path, sender, received_at) VALUES ($1, $2, $3, $4, $5)',
        [h.id, h.userId, h.path, h.sender, h.receivedAt],
      );
    },
    heldFor: async (userId) =>
      (
        await pool.query<HeldRow>(
          'SELECT * FROM held_mail WHERE user_id = $1 ORDER BY received_at',
          [userId],
        )
      ).rows.map(toHeld),
    heldBefore: async (time) =>
      (
        await pool.query<HeldRow>(
          'SELECT * FROM held_mail WHERE received_at < $1 ORDER BY received_at',
          [time],
        )
      ).rows.map(toHeld),
    async releaseHeld(id) {
      await pool.query('DELETE FROM held_mail WHERE id = $1', [id]);
    },
    relayedBefore: async (userId, envelopeId, since) =>
      (await one(
        'SELECT 1 FROM relayed WHERE user_id = $1 AND envelope_id = $2 AND accepted_at >= $3',
        [userId, envelopeId, since],
      )) !== undefined,
    async rememberRelayed(userId, envelopeId, now, forgetBefore) {
      await transaction(pool, async (c) => {
        await c.query('DELETE FROM relayed WHERE accepted_at < $1', [forgetBefore]);
        await c.query(
          `INSERT INTO relayed (user_id, envelope_id, accepted_at) VALUES ($1, $2, $3)
           ON CONFLICT (user_id, envelope_id) DO UPDATE SET accepted_at = excluded.accepted_at`,
          [userId, envelopeId, now],
        );
      });
    },
    async addHandshake(h, bounds, now) {
      await transaction(pool, async (c) => {
        // One client's handshakes are bounded one add at a time, whichever process adds.
        await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [h.client]);
        await c.query('DELETE FROM handshakes WHERE expires_at < $1', [now]);
        await c.query('DELETE FROM handshakes WHERE key = $1', [h.key]);
        await c.query(
          'DELETE FROM handshakes WHERE seq IN (SELECT seq FROM handshakes WHERE client = $1 ORDER BY seq DESC OFFSET $2)',
          [h.client, Math.max(0, bounds.perClient - 1)],
        );
        await c.query(
          'INSERT INTO handshakes (key, client, value, expires_at) VALUES ($1, $2, $3, $4)',
          [h.key, h.client, h.value, h.expiresAt],
        );
        await c.query(
          'DELETE FROM handshakes WHERE seq IN (SELECT seq FROM handshakes ORDER BY seq DESC OFFSET $1)',
          [bounds.max],
        );
      });
    },
    async takeHandshake(key, now) {
      // DELETE … RETURNING: of two processes taking the same handshake, one gets it.
      const row = await one<{ value: string; expires_at: number }>(
        'DELETE FROM handshakes WHERE key = $1 RETURNING value, expires_at',
        [key],
      );
      return row && row.expires_at >= now ? row.value : null;
    },
    readLimit: async (key, now) =>
      (
        await one<{ value: string }>(
          'SELECT value FROM login_limits WHERE key = $1 AND expires_at >= $2',
          [key, now],
        )
      )?.value ?? null,
    async updateLimit(key, now, change) {
      await transaction(pool, async (c) => {
        // The key's lock, also when it has no row yet: concurrent failures all count.
        await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 1))', [key]);
        const current = (
          await c.query<{ value: string }>(
            'SELECT value FROM login_limits WHERE key = $1 AND expires_at >= $2',
            [key, now],
          )
        ).rows[0]?.value;
        const next = change(current ?? null);
        if (next)
          await c.query(
            `INSERT INTO login_limits (key, value, expires_at) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
            [key, next.value, next.expiresAt],
          );
        else await c.query('DELETE FROM login_limits WHERE key = $1', [key]);
      });
    },
    async forgetExpired(now) {
      await pool.query('DELETE FROM handshakes WHERE expires_at < $1', [now]);
      await pool.query('DELETE FROM login_limits WHERE expires_at < $1', [now]);
    },
    close: () => pool.end(),
  };
}
