/** Autocrypt Level 1 headers: what we write parses back to the same key; bad ones are refused. */
import { describe, expect, it } from 'vitest';
import {
  autocryptHeaderFor,
  generateOwnKey,
  inspectKey,
  parseAutocryptHeader,
} from '../../native-host/src/crypto/index.js';

describe('Autocrypt header', () => {
  it('carries only the public key, folded into short lines, and parses back to it', async () => {
    const key = await generateOwnKey({ address: 'alice@alpha.test' });
    const header = await autocryptHeaderFor('Alice@Alpha.test', key.privateArmored);
    if (!header.ok) throw new Error(header.error.message);
    const lines = header.value.split('\r\n');
    expect(lines[0]).toBe('Autocrypt: addr=alice@alpha.test; prefer-encrypt=mutual; keydata=');
    expect(lines.slice(1).every((l) => l.startsWith(' ') && l.length <= 78)).toBe(true);
    const value = header.value.slice('Autocrypt:'.length).replace(/\r\n/g, '');
    const parsed = parseAutocryptHeader(value);
    if (!parsed.ok) throw new Error(parsed.error.message);
    expect(parsed.value.addr).toBe('alice@alpha.test');
    expect(parsed.value.preferEncrypt).toBe('mutual');
    const info = await inspectKey(parsed.value.keydata);
    expect(info.ok && info.value).toMatchObject({ fingerprint: key.fingerprint, isPrivate: false });
  });

  it('ignores non-critical attributes and refuses unknown critical ones or missing parts', () => {
    expect(parseAutocryptHeader('addr=a@b.test; _extra=1; keydata=AAAA').ok).toBe(true);
    const cases = [
      'addr=a@b.test; unknown=1; keydata=AAAA',
      'keydata=AAAA',
      'addr=a@b.test',
      'addr=nope; keydata=AAAA',
      'addr=a@b.test; keydata=!!',
    ];
    for (const value of cases) {
      const parsed = parseAutocryptHeader(value);
      expect(!parsed.ok && parsed.error.code).toBe('malformed_message');
    }
  });
});
