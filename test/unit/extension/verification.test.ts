import { describe, expect, it } from 'vitest';
import { displayView, isVerified, readLeapHeaders } from '../../../extension/lib/verification.js';

const FPR = '0123456789ABCDEF0123456789ABCDEF01234567';

describe('reading the host’s headers', () => {
  it('reads an end-to-end message with a valid signature, its signer and its address', () => {
    expect(
      readLeapHeaders({
        'x-leap-encryption': ['end-to-end'],
        'x-leap-signature': [`valid; pubkey="${FPR.toLowerCase()}"; signer="bob@alpha.test"`],
      }),
    ).toEqual({
      encryption: 'end-to-end',
      signature: 'valid',
      signer: FPR,
      signerAddress: 'bob@alpha.test',
      reason: null,
    });
  });

  it('reads invalid, unknown-key and missing signatures', () => {
    expect(readLeapHeaders({ 'X-Leap-Signature': ['invalid'] }).signature).toBe('invalid');
    expect(readLeapHeaders({ 'x-leap-signature': 'unknown-key' }).signature).toBe('unknown-key');
    expect(readLeapHeaders({ 'x-leap-encryption': ['none'] })).toEqual({
      encryption: 'none',
      signature: 'none',
      signer: null,
      signerAddress: null,
      reason: null,
    });
    expect(readLeapHeaders({}).encryption).toBe('unknown');
  });

  it('trusts nothing when a field appears twice (the host writes one of each)', () => {
    const h = readLeapHeaders({
      'x-leap-encryption': ['end-to-end', 'end-to-end'],
      'x-leap-signature': [`valid; pubkey="${FPR}"`],
    });
    expect(h).toEqual({
      encryption: 'unknown',
      signature: 'none',
      signer: null,
      signerAddress: null,
      reason: null,
    });
  });
});

describe('the display badge and banner', () => {
  const contacts = [
    { address: 'bob@alpha.test', fingerprint: FPR, validation: 'Fingerprint' as const },
    {
      address: 'bob@alpha.test',
      fingerprint: 'F'.repeat(40),
      validation: 'Provider_Trust' as const,
    },
  ];
  const signed = (signer: string | null) => ({ signer, signerAddress: 'bob@alpha.test' });

  it('counts only a fingerprint the user checked as verified', () => {
    expect(isVerified(signed(FPR), 'bob@alpha.test', contacts)).toBe(true);
    expect(isVerified(signed('F'.repeat(40)), 'bob@alpha.test', contacts)).toBe(false);
    expect(isVerified(signed(null), 'bob@alpha.test', contacts)).toBe(false);
  });

  it('makes a bad signature an alarm, in red, naming the claimed sender', () => {
    const v = displayView(
      readLeapHeaders({ 'x-leap-encryption': 'end-to-end', 'x-leap-signature': 'invalid' }),
      {
        verified: false,
        sender: 'Bob <bob@alpha.test>',
      },
    );
    expect(v.state).toBe('bad_signature');
    expect(v.alarm).toBe(true);
    expect(v.badge).toBe('!');
    expect(v.label).toBe('BAD SIGNATURE');
    expect(v.color).toBe('#b91c1c');
    expect(v.banner).toMatch(/BAD SIGNATURE/);
    expect(v.banner).toContain('bob@alpha.test');
  });

  it('tells verified from unverified signers', () => {
    const h = readLeapHeaders({
      'x-leap-encryption': 'end-to-end',
      'x-leap-signature': `valid; pubkey="${FPR}"`,
    });
    const verified = displayView(h, { verified: true, sender: 'bob@alpha.test' });
    const unverified = displayView(h, { verified: false, sender: 'bob@alpha.test' });
    expect(verified.state).toBe('signed_verified');
    expect(verified.title).toMatch(
      /Encrypted and signed by bob@alpha.test with a key you verified/,
    );
    expect(unverified.state).toBe('signed_unverified');
    expect(unverified.banner).toMatch(/compare its fingerprint/);
    expect(verified.signerFingerprint).toBe(FPR);
    expect(verified.alarm || unverified.alarm).toBe(false);
  });

  it('says encrypted-but-unsigned, not protected, and undecryptable in words', () => {
    expect(
      displayView(readLeapHeaders({ 'x-leap-encryption': 'end-to-end' }), {
        verified: false,
        sender: null,
      }).state,
    ).toBe('encrypted');
    const plain = displayView(
      readLeapHeaders({ 'x-leap-encryption': 'none', 'x-leap-signature': 'none' }),
      {
        verified: false,
        sender: null,
      },
    );
    expect(plain.state).toBe('not_protected');
    expect(plain.banner).toMatch(/^Not protected/);
    expect(
      displayView(readLeapHeaders({ 'x-leap-encryption': 'failed; reason="no_key"' }), {
        verified: false,
        sender: null,
      }).state,
    ).toBe('undecryptable');
  });

  it('shows no banner for a message the host did not process', () => {
    const v = displayView(readLeapHeaders({}), { verified: false, sender: null });
    expect(v.state).toBe('unknown');
    expect(v.banner).toBe('');
  });
});
