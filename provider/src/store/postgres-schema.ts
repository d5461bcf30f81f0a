/**
 * The PostgreSQL schema, as numbered migrations: the one place it is defined. A database is
 * brought up to date on open, under an advisory lock, so several provider processes starting
 * at once apply each migration once. Never edit a released migration; add the next one.
 *
 * Times are milliseconds since the epoch in BIGINT (the store reads them back as numbers).
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the tables of the SQLite store, same names and meaning.
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL UNIQUE,
    wkd_hash TEXT NOT NULL,
    salt TEXT NOT NULL,
    verifier TEXT NOT NULL,
    kdf TEXT,
    public_key TEXT,
    key_fingerprint TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    sync_clock BIGINT NOT NULL DEFAULT 0
  );
  CREATE INDEX users_wkd ON users (wkd_hash);
  CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    last_used_at BIGINT NOT NULL
  );
  CREATE INDEX tokens_user ON tokens (user_id);
  CREATE TABLE recovery (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    record TEXT NOT NULL
  );
  CREATE TABLE sync_docs (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    collection TEXT NOT NULL,
    -- Binary order, as in SQLite: a pull's checkpoint compares ids whatever the locale.
    id TEXT COLLATE "C" NOT NULL,
    deleted BOOLEAN NOT NULL,
    ciphertext TEXT NOT NULL,
    hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, collection, id)
  );
  CREATE INDEX sync_docs_order ON sync_docs (user_id, collection, updated_at, id);
  CREATE TABLE held_mail (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    sender TEXT NOT NULL,
    received_at BIGINT NOT NULL
  );
  CREATE INDEX held_mail_user ON held_mail (user_id, received_at);
  CREATE TABLE relayed (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    envelope_id TEXT NOT NULL,
    accepted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, envelope_id)
  );
  CREATE INDEX relayed_age ON relayed (accepted_at);
  `,
  // 2: what was per process before: login handshakes waiting for their proof, and the
  // login limits' records (failure delays, rate buckets), each with its expiry.
  `
  CREATE TABLE handshakes (
    seq BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    client TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX handshakes_client ON handshakes (client, seq);
  CREATE INDEX handshakes_expiry ON handshakes (expires_at);
  CREATE TABLE login_limits (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX login_limits_expiry ON login_limits (expires_at);
  `,
];
