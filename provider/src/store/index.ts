export type {
  Checkpoint,
  HeldMessage,
  LimitChange,
  PendingHandshake,
  ProviderStore,
  PushRow,
  StoredDoc,
  TokenRecord,
  UserRecord,
  WireDoc,
} from './types.js';
export { openSqliteStore } from './sqlite.js';
export { openPostgresStore, type PostgresStoreOptions } from './postgres.js';
export { openStore, isPostgresUrl } from './open.js';
export {
  localSyncEvents,
  postgresSyncEvents,
  type SyncEvent,
  type SyncEvents,
  type SyncSubscriber,
} from './events.js';
