/**
 * A token bucket per key: `perMinute` tries a minute, in bursts of at most `perMinute`.
 * Used for starting logins, each of which costs the provider a modular exponentiation.
 * Pure: the buckets live in the provider's store.
 */
export interface RatePolicy {
  perMinute: number;
}

export interface Bucket {
  tokens: number;
  at: number;
}

/** Takes one try from `bucket`: the bucket after it, and 0 when allowed, else the ms until
 * one is available. */
export function takeToken(
  bucket: Bucket | null,
  now: number,
  policy: RatePolicy,
): { bucket: Bucket; waitMs: number } {
  const { perMinute } = policy;
  const msPerToken = 60_000 / perMinute;
  const tokens = bucket
    ? Math.min(perMinute, bucket.tokens + Math.max(0, now - bucket.at) / msPerToken)
    : perMinute;
  if (tokens < 1)
    return { bucket: { tokens, at: now }, waitMs: Math.ceil((1 - tokens) * msPerToken) };
  return { bucket: { tokens: tokens - 1, at: now }, waitMs: 0 };
}

/** When a bucket is full again and may be forgotten: a whole millisecond (the stores keep
 * integers; the tokens are fractions). */
export function bucketFullAt(bucket: Bucket, policy: RatePolicy): number {
  return Math.ceil(
    bucket.at + Math.max(0, policy.perMinute - bucket.tokens) * (60_000 / policy.perMinute),
  );
}
