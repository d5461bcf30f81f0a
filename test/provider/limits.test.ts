/**
 * The login limits' pure parts: what they hand the store must be storable as it is.
 */
import { describe, expect, it } from 'vitest';
import { afterFailure, takeToken } from '../../provider/src/limits/index.js';
import { bucketFullAt } from '../../provider/src/limits/rate.js';

describe('login limits', () => {
  it('forgets a rate bucket at a whole millisecond, whatever fraction of a try it holds', () => {
    // 7 a minute: one try every 8571.43 ms (the store keeps integer times).
    const policy = { perMinute: 7 };
    let bucket = null;
    for (const now of [1000, 1001, 5000, 20_000]) {
      bucket = takeToken(bucket, now, policy).bucket;
      expect(Number.isInteger(bucketFullAt(bucket, policy))).toBe(true);
      expect(bucketFullAt(bucket, policy)).toBeGreaterThanOrEqual(now);
    }
  });

  it('makes a key wait after its free failures, doubling, and forgets it after a while', () => {
    const policy = { free: 2, firstDelayMs: 1000, maxDelayMs: 3000, forgetMs: 60_000 };
    let record = null;
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      record = afterFailure(record, 0, policy);
      waits.push(record.until);
    }
    expect(waits).toEqual([0, 0, 1000, 2000, 3000]);
    expect(afterFailure(record, 60_001, policy)).toEqual({
      failures: 1,
      lastFailure: 60_001,
      until: 60_001,
    });
  });
});
