/**
 * Sync: the provider's mailbox (or a legacy IMAP account) into the encrypted local store,
 * through decryption and signature checks, and the user's local changes back, exactly once.
 * See README.md.
 */
export { connectUpstream, type UpstreamCredentials, type UpstreamEndpoint } from './credentials.js';
export { SyncEngine, type SyncOptions, type SyncProgress, type SyncReport } from './engine.js';
export { SyncError, type SyncErrorCode } from './errors.js';
export {
  processIncoming,
  type EncryptionStatus,
  type IncomingResult,
  type SyncKeys,
} from './incoming.js';
export { keyManagerKeys } from './keys.js';
