/**
 * Session tokens (random, stored as SHA-512, expiring after idle time), the internal secret
 * Dovecot uses for introspection, and the failed-login limiter.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ProviderContext } from '../context.js';
import type { UserRecord } from '../store/index.js';

export function hashToken(token: string): string {
  return createHash('sha512').update(token, 'utf8').digest('hex');
}

export function issueToken(ctx: ProviderContext, userId: string): string {
  const token = randomBytes(32).toString('base64url');
  ctx.store.addToken(hashToken(token), userId, ctx.now());
  return token;
}

/** The token's user, or null when unknown or idle for too long. Using it counts as activity. */
export function userForToken(ctx: ProviderContext, token: string): UserRecord | null {
  if (!token || token.length > 256) return null;
  const record = ctx.store.touchToken(hashToken(token), ctx.now(), ctx.limits.tokenIdleMs);
  return record ? ctx.store.userById(record.userId) : null;
}

/** Derives a purpose-bound value from the provider's stable secret. */
export function derived(ctx: ProviderContext, purpose: string, data = ''): Buffer {
  return createHmac('sha256', ctx.secret).update(`${purpose}\n${data}`).digest();
}

export function introspectionPassword(ctx: ProviderContext): string {
  return derived(ctx, 'introspection').toString('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Counts failures per key in a fixed window; `blocked` once `max` is reached. */
export class FailureLimiter {
  private failures = new Map<string, { count: number; since: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}

  blocked(key: string, now: number): boolean {
    const entry = this.failures.get(key);
    if (!entry) return false;
    if (now - entry.since > this.windowMs) {
      this.failures.delete(key);
      return false;
    }
    return entry.count >= this.max;
  }

  fail(key: string, now: number): void {
    const entry = this.failures.get(key);
    if (!entry || now - entry.since > this.windowMs)
      this.failures.set(key, { count: 1, since: now });
    else entry.count++;
    // Bound memory under a flood of distinct keys: forget the oldest entries.
    if (this.failures.size > 100_000) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  reset(key: string): void {
    this.failures.delete(key);
  }
}
