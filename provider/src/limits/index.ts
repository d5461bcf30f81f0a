/**
 * What keeps guessing and login floods from locking anyone out: growing delays after failed
 * proofs per (login, client) and per client, a rate for starting logins per client, and the
 * bounded table of pending handshakes. A client is an address, or a session the caller
 * already holds for that login: a device renewing its token is counted apart from everyone
 * else, so no one else's failures slow it down (and its own failures still do).
 */
import type { Limits } from '../context.js';
import { ProviderError } from '../errors.js';
import { FailureBackoff } from './backoff.js';
import { tryAgainIn } from './client.js';
import { PendingHandshakes } from './pending.js';
import { RateLimiter } from './rate.js';

export { clientAddress, tryAgainIn } from './client.js';
export { FailureBackoff, type BackoffPolicy } from './backoff.js';
export { PendingHandshakes, type PendingPolicy } from './pending.js';
export { RateLimiter, type RatePolicy } from './rate.js';

export interface Client {
  /** The address, or `session <token hash>` for a caller that holds a session for the login. */
  key: string;
  kind: 'address' | 'session';
}

/** Most clients remembered per table; the stalest are forgotten past it. */
const MAX_CLIENTS = 100_000;

export class LoginLimits<T> {
  readonly pending: PendingHandshakes<T>;
  private readonly perLogin: FailureBackoff;
  private readonly perClient: FailureBackoff;
  private readonly starts: RateLimiter;

  constructor(
    limits: Limits,
    private readonly now: () => number,
  ) {
    const delays = {
      firstDelayMs: limits.loginDelayFirstMs,
      maxDelayMs: limits.loginDelayMaxMs,
      forgetMs: limits.loginFailureMemoryMs,
      maxKeys: MAX_CLIENTS,
    };
    this.perLogin = new FailureBackoff({ ...delays, free: limits.loginFailuresFree });
    this.perClient = new FailureBackoff({ ...delays, free: limits.clientFailuresFree });
    this.starts = new RateLimiter({
      perMinute: limits.handshakesPerClientPerMinute,
      maxKeys: MAX_CLIENTS,
    });
    this.pending = new PendingHandshakes({
      perClient: limits.pendingHandshakesPerClient,
      max: limits.pendingHandshakesMax,
      ttlMs: limits.handshakeTtlMs,
    });
  }

  /** Before a handshake (which costs a modular exponentiation): throws 429 when `client`
   * must wait, for its failures or for starting too many logins. */
  checkStart(login: string, client: Client): void {
    this.checkProof(login, client);
    const now = this.now();
    const wait = this.starts.take(client.key, now);
    if (wait > 0) throw tooMany(`Too many logins started from ${where(client)}`, wait, now);
  }

  /** Before checking a proof: throws 429 while `client` must wait after failures. */
  checkProof(login: string, client: Client): void {
    const now = this.now();
    const forLogin = this.perLogin.waitMs(pairKey(login, client), now);
    const forClient = this.perClient.waitMs(client.key, now);
    if (forLogin > 0 || forClient > 0) {
      const what =
        forLogin >= forClient
          ? `Too many failed logins for this account from ${where(client)}`
          : `Too many failed logins from ${where(client)}`;
      throw tooMany(what, Math.max(forLogin, forClient), now);
    }
  }

  failed(login: string, client: Client): void {
    const now = this.now();
    this.perLogin.fail(pairKey(login, client), now);
    this.perClient.fail(client.key, now);
  }

  /** A success clears the pair's record; the client's own (guesses at other logins) stays. */
  succeeded(login: string, client: Client): void {
    this.perLogin.succeed(pairKey(login, client));
  }
}

const pairKey = (login: string, client: Client) => `${login}\n${client.key}`;
const where = (client: Client) => (client.kind === 'session' ? 'this session' : 'your address');

function tooMany(what: string, waitMs: number, now: number): ProviderError {
  return new ProviderError('rate_limited', `${what}; try again ${tryAgainIn(waitMs, now)}`, 429, {
    'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
  });
}
