/**
 * Key management: the user's key, correspondents' keys with LEAP's validation levels and
 * replacement rules, discovery (local, Autocrypt, own provider for its own domain only,
 * WKD, the recipient's LEAP provider, a VKS keyserver), background refresh, and the
 * recipient status compose shows.
 */
export { keyFail, keyOk, type KeyError, type KeyErrorCode, type KeyResult } from './errors.js';
export {
  httpsGet,
  mapResolver,
  systemResolver,
  type Endpoint,
  type GetOptions,
  type HttpResponse,
  type Resolver,
} from './http.js';
export {
  KeyManager,
  normaliseAddress,
  SOURCE_LEVEL,
  type ConsiderOutcome,
  type KeyManagerOptions,
  type RecipientKeyStatus,
  type RecipientStatus,
} from './manager.js';
export {
  leapProviderFor,
  nicknymLookup,
  vksLookup,
  wkdHash,
  wkdLookup,
  zbase32,
  type NicknymTarget,
  type SourceAnswer,
} from './sources.js';
export {
  MemoryKeyStore,
  type ContactKeyRecord,
  type KeyHistoryEntry,
  type KeySource,
  type KeyStore,
  type OwnKeyRecord,
} from './store.js';
export {
  canUpgrade,
  isValidationLevel,
  levelValue,
  upgradeDecision,
  VALIDATION_LEVELS,
  type UpgradeFacts,
  type UpgradeReason,
  type ValidationLevel,
} from './validation.js';
