/**
 * The encrypted local store of one account: the SQLCipher database (mail index, change
 * queue, and tables of other modules such as the RxDB storage, through
 * `store.database.raw` and `store.database.registerMigrations`), the encrypted blob store
 * for message bodies, and the storage secret that keys them.
 *
 * Threat model (details in README.md and secret.ts):
 * - a copy of the data directory alone reveals nothing but sizes and counts: database pages
 *   and WAL are SQLCipher-encrypted, blobs are AES-256-GCM in authenticated chunks under
 *   keyed-hash names, SQLite temporary data stays in memory;
 * - tampering with it is detected (GCM tags, chunk positions, last-chunk flag and blob id
 *   bound) and reported, never served as wrong bytes;
 * - the storage secret is on disk only wrapped by the add-on's session key (no OS keyring:
 *   none on the target machines, and it would guard against the same attacker); whoever
 *   holds the user's running session can read the mail, as with any mail client;
 * - the provider holds only the recovery record, the secret wrapped by scrypt(password)
 *   with bounded, authenticated parameters: it can at best guess passwords offline.
 */
export { AccountStore, openAccountStore } from './account.js';
export type {
  OpenAccountStoreOptions,
  StoreChangeOptions,
  UpstreamAppendRequest,
  UpstreamRef,
} from './account.js';
export { StoreMailboxBackend } from './backend.js';
export type { IndexProgress } from './text-index.js';
export { BlobStore, DEFAULT_CHUNK_SIZE } from './blobs.js';
export type { BlobSource, ByteRange, PutResult } from './blobs.js';
export { openAccountDatabase } from './database.js';
export type { AccountDatabase, Migration, SqliteDatabase } from './database.js';
export { StoreError, isStoreError, type StoreErrorCode } from './errors.js';
export { loadStorageSecret, saveStorageSecret } from './local-secret.js';
export { ChangeQueue, type QueuedChange } from './queue.js';
export {
  createRecoveryRecord,
  DEFAULT_SCRYPT,
  deriveStorageKeys,
  generateStorageSecret,
  openRecoveryRecord,
  rewrapRecoveryRecord,
  scryptKey,
  STORAGE_SECRET_BYTES,
  unwrapSecretLocally,
  wrapSecretLocally,
  type ScryptParams,
  type StorageKeys,
} from './secret.js';
export { writeFileDurably } from './fs-durable.js';
