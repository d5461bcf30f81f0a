/**
 * Issue 13 item 5, the add-on's side: the three kinds of protection the host writes
 * (`end-to-end`, `stored`, `none`) stay apart in the badge, the button's label and the
 * banner, whatever the signature says; only end to end is ever green; `decrypted`, what
 * older hosts wrote on every message the MX wrapped, never reads as end to end; a message
 * that could not be opened says why, in the host's words.
 */
import { describe, expect, it } from 'vitest';
import {
  displayView,
  isVerified,
  readLeapHeaders,
  type DisplayView,
} from '../../../extension/lib/verification.js';
import { COLORS } from '../../../extension/lib/words.js';

const FPR = '0123456789ABCDEF0123456789ABCDEF01234567';
const SENDER = 'Bob <bob@alpha.test>';
const SIGNATURES = ['none', 'unknown-key', `valid; pubkey="${FPR}"; signer="bob@alpha.test"`];

function view(encryption: string, signature: string, verified = false): DisplayView {
  return displayView(
    readLeapHeaders({ 'X-Leap-Encryption': [encryption], 'X-Leap-Signature': [signature] }),
    { verified, sender: SENDER },
  );
}

/** Every view of one kind of protection, for each signature and verification. */
function views(encryption: string): DisplayView[] {
  return SIGNATURES.flatMap((s) => [view(encryption, s), view(encryption, s, true)]);
}

describe('the three kinds of protection', () => {
  it('keeps end-to-end, stored and not protected apart in badge, label and banner', () => {
    const kinds = { e2e: views('end-to-end'), stored: views('stored'), none: views('none') };
    for (const [kind, list] of Object.entries(kinds)) {
      const others = Object.entries(kinds)
        .filter(([k]) => k !== kind)
        .flatMap(([, l]) => l);
      for (const v of list) {
        expect(others.map((o) => o.badge)).not.toContain(v.badge);
        expect(others.map((o) => o.label)).not.toContain(v.label);
        expect(others.map((o) => o.banner)).not.toContain(v.banner);
      }
    }
  });

  it('shows green and says encrypted only for what the sender encrypted', () => {
    for (const v of views('end-to-end')) {
      expect(v.protection).toBe('end-to-end');
      expect(v.color).toBe(COLORS.ok);
      expect(v.label).toMatch(/^Encrypted/);
    }
    for (const v of [...views('stored'), ...views('none')]) {
      expect(v.color).not.toBe(COLORS.ok);
      expect(v.badge).not.toBe('enc');
      expect(v.badge).not.toBe('✓');
      expect(v.label).not.toMatch(/^Encrypted/);
      expect(v.banner).not.toMatch(/^(This message was )?encrypted/i);
    }
  });

  it('says a stored message arrived unencrypted and is neutral, not green', () => {
    const plainSpam = view('stored', 'none');
    expect(plainSpam.state).toBe('stored');
    expect(plainSpam.protection).toBe('stored');
    expect(plainSpam.badge).toBe('rest');
    expect(plainSpam.color).toBe(COLORS.muted);
    expect(plainSpam.label).toBe('Stored encrypted');
    expect(plainSpam.banner).toMatch(/^Not end-to-end encrypted: it arrived unencrypted/);
    const signedOnly = view('stored', SIGNATURES[2]!);
    expect(signedOnly.label).toBe('Stored encrypted, signed');
    expect(signedOnly.title).not.toMatch(/Encrypted and signed/);
    expect(signedOnly.banner).toMatch(/^Signed by Bob <bob@alpha.test>\..*Not end-to-end/);
  });

  it('shows what older hosts called decrypted as stored, never as end to end', () => {
    for (const signature of SIGNATURES) {
      const legacy = view('decrypted', signature);
      const stored = view('stored', signature);
      expect(legacy).toEqual(stored);
    }
    expect(readLeapHeaders({ 'x-leap-signature': 'could not verify' }).signature).toBe(
      'unknown-key',
    );
  });

  it('says a signature from an unknown key leaves the sender unconfirmed', () => {
    const v = view('end-to-end', 'unknown-key');
    expect(v.state).toBe('encrypted');
    expect(v.banner).toMatch(/signed with a key LeapBird does not know yet/);
    expect(v.signerFingerprint).toBeNull();
  });

  it('shows why a message could not be opened, in the host’s words', () => {
    const partly = view('failed; reason="partly encrypted"', 'none');
    expect(partly.state).toBe('undecryptable');
    expect(partly.badge).toBe('!');
    expect(partly.label).toBe('Cannot open');
    expect(partly.banner).toMatch(/could not be opened: partly encrypted\./);
    expect(partly.title).toMatch(/partly encrypted/);
    expect(partly.color).not.toBe(COLORS.ok);
    expect(view('failed; reason="wrong_key"', 'unknown-key').banner).toMatch(/: wrong key\./);
  });
});

describe('verified is bound to the From address (item 4)', () => {
  const BOB = '0123456789ABCDEF0123456789ABCDEF01234567';
  const CAROL = 'C'.repeat(40);
  const contacts = [
    { address: 'bob@alpha.test', fingerprint: BOB, validation: 'Fingerprint' as const },
    { address: 'carol@beta.test', fingerprint: CAROL, validation: 'Fingerprint' as const },
    { address: 'dave@beta.test', fingerprint: CAROL, validation: 'Weak_Chain' as const },
  ];
  const sig = (fpr: string, signer: string) => ({ signer: fpr, signerAddress: signer });

  it('verifies the sender whose own record holds the key at Fingerprint level', () => {
    expect(isVerified(sig(BOB, 'bob@alpha.test'), 'Bob <bob@alpha.test>', contacts)).toBe(true);
    // Compared as the host files keys: case and +suffix do not matter.
    expect(isVerified(sig(BOB, 'Bob@Alpha.test'), 'Bob <BOB+news@alpha.test>', contacts)).toBe(
      true,
    );
  });

  it('does not verify mail From someone else signed by a verified contact', () => {
    // Carol's checked key signs mail From bob: bob's record does not hold it.
    expect(isVerified(sig(CAROL, 'carol@beta.test'), 'bob@alpha.test', contacts)).toBe(false);
    // Even when carol's key also names dave and dave's record holds it, only at Weak_Chain.
    expect(isVerified(sig(CAROL, 'dave@beta.test'), 'dave@beta.test', contacts)).toBe(false);
  });

  it('does not verify when the key has no user ID for the From address', () => {
    expect(isVerified(sig(BOB, 'robert@elsewhere.test'), 'bob@alpha.test', contacts)).toBe(false);
    expect(isVerified({ signer: BOB, signerAddress: null }, 'bob@alpha.test', contacts)).toBe(
      false,
    );
  });

  it('does not verify a From that is not one address', () => {
    expect(isVerified(sig(BOB, 'bob@alpha.test'), 'bob@alpha.test, x@y.test', contacts)).toBe(
      false,
    );
    expect(isVerified(sig(BOB, 'bob@alpha.test'), null, contacts)).toBe(false);
  });
});
