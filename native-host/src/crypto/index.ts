/**
 * OpenPGP for the host: the user's key (generation, renewal), keys from elsewhere
 * (inspection, certification), Autocrypt headers, and RFC 3156 PGP/MIME both ways.
 * Every function that meets outside input returns a Result instead of throwing.
 */
export { fail, ok, type CryptoError, type CryptoErrorCode, type Result } from './errors.js';
export {
  certifyKey,
  forgetParsedKeys,
  generateOwnKey,
  inspectKey,
  inspectKeys,
  isCertifiedBy,
  KEY_VALIDITY_DAYS,
  needsRenewal,
  normaliseFingerprint,
  renewOwnKey,
  RENEWAL_WINDOW_DAYS,
  type KeyInfo,
  type OwnKey,
} from './keys.js';
export {
  autocryptHeaderFor,
  formatAutocryptHeader,
  parseAutocryptHeader,
  type AutocryptHeader,
  type PreferEncrypt,
} from './autocrypt.js';
export {
  encryptMessage,
  encryptMessageStream,
  NEUTRAL_SUBJECT,
  signMessage,
  signMessageStream,
  type EncryptOptions,
  type SenderOptions,
} from './outgoing.js';
export {
  isWholeOpenPGPMessage,
  keysToLearn,
  looksEncrypted,
  openMessage,
  type EncryptionKind,
  type HarvestedKey,
  type OpenedMessage,
  type OpenOptions,
  type SignatureStatus,
  type Verification,
} from './incoming.js';
export { isSealedFor, isStorageLayer, openStorageLayer, sealForStorage } from './storage.js';
