/**
 * Growing delays after failed logins, per key (a login and client, or a client alone).
 * The first `free` failures cost nothing; each one after that makes the key wait
 * `firstDelayMs · 2^k`, at most `maxDelayMs`. A key is forgotten `forgetMs` after its last
 * failure, and a success clears it: nothing is ever locked for good, and a key that is not
 * guessing never waits (OpenSSH's and Dovecot's auth penalties work the same way).
 *
 * Pure: the records live in the provider's store, so that every process counts the same.
 */
export interface BackoffPolicy {
  free: number;
  firstDelayMs: number;
  maxDelayMs: number;
  forgetMs: number;
}

export interface BackoffRecord {
  failures: number;
  lastFailure: number;
  /** No try before this time. */
  until: number;
}

/** How long a key with `record` must still wait before its next try, in ms (0: now). */
export function backoffWaitMs(record: BackoffRecord | null, now: number): number {
  return record ? Math.max(0, record.until - now) : 0;
}

/** The record after one more failure at `now`. */
export function afterFailure(
  record: BackoffRecord | null,
  now: number,
  policy: BackoffPolicy,
): BackoffRecord {
  const live = record && now - record.lastFailure <= policy.forgetMs ? record : null;
  const failures = (live?.failures ?? 0) + 1;
  const over = failures - policy.free;
  // 2^k grows past any sensible maximum long before it overflows; cap the exponent anyway.
  const delay =
    over > 0 ? Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.min(over - 1, 40)) : 0;
  return { failures, lastFailure: now, until: now + delay };
}
