/**
 * A token bucket per key: `perMinute` tries a minute, in bursts of at most `perMinute`.
 * Used for starting logins, each of which costs the provider a modular exponentiation.
 */
import { writeBounded } from './bounded.js';

export interface RatePolicy {
  perMinute: number;
  maxKeys: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly policy: RatePolicy) {}

  /** Takes one try for `key`: 0 when allowed, else the ms until one is available. */
  take(key: string, now: number): number {
    const { perMinute, maxKeys } = this.policy;
    const msPerToken = 60_000 / perMinute;
    const previous = this.buckets.get(key);
    const tokens = previous
      ? Math.min(perMinute, previous.tokens + Math.max(0, now - previous.at) / msPerToken)
      : perMinute;
    if (tokens < 1) {
      writeBounded(this.buckets, key, { tokens, at: now }, maxKeys);
      return Math.ceil((1 - tokens) * msPerToken);
    }
    writeBounded(this.buckets, key, { tokens: tokens - 1, at: now }, maxKeys);
    return 0;
  }
}
