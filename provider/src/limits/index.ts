/**
 * What keeps guessing and login floods from locking anyone out: growing delays after failed
 * proofs per (login, client) and per client, a rate for starting logins per client, and the
 * bounded table of pending handshakes, all kept in the provider's store so that every
 * process of the provider counts the same and a proof may reach any process. A client is an address, or a session the caller
 * already holds for that login: a device renewing its token is counted apart from everyone
 * else, so no one else's failures slow it down (and its own failures still do).
 */
import type { Limits } from '../context.js';
import { ProviderError } from '../errors.js';
import type { ProviderStore } from '../store/index.js';
import { afterFailure, backoffWaitMs, type BackoffPolicy, type BackoffRecord } from './backoff.js';
import { tryAgainIn } from './client.js';
import { bucketFullAt, takeToken, type Bucket, type RatePolicy } from './rate.js';

export { clientAddress, tryAgainIn } from './client.js';
export { afterFailure, backoffWaitMs, type BackoffPolicy, type BackoffRecord } from './backoff.js';
export { takeToken, type Bucket, type RatePolicy } from './rate.js';

export interface Client {
  /** The address, or `session <token hash>` for a caller that holds a session for the login. */
  key: string;
  kind: 'address' | 'session';
}

/** What the limits keep in the store: every process of the provider counts the same. */
export type LimitStore = Pick<
  ProviderStore,
  'readLimit' | 'updateLimit' | 'addHandshake' | 'takeHandshake'
>;

/** Login handshakes waiting for their proof, in the store: a proof may reach any process. */
export interface PendingHandshakes<T> {
  add(client: string, key: string, value: T, now: number): Promise<void>;
  /** The value for `key`, once; undefined when unknown, replaced or expired. */
  take(key: string, now: number): Promise<T | undefined>;
}

export class LoginLimits<T> {
  readonly pending: PendingHandshakes<T>;
  private readonly perLogin: BackoffPolicy;
  private readonly perClient: BackoffPolicy;
  private readonly starts: RatePolicy;

  constructor(
    limits: Limits,
    private readonly now: () => number,
    private readonly store: LimitStore,
  ) {
    const delays = {
      firstDelayMs: limits.loginDelayFirstMs,
      maxDelayMs: limits.loginDelayMaxMs,
      forgetMs: limits.loginFailureMemoryMs,
    };
    this.perLogin = { ...delays, free: limits.loginFailuresFree };
    this.perClient = { ...delays, free: limits.clientFailuresFree };
    this.starts = { perMinute: limits.handshakesPerClientPerMinute };
    const bounds = {
      perClient: limits.pendingHandshakesPerClient,
      max: limits.pendingHandshakesMax,
    };
    this.pending = {
      add: (client, key, value, now) =>
        store.addHandshake(
          { key, client, value: JSON.stringify(value), expiresAt: now + limits.handshakeTtlMs },
          bounds,
          now,
        ),
      take: async (key, now) => {
        const value = await store.takeHandshake(key, now);
        return value === null ? undefined : (JSON.parse(value) as T);
      },
    };
  }

  /** Before a handshake (which costs a modular exponentiation): throws 429 when `client`
   * must wait, for its failures or for starting too many logins. */
  async checkStart(login: string, client: Client): Promise<void> {
    await this.checkProof(login, client);
    const now = this.now();
    let wait = 0;
    await this.store.updateLimit(`start\n${client.key}`, now, (current) => {
      const taken = takeToken(current ? (JSON.parse(current) as Bucket) : null, now, this.starts);
      wait = taken.waitMs;
      return {
        value: JSON.stringify(taken.bucket),
        expiresAt: bucketFullAt(taken.bucket, this.starts),
      };
    });
    if (wait > 0) throw tooMany(`Too many logins started from ${where(client)}`, wait, now);
  }

  /** Before checking a proof: throws 429 while `client` must wait after failures. */
  async checkProof(login: string, client: Client): Promise<void> {
    const now = this.now();
    const [pair, own] = await Promise.all([
      this.record(pairKey(login, client), now),
      this.record(clientKey(client), now),
    ]);
    const forLogin = backoffWaitMs(pair, now);
    const forClient = backoffWaitMs(own, now);
    if (forLogin > 0 || forClient > 0) {
      const what =
        forLogin >= forClient
          ? `Too many failed logins for this account from ${where(client)}`
          : `Too many failed logins from ${where(client)}`;
      throw tooMany(what, Math.max(forLogin, forClient), now);
    }
  }

  async failed(login: string, client: Client): Promise<void> {
    const now = this.now();
    await Promise.all([
      this.fail(pairKey(login, client), now, this.perLogin),
      this.fail(clientKey(client), now, this.perClient),
    ]);
  }

  /** A success clears the pair's record; the client's own (guesses at other logins) stays. */
  async succeeded(login: string, client: Client): Promise<void> {
    await this.store.updateLimit(pairKey(login, client), this.now(), () => null);
  }

  private async record(key: string, now: number): Promise<BackoffRecord | null> {
    const value = await this.store.readLimit(key, now);
    return value === null ? null : (JSON.parse(value) as BackoffRecord);
  }

  private fail(key: string, now: number, policy: BackoffPolicy): Promise<void> {
    return this.store.updateLimit(key, now, (current) => {
      const next = afterFailure(
        current ? (JSON.parse(current) as BackoffRecord) : null,
        now,
        policy,
      );
      // Forgotten `forgetMs` after the last failure, and never while a delay still runs.
      return {
        value: JSON.stringify(next),
        expiresAt: Math.max(next.until, now + policy.forgetMs),
      };
    });
  }
}

const pairKey = (login: string, client: Client) => `failed\n${login}\n${client.key}`;
const clientKey = (client: Client) => `failed-client\n${client.key}`;
const where = (client: Client) => (client.kind === 'session' ? 'this session' : 'your address');

function tooMany(what: string, waitMs: number, now: number): ProviderError {
  return new ProviderError('rate_limited', `${what}; try again ${tryAgainIn(waitMs, now)}`, 429, {
    'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
  });
}
