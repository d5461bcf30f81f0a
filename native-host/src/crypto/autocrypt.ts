/**
 * Autocrypt Level 1 headers (https://autocrypt.org/level1.html section 2.1):
 * `Autocrypt: addr=<address>; [prefer-encrypt=mutual;] keydata=<base64 of the binary key>`.
 * This is how the user's key travels with every message and how keys of people who never
 * published one elsewhere are learned.
 */
import { fail, ok, type Result } from './errors.js';
import { readKey } from './keys.js';

export type PreferEncrypt = 'mutual' | 'nopreference';

export interface AutocryptHeader {
  addr: string;
  preferEncrypt: PreferEncrypt;
  keydata: Uint8Array;
}

/** The whole header field, folded at 78 columns, CRLF between lines. */
export function formatAutocryptHeader(header: AutocryptHeader, name = 'Autocrypt'): string {
  const prefer = header.preferEncrypt === 'mutual' ? ' prefer-encrypt=mutual;' : '';
  const first = `${name}: addr=${header.addr};${prefer} keydata=`;
  const data = Buffer.from(header.keydata).toString('base64');
  const lines = [first];
  for (let i = 0; i < data.length; i += 76) lines.push(' ' + data.slice(i, i + 76));
  return lines.join('\r\n');
}

/** Builds the header for an armoured public key (only its public part is ever included). */
export async function autocryptHeaderFor(
  address: string,
  armoredKey: string,
  preferEncrypt: PreferEncrypt = 'mutual',
): Promise<Result<string>> {
  const key = await readKey(armoredKey);
  if (!key.ok) return key;
  const keydata = key.value.toPublic().write();
  return ok(formatAutocryptHeader({ addr: address.toLowerCase(), preferEncrypt, keydata }));
}

/** Parses an unfolded header value; unknown critical attributes make it invalid (spec 2.1). */
export function parseAutocryptHeader(value: string): Result<AutocryptHeader> {
  const attributes = new Map<string, string>();
  for (const segment of value.split(';')) {
    const eq = segment.indexOf('=');
    if (eq <= 0) continue;
    attributes.set(segment.slice(0, eq).trim().toLowerCase(), segment.slice(eq + 1).trim());
  }
  for (const name of attributes.keys()) {
    if (!['addr', 'prefer-encrypt', 'keydata'].includes(name) && !name.startsWith('_')) {
      return fail('malformed_message', `The Autocrypt header has an unknown attribute "${name}".`);
    }
  }
  const addr = attributes.get('addr')?.toLowerCase();
  const keydata = attributes.get('keydata')?.replace(/\s+/g, '');
  if (!addr || !/^[^\s@]+@[^\s@]+$/.test(addr)) {
    return fail('malformed_message', 'The Autocrypt header has no valid addr attribute.');
  }
  if (!keydata || !/^[A-Za-z0-9+/]+=*$/.test(keydata)) {
    return fail('malformed_message', 'The Autocrypt header has no valid keydata attribute.');
  }
  return ok({
    addr,
    preferEncrypt: attributes.get('prefer-encrypt') === 'mutual' ? 'mutual' : 'nopreference',
    keydata: Buffer.from(keydata, 'base64'),
  });
}
