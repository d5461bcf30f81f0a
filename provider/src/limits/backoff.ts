/**
 * Growing delays after failed logins, per key (a login and client, or a client alone).
 * The first `free` failures cost nothing; each one after that makes the key wait
 * `firstDelayMs · 2^k`, at most `maxDelayMs`. A key is forgotten `forgetMs` after its last
 * failure, and a success clears it: nothing is ever locked for good, and a key that is not
 * guessing never waits (OpenSSH's and Dovecot's auth penalties work the same way).
 */
import { writeBounded } from './bounded.js';

export interface BackoffPolicy {
  free: number;
  firstDelayMs: number;
  maxDelayMs: number;
  forgetMs: number;
  /** Most keys remembered; past it the stalest are forgotten. */
  maxKeys: number;
}

interface Record {
  failures: number;
  lastFailure: number;
  /** No try before this time. */
  until: number;
}

export class FailureBackoff {
  private readonly records = new Map<string, Record>();

  constructor(private readonly policy: BackoffPolicy) {}

  /** How long `key` must still wait before its next try, in ms (0: it may try now). */
  waitMs(key: string, now: number): number {
    const record = this.live(key, now);
    return record ? Math.max(0, record.until - now) : 0;
  }

  fail(key: string, now: number): void {
    const failures = (this.live(key, now)?.failures ?? 0) + 1;
    const { free, firstDelayMs, maxDelayMs, maxKeys } = this.policy;
    const over = failures - free;
    // 2^k grows past any sensible maximum long before it overflows; cap the exponent anyway.
    const delay = over > 0 ? Math.min(maxDelayMs, firstDelayMs * 2 ** Math.min(over - 1, 40)) : 0;
    writeBounded(this.records, key, { failures, lastFailure: now, until: now + delay }, maxKeys);
  }

  succeed(key: string): void {
    this.records.delete(key);
  }

  private live(key: string, now: number): Record | undefined {
    const record = this.records.get(key);
    if (record && now - record.lastFailure > this.policy.forgetMs) {
      this.records.delete(key);
      return undefined;
    }
    return record;
  }
}
