/**
 * The encrypted local store of one account: the SQLCipher database (mail index, change
 * queue, and tables of other modules such as the RxDB storage), the encrypted blob store
 * for message bodies, and the storage secret that keys them (kept wrapped locally and as a
 * recovery record at the provider). See README.md for the threat model.
 */
export { AccountStore, openAccountStore } from './account.js';
export type { OpenAccountStoreOptions, StoreChangeOptions, UpstreamRef } from './account.js';
export { StoreMailboxBackend } from './backend.js';
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
  STORAGE_SECRET_BYTES,
  unwrapSecretLocally,
  wrapSecretLocally,
  type ScryptParams,
  type StorageKeys,
} from './secret.js';
