/**
 * OpenPGP key checks for uploads and lookups, and WKD's hashed local part.
 */
import { createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { ProviderError } from '../errors.js';

export interface CheckedKey {
  key: openpgp.PublicKey;
  armored: string;
  fingerprint: string;
}

const EMAIL_IN_UID = /<([^<>\s]+@[^<>\s]+)>\s*$|^([^<>\s]+@[^<>\s]+)$/;

/** The e-mail addresses in a key's user IDs, lower-cased. */
export function keyAddresses(key: openpgp.Key): string[] {
  return key.users
    .map(
      (u) => u.userID?.email || u.userID?.userID.match(EMAIL_IN_UID)?.slice(1).find(Boolean) || '',
    )
    .filter(Boolean)
    .map((a) => a.toLowerCase());
}

/** Accepts a public key only: parseable, not secret, usable for encryption now, and with a
 * user ID for `address`. Anything else is a clear `invalid_key` error. */
export async function checkPublicKey(armored: string, address: string): Promise<CheckedKey> {
  if (typeof armored !== 'string' || !armored.includes('-----BEGIN PGP')) {
    throw new ProviderError(
      'invalid_key',
      'public_key must be an ASCII-armored OpenPGP public key',
      422,
    );
  }
  if (armored.includes('PRIVATE KEY BLOCK')) {
    throw new ProviderError(
      'invalid_key',
      'This is a private key; upload only the public key',
      422,
    );
  }
  let key: openpgp.Key;
  try {
    key = await openpgp.readKey({ armoredKey: armored });
  } catch (err) {
    throw new ProviderError(
      'invalid_key',
      `Not a readable OpenPGP key: ${(err as Error).message}`,
      422,
    );
  }
  if (key.isPrivate()) {
    throw new ProviderError(
      'invalid_key',
      'This is a private key; upload only the public key',
      422,
    );
  }
  if (!keyAddresses(key).includes(address.toLowerCase())) {
    throw new ProviderError('invalid_key', `The key has no user ID for ${address}`, 422);
  }
  try {
    await key.getEncryptionKey();
  } catch (err) {
    throw new ProviderError(
      'invalid_key',
      `The key cannot encrypt: ${(err as Error).message}`,
      422,
    );
  }
  const publicKey = key.toPublic();
  return {
    key: publicKey,
    armored: publicKey.armor(),
    fingerprint: publicKey.getFingerprint().toLowerCase(),
  };
}

const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

export function zbase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0x1fff;
    bits += 8;
    while (bits >= 5) {
      out += ZBASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ZBASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** WKD's name for a local part: z-base-32 of the SHA-1 of the lower-cased local part. */
export function wkdHash(localPart: string): string {
  return zbase32(createHash('sha1').update(localPart.toLowerCase(), 'utf8').digest());
}
