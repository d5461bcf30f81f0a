import { describe, expect, it } from 'vitest';
import {
  atLeastAsStrong,
  DEFAULT_SCRYPT,
  parsePasswordKdf,
  sameKdf,
} from '../../../shared/src/password-kdf.js';

const KDF = { algorithm: 'scrypt' as const, ...DEFAULT_SCRYPT };

describe('the password key description', () => {
  it('keeps only the fields it knows', () => {
    expect(parsePasswordKdf({ ...KDF, extra: 1 })).toEqual({ kdf: KDF });
    const prehash = { algorithm: 'srp-sha256' as const, salt: 'ab'.repeat(32) };
    expect(parsePasswordKdf({ ...KDF, prehash: { ...prehash, x: 2 } })).toEqual({
      kdf: { ...KDF, prehash },
    });
  });

  it('says in words why it refuses one', () => {
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [[KDF], /not an object/],
      [{ ...KDF, algorithm: 'argon2id' }, /"argon2id" is not known/],
      [{ ...KDF, N: 3000 }, /out of the allowed range/],
      [{ ...KDF, N: 2 ** 21 }, /out of the allowed range/],
      [{ ...KDF, r: 0 }, /out of the allowed range/],
      [{ ...KDF, p: 1.5 }, /out of the allowed range/],
      [{ ...KDF, prehash: { algorithm: 'sha1', salt: 'ab'.repeat(32) } }, /prehash is not known/],
      [{ ...KDF, prehash: { algorithm: 'srp-sha256', salt: 'abc' } }, /prehash salt/],
    ];
    for (const [value, why] of cases) {
      const parsed = parsePasswordKdf(value);
      expect('error' in parsed && parsed.error, JSON.stringify(value)).toMatch(why);
    }
  });

  it('compares strength by memory and work', () => {
    expect(atLeastAsStrong(DEFAULT_SCRYPT, DEFAULT_SCRYPT)).toBe(true);
    expect(atLeastAsStrong({ N: 2 ** 18, r: 8, p: 1 }, DEFAULT_SCRYPT)).toBe(true);
    expect(atLeastAsStrong({ N: 2 ** 16, r: 16, p: 1 }, DEFAULT_SCRYPT)).toBe(true);
    expect(atLeastAsStrong({ N: 2 ** 16, r: 8, p: 4 }, DEFAULT_SCRYPT)).toBe(false);
    expect(atLeastAsStrong({ N: 2 ** 10, r: 8, p: 1 }, DEFAULT_SCRYPT)).toBe(false);
  });

  it('tells descriptions apart by every field, the prehash salt included', () => {
    const a = { ...KDF, prehash: { algorithm: 'srp-sha256' as const, salt: 'ab'.repeat(32) } };
    expect(sameKdf(a, { ...a })).toBe(true);
    expect(sameKdf(a, KDF)).toBe(false);
    expect(sameKdf(KDF, { ...KDF, N: 2 ** 18 })).toBe(false);
    expect(sameKdf(null, null)).toBe(true);
    expect(sameKdf(KDF, null)).toBe(false);
  });
});
