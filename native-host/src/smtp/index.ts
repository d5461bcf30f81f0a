/**
 * The local submission server: Thunderbird sends here; each message is decided (encrypt +
 * sign, sign only, pass through, or refuse), protected by `crypto/`, queued durably, and
 * relayed by `smtp/outbox` to the provider. See README.md.
 */
export { type SmtpError, type SmtpErrorCode } from './errors.js';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  startSmtpServer,
  type RunningSmtpServer,
  type SmtpServerOptions,
} from './server.js';
export { type RecipientKeys } from './submission.js';
export {
  DEFAULT_RETRY,
  Outbox,
  relayMessage,
  type OutboxMessageStatus,
  type OutboxOptions,
  type Protection,
  type RelayEndpoint,
  type RelayEnvelope,
  type RelayOutcome,
  type RetryPolicy,
} from './outbox/index.js';
