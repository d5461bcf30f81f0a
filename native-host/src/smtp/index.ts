/**
 * The local submission server: Thunderbird sends here; each message is decided (encrypt +
 * sign, sign only, pass through, or refuse), protected by `crypto/`, queued durably, and
 * relayed by `smtp/outbox` to the provider.
 */
export { smtpError, type SmtpError, type SmtpErrorCode } from './errors.js';
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  startSmtpServer,
  type RunningSmtpServer,
  type SmtpServerOptions,
} from './server.js';
export {
  submitMessage,
  type Envelope,
  type RecipientKeys,
  type SubmissionContext,
} from './submission.js';
export { decideProtection, type DeliveryPlan, type Protection, type Recipient } from './policy.js';
export {
  DEFAULT_RETRY,
  Outbox,
  relayMessage,
  type OutboxEntry,
  type OutboxMessageStatus,
  type OutboxOptions,
  type RelayEndpoint,
  type RelayOutcome,
  type RetryPolicy,
} from './outbox/index.js';
