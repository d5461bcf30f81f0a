/**
 * The outbox: durable queue of accepted messages, relay to the provider's submission
 * server with retry and backoff, Sent copy and bounce through the account store.
 */
export {
  DEFAULT_RETRY,
  Outbox,
  type OutboxEntry,
  type OutboxMessageStatus,
  type OutboxOptions,
  type Protection,
  type RetryPolicy,
} from './outbox.js';
export {
  relayMessage,
  type RelayEndpoint,
  type RelayEnvelope,
  type RelayOutcome,
} from './relay.js';
