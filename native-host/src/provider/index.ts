/**
 * The host's side of a LEAP-style provider: bootstrap with CA pinning, SRP sign-up and
 * login with a self-renewing session token, and the service endpoints (IMAP, submission)
 * that sync and SMTP connect to.
 */
export {
  bootstrapProvider,
  caFingerprint,
  normaliseFingerprint,
  parseProviderJson,
  type BootstrapOptions,
  type ProviderInfo,
} from './bootstrap.js';
export { ProviderClientError, type ProviderErrorCode } from './errors.js';
export {
  checkLogin,
  ProviderSession,
  type ServiceEndpoint,
  type SessionOptions,
} from './session.js';
export type { LoginKey } from './srp-key.js';
