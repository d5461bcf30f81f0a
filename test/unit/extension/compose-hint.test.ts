import { describe, expect, it } from 'vitest';
import type { RecipientKeyInfo } from '../../../shared/src/rpc.js';
import {
  addressOf,
  composeHint,
  reasonWords,
  recipientsOf,
  sendBlock,
  usesBuiltInOpenPgp,
  withEncryptedOnlyHeader,
} from '../../../extension/lib/compose-hint.js';

const key = (address: string): RecipientKeyInfo => ({
  address,
  status: 'key',
  validation: 'Provider_Trust',
  fingerprint: 'AB'.repeat(20),
  reason: null,
});
const noKey = (
  address: string,
  reason = 'no key was published for this address',
): RecipientKeyInfo => ({
  address,
  status: 'no_key',
  validation: null,
  fingerprint: null,
  reason,
});
const leap = { leapIdentity: true, builtInOpenPgp: false };

describe('recipients of a compose window', () => {
  it('reads bare and named addresses from To, Cc and Bcc, once each, lower-cased', () => {
    expect(
      recipientsOf({
        to: ['Bob Example <Bob@Alpha.test>', 'carol@beta.test'],
        cc: 'bob@alpha.test',
        bcc: ['"Doe, Jane" <jane@gamma.test>, dave@delta.test'],
      }),
    ).toEqual(['bob@alpha.test', 'carol@beta.test', 'dave@delta.test', 'jane@gamma.test']);
  });

  it('skips what is not an address and address-book entries given by id', () => {
    expect(recipientsOf({ to: ['not an address', { id: 'x', type: 'contact' }, ''] })).toEqual([]);
    expect(addressOf('Bob <bob@alpha.test>')).toBe('bob@alpha.test');
    expect(addressOf('bob at alpha')).toBeNull();
  });
});

describe('the compose hint', () => {
  it('says "encrypted" when every recipient has a key', () => {
    const hint = composeHint({
      ...leap,
      recipients: ['bob@alpha.test', 'carol@beta.test'],
      keys: [key('bob@alpha.test'), key('carol@beta.test')],
    });
    expect(hint.state).toBe('encrypted');
    expect(hint.title).toMatch(/encrypted and signed/i);
    expect(hint.missing).toEqual([]);
  });

  it('says "signed only" and names who lacks a key and why', () => {
    const hint = composeHint({
      ...leap,
      recipients: ['bob@alpha.test', 'nobody@beta.test'],
      keys: [key('bob@alpha.test'), noKey('nobody@beta.test')],
    });
    expect(hint.state).toBe('signed');
    expect(hint.title).toContain('nobody@beta.test (no key was published for this address)');
    expect(hint.title).not.toContain('bob@alpha.test');
    expect(hint.missing).toEqual([
      { address: 'nobody@beta.test', reason: 'no key was published for this address' },
    ]);
  });

  it('puts the host’s reason inside the sentence and gives a short label', () => {
    const hint = composeHint({
      ...leap,
      recipients: ['nobody@beta.test'],
      keys: [noKey('nobody@beta.test', 'No key was found.')],
    });
    expect(hint.title).toBe(
      'Signed only, not encrypted: no key for nobody@beta.test (no key was found).',
    );
    expect(hint.label).toBe('Signed only');
    expect(reasonWords(null)).toBe('no key was found');
    expect(reasonWords('DNS lookup failed.')).toBe('DNS lookup failed');
  });

  it('says "checking" while the host has not answered or is still looking', () => {
    expect(composeHint({ ...leap, recipients: ['bob@alpha.test'], keys: null }).state).toBe(
      'checking',
    );
    expect(
      composeHint({
        ...leap,
        recipients: ['bob@alpha.test'],
        keys: [{ ...key('bob@alpha.test'), status: 'checking' }],
      }).state,
    ).toBe('checking');
  });

  it('defers to Thunderbird’s own OpenPGP instead of encrypting twice', () => {
    const details = { selectedEncryptionTechnology: { name: 'OpenPGP', encryptBody: true } };
    expect(usesBuiltInOpenPgp(details)).toBe(true);
    expect(
      usesBuiltInOpenPgp({ selectedEncryptionTechnology: { name: 'OpenPGP', encryptBody: false } }),
    ).toBe(false);
    expect(usesBuiltInOpenPgp({})).toBe(false);
    const hint = composeHint({
      leapIdentity: true,
      builtInOpenPgp: true,
      recipients: ['bob@alpha.test'],
      keys: null,
    });
    expect(hint.state).toBe('openpgp');
    expect(hint.title).toMatch(/Thunderbird’s own OpenPGP|Thunderbird's own OpenPGP/);
  });

  it('says nothing for identities that are not LeapBird accounts', () => {
    const hint = composeHint({
      leapIdentity: false,
      builtInOpenPgp: false,
      recipients: ['a@b.c'],
      keys: null,
    });
    expect(hint.state).toBe('not_leap');
    expect(hint.badge).toBe('');
  });
});

describe('"encrypted only"', () => {
  const signed = composeHint({
    ...leap,
    recipients: ['nobody@beta.test'],
    keys: [noKey('nobody@beta.test', 'the provider has no key for this address')],
  });
  const encrypted = composeHint({
    ...leap,
    recipients: ['bob@alpha.test'],
    keys: [key('bob@alpha.test')],
  });

  it('stops a message that would go out signed only, with the address and the reason', () => {
    const reason = sendBlock(signed, true);
    expect(reason).toContain('nobody@beta.test');
    expect(reason).toContain('the provider has no key for this address');
    expect(reason).toMatch(/^Not sent/);
  });

  it('lets an encryptable message go, and everything go when the switch is off', () => {
    expect(sendBlock(encrypted, true)).toBeNull();
    expect(sendBlock(signed, false)).toBeNull();
  });

  it('stops a message whose keys could not be checked (host away)', () => {
    const checking = composeHint({ ...leap, recipients: ['bob@alpha.test'], keys: null });
    expect(sendBlock(checking, true)).toMatch(/could not be checked/);
  });

  it('sets the header the host enforces exactly once, and removes it when off', () => {
    const others = [{ name: 'X-Other', value: '1' }];
    expect(withEncryptedOnlyHeader(others, true)).toEqual([
      { name: 'X-Other', value: '1' },
      { name: 'X-Leap-Encrypted-Only', value: 'yes' },
    ]);
    expect(
      withEncryptedOnlyHeader([...others, { name: 'x-leap-encrypted-only', value: 'yes' }], true),
    ).toHaveLength(2);
    expect(
      withEncryptedOnlyHeader([{ name: 'X-Leap-Encrypted-Only', value: 'yes' }], false),
    ).toEqual([]);
  });
});
