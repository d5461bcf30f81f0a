/**
 * Session tokens (random, stored as SHA-512, expiring after idle time), the internal secret
 * Dovecot uses for introspection. (The login limits are in ../limits.)
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ProviderContext } from '../context.js';
import type { UserRecord } from '../store/index.js';

export function hashToken(token: string): string {
  return createHash('sha512').update(token, 'utf8').digest('hex');
}

export async function issueToken(ctx: ProviderContext, userId: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await ctx.store.addToken(hashToken(token), userId, ctx.now());
  return token;
}

/** The token's user, or null when unknown or idle for too long. Using it counts as activity. */
export async function userForToken(
  ctx: ProviderContext,
  token: string,
): Promise<UserRecord | null> {
  if (!token || token.length > 256) return null;
  const record = await ctx.store.touchToken(hashToken(token), ctx.now(), ctx.limits.tokenIdleMs);
  return record ? await ctx.store.userById(record.userId) : null;
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
