import type { PasswordKdf } from '../../../shared/src/password-kdf.js';

/**
 * The provider's data layer: everything the API, the MX and the relay keep, behind one
 * interface. The embedded default is SQLite (`sqlite.ts`); a replicated SQL database can
 * implement the same interface for several API/MX processes (see provider/README.md).
 */

export interface UserRecord {
  id: string;
  login: string;
  address: string;
  salt: string;
  verifier: string;
  /** How the client derives SRP's x from the password, handed out with the salt; null for
   * accounts made with the SRP library's fast hash (the client moves them at login). */
  kdf: PasswordKdf | null;
  publicKey: string | null;
  keyFingerprint: string | null;
  createdAt: number;
}

export interface TokenRecord {
  userId: string;
  lastUsedAt: number;
}

/** A sync document as the client sends it; `ciphertext` and `hash` are opaque. */
export interface WireDoc {
  id: string;
  deleted: boolean;
  ciphertext: string;
  hash: string;
}

export interface StoredDoc extends WireDoc {
  updatedAt: number;
}

export interface Checkpoint {
  id: string;
  updatedAt: number;
}

export interface PushRow {
  assumedMasterState: WireDoc | null;
  newDocumentState: WireDoc;
}

/** A login handshake waiting for its proof: the SRP server state, opaque to the store. */
export interface PendingHandshake {
  /** Login and the client's A: what the proof names. */
  key: string;
  /** Whose it is (an address or a session), for the per-client bound. */
  client: string;
  value: string;
  expiresAt: number;
}

/** A login-limit record's next state, computed by the limits module from the current one;
 * null forgets it. */
export type LimitChange = (current: string | null) => { value: string; expiresAt: number } | null;

export interface HeldMessage {
  id: string;
  userId: string;
  path: string;
  sender: string;
  receivedAt: number;
}

/**
 * Every method returns a promise: the embedded SQLite store answers at once, a networked
 * database (PostgreSQL) does not, and callers must not care which one they have.
 */
export interface ProviderStore {
  /** `wkdHash`: WKD's hashed local part, so key lookups by WKD need no scan. */
  /** `kdf` absent: the SRP library's fast hash. */
  createUser(
    user: Omit<UserRecord, 'publicKey' | 'keyFingerprint' | 'createdAt' | 'kdf'> & {
      wkdHash: string;
      kdf?: PasswordKdf | null;
    },
  ): Promise<UserRecord>;
  userByWkdHash(hash: string): Promise<UserRecord | null>;
  userById(id: string): Promise<UserRecord | null>;
  userByLogin(login: string): Promise<UserRecord | null>;
  userByAddress(address: string): Promise<UserRecord | null>;
  userByFingerprint(fingerprint: string): Promise<UserRecord | null>;
  setPassword(
    userId: string,
    salt: string,
    verifier: string,
    kdf: PasswordKdf | null,
  ): Promise<void>;
  setPublicKey(userId: string, armored: string, fingerprint: string): Promise<void>;

  /** Tokens are stored as SHA-512 hashes; the plain token never reaches the store. */
  addToken(tokenHash: string, userId: string, now: number): Promise<void>;
  /** The token's owner if it was used within `idleMs`, and marks it used now. */
  touchToken(tokenHash: string, now: number, idleMs: number): Promise<TokenRecord | null>;
  deleteToken(tokenHash: string): Promise<void>;
  deleteTokensOf(userId: string, except?: string): Promise<void>;

  setRecovery(userId: string, record: string): Promise<void>;
  /** Stores the record only if the account has none yet; false when it already had one. */
  createRecovery(userId: string, record: string): Promise<boolean>;
  getRecovery(userId: string): Promise<string | null>;

  pull(
    userId: string,
    collection: string,
    after: Checkpoint | null,
    limit: number,
  ): Promise<StoredDoc[]>;
  /** Applies each row atomically; returns the stored state of the rows that conflicted and
   * the documents written, with their new `updatedAt`. */
  push(
    userId: string,
    collection: string,
    rows: PushRow[],
    now: number,
  ): Promise<{ conflicts: StoredDoc[]; written: StoredDoc[] }>;

  holdMessage(held: HeldMessage): Promise<void>;
  heldFor(userId: string): Promise<HeldMessage[]>;
  heldBefore(time: number): Promise<HeldMessage[]>;
  releaseHeld(id: string): Promise<void>;

  /**
   * Submission relay, exactly once: was a transaction of this user with this envelope id
   * (RFC 3461 ENVID) accepted at or after `since`?
   */
  relayedBefore(userId: string, envelopeId: string, since: number): Promise<boolean>;
  /** Records an accepted relay transaction and forgets those accepted before `forgetBefore`. */
  rememberRelayed(
    userId: string,
    envelopeId: string,
    now: number,
    forgetBefore: number,
  ): Promise<void>;

  /**
   * Login handshakes, shared by every process: one begun on one process completes on
   * another. Adding replaces one with the same key, then drops the client's oldest beyond
   * `perClient` and the oldest of all beyond `max`.
   */
  addHandshake(
    handshake: PendingHandshake,
    bounds: { perClient: number; max: number },
    now: number,
  ): Promise<void>;
  /** The handshake's value, once (it is removed); null when unknown, replaced or expired. */
  takeHandshake(key: string, now: number): Promise<string | null>;

  /** Login-limit records (failure delays, rate buckets) by key; expired ones read as null. */
  readLimit(key: string, now: number): Promise<string | null>;
  /** Reads, changes and writes one record atomically, also against other processes. */
  updateLimit(key: string, now: number, change: LimitChange): Promise<void>;
  /** Deletes expired handshakes and limit records (the hourly sweep). */
  forgetExpired(now: number): Promise<void>;

  close(): Promise<void>;
}
