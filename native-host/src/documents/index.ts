/**
 * The documents of an account that sync between the user's devices: own key pairs (private
 * key included), contacts' keys with validation level and history, and settings. RxDB over the
 * account's encrypted SQLite database, replicated end-to-end encrypted to the provider.
 */
export {
  openAccountDocuments,
  type AccountDocuments,
  type DocumentsSession,
  type OpenAccountDocumentsOptions,
  type SyncProblem,
} from './account.js';
export { COLLECTIONS } from './records.js';
export { DocumentsError, type DocumentsErrorCode } from './errors.js';
export { SyncedKeyStore } from './key-store.js';
export { DEFAULT_SETTINGS, SyncedSettings, type AccountSettings } from './settings.js';
