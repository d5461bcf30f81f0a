/**
 * What the API, the MX and the relay share inside one provider process.
 */
import type { Logger } from '../../native-host/src/log/index.js';
import type { CertificateAuthority } from './ca/index.js';
import type { Resolver } from './resolver/index.js';
import type { ProviderStore, SyncEvents, UserRecord } from './store/index.js';

export type { SyncEvent } from './store/index.js';

export interface Limits {
  /**
   * Failed logins: a (login, client) pair may fail `loginFailuresFree` times, a client
   * `clientFailuresFree` times across all logins; each failure after that makes it wait
   * `loginDelayFirstMs`, doubling, at most `loginDelayMaxMs`. A record is forgotten
   * `loginFailureMemoryMs` after its last failure. A client is an address, or a session the
   * caller holds for that login (a device renewing its token), never the account alone.
   */
  loginFailuresFree: number;
  clientFailuresFree: number;
  loginDelayFirstMs: number;
  loginDelayMaxMs: number;
  loginFailureMemoryMs: number;
  /** Logins a client may start per minute (each costs a modular exponentiation). */
  handshakesPerClientPerMinute: number;
  /** Handshakes waiting for their proof: per client, in all, and how long each waits. */
  pendingHandshakesPerClient: number;
  pendingHandshakesMax: number;
  handshakeTtlMs: number;
  /**
   * Reverse proxies in front of the API whose X-Forwarded-For names the client. None by
   * default: then the TCP peer is the client, whatever a request claims.
   */
  trustedProxies: string[];
  /** Idle time after which a session token expires. */
  tokenIdleMs: number;
  /** Largest message the MX and the relay accept. */
  maxMessageBytes: number;
  /** Mail for a user without a key is bounced after this long. */
  holdMs: number;
  /**
   * How long the submission relay remembers a transaction's envelope id (RFC 3461 ENVID),
   * so that a client resending after a lost reply is answered without sending again.
   * Longer than any client retries (the host's outbox gives up after 3 days).
   */
  relayEnvelopeIdMs: number;
}

export interface PublicEndpoints {
  host: string;
  apiPort: number;
  imapPort: number;
  submissionPort: number;
  mxPort: number;
}

export interface ProviderContext {
  domain: string;
  name: string;
  allowRegistration: boolean;
  store: ProviderStore;
  ca: CertificateAuthority;
  resolver: Resolver;
  limits: Limits;
  /** Stable secret in the data directory: fake SRP salts and the internal introspection
   * password are derived from it. */
  secret: Buffer;
  endpoints: () => PublicEndpoints;
  /** Sync changes for the live streams, from this process and (PostgreSQL) the others. */
  syncEvents: SyncEvents;
  /** The time in ms; replaceable so tests can move it instead of sleeping. */
  now: () => number;
  /** Structured log in the data directory; never given secrets or message content. */
  log: Logger;
  /** Called after a user uploads a key (the MX delivers mail held for them). */
  onKeyUploaded: (user: UserRecord) => void;
}
