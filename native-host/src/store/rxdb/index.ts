/**
 * Synced documents (own keys, contacts' keys, settings): RxDB over the account's encrypted
 * SQLite database, replicated end-to-end encrypted to the provider's sync store.
 */
export { RxdbStoreError } from './errors.js';
export {
  getRxStorageSqlite,
  SQLITE_RX_STORAGE_NAME,
  type SqliteInstanceCreationOptions,
  type SqliteRxStorage,
  type SqliteRxStorageSettings,
  type SqliteStorageInternals,
} from './sqlite-storage.js';
export {
  createSyncedDatabase,
  MAX_SYNCED_DOC_BYTES,
  type SyncedCollectionSpec,
  type SyncedDatabaseOptions,
} from './database.js';
export { SyncKeys, type WireDoc } from './sync-keys.js';
export {
  createSyncStoreClient,
  type PullResult,
  type PushRow,
  type StoredWireDoc,
  type SyncCheckpoint,
  type SyncStoreClient,
  type SyncStoreClientOptions,
} from './sync-client.js';
export {
  encryptedConflictHandler,
  replicateEncrypted,
  RevisionLedger,
  type EncryptedReplication,
  type EncryptedReplicationOptions,
} from './replication.js';
