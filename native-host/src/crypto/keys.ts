/**
 * OpenPGP keys: generation of the user's own key (a v4 EdDSA + ECDH Curve25519 key that
 * GnuPG 2.2 reads), renewal before expiry, and a plain description of any key that arrives
 * (from a keyserver, a mail header, an attachment) without trusting it to be well formed.
 */
import * as openpgp from 'openpgp';
import { describe, fail, ok, type Result } from './errors.js';

const DAY_MS = 86_400_000;
export const KEY_VALIDITY_DAYS = 365;
export const RENEWAL_WINDOW_DAYS = 60;

/** SHA-512 signatures and AES-256 whenever the recipients' keys allow it (LEAP did the same). */
export const pgpConfig: openpgp.PartialConfig = {
  preferredHashAlgorithm: openpgp.enums.hash.sha512,
  preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
};

export interface KeyInfo {
  /** Upper-case hex, as GnuPG shows it. */
  fingerprint: string;
  /** Upper-case 16-hex key IDs of the primary key and every subkey. */
  keyIds: string[];
  userIds: string[];
  /** Lower-case e-mail addresses from the user IDs. */
  addresses: string[];
  created: Date;
  /** Null when the key never expires. */
  expires: Date | null;
  expired: boolean;
  revoked: boolean;
  /** Whether the key can, at the time asked, encrypt and sign. */
  canEncrypt: boolean;
  canSign: boolean;
  isPrivate: boolean;
  /** The public part, armoured; never the private part. */
  publicArmored: string;
}

export interface OwnKey {
  fingerprint: string;
  address: string;
  /** Unprotected private key: it is kept only inside the encrypted local database. */
  privateArmored: string;
  publicArmored: string;
  created: Date;
  expires: Date;
}

export function normaliseFingerprint(fingerprint: string): string {
  return fingerprint.replace(/\s+/g, '').toUpperCase();
}

/**
 * Parsed keys by their text. The same few keys (the user's, frequent correspondents') are
 * read for every message, and a parsed key remembers which self-signatures it has already
 * verified, so reuse saves most of the work of each message. OpenPGP.js key methods return
 * modified copies, so the shared objects are never changed by their users.
 */
const parsed = new Map<string, Promise<Result<openpgp.Key[]>>>();
const PARSED_MAX = 256;

/** Drops every parsed key (the cache holds private keys too): on logout. */
export function forgetParsedKeys(): void {
  parsed.clear();
}

/** Reads every key in an armoured or binary block (a keyring, a WKD answer). */
export function readKeys(data: string | Uint8Array): Promise<Result<openpgp.Key[]>> {
  const id = typeof data === 'string' ? data : Buffer.from(data).toString('base64');
  let entry = parsed.get(id);
  if (entry) {
    parsed.delete(id);
  } else {
    entry = parseKeys(data);
  }
  parsed.set(id, entry);
  if (parsed.size > PARSED_MAX) parsed.delete(parsed.keys().next().value as string);
  return entry;
}

async function parseKeys(data: string | Uint8Array): Promise<Result<openpgp.Key[]>> {
  try {
    const keys =
      typeof data === 'string'
        ? await openpgp.readKeys({ armoredKeys: data })
        : await openpgp.readKeys({ binaryKeys: data });
    return ok(keys);
  } catch (error) {
    // An armoured key pasted into a binary channel still deserves to be read.
    if (typeof data !== 'string' && looksArmored(data)) {
      return parseKeys(Buffer.from(data).toString('utf8'));
    }
    return fail('invalid_key', `This is not a readable OpenPGP key: ${describe(error)}`);
  }
}

function looksArmored(data: Uint8Array): boolean {
  return Buffer.from(data.subarray(0, 200)).toString('latin1').includes('-----BEGIN PGP');
}

export async function readKey(data: string | Uint8Array): Promise<Result<openpgp.Key>> {
  const keys = await readKeys(data);
  if (!keys.ok) return keys;
  const [first] = keys.value;
  if (!first) return fail('invalid_key', 'The key block holds no key.');
  return ok(first);
}

export async function readPrivateKey(armored: string): Promise<Result<openpgp.PrivateKey>> {
  const key = await readKey(armored);
  if (!key.ok) return key;
  if (!key.value.isPrivate()) return fail('invalid_key', 'This key has no private part.');
  if (!key.value.isDecrypted()) {
    return fail(
      'invalid_key',
      'This private key is protected by a passphrase, which is not supported.',
    );
  }
  return ok(key.value);
}

/** Lower-case e-mail addresses in a key's user IDs (no signature checked: cheap). */
export function addressesOf(key: openpgp.Key): string[] {
  return key
    .getUserIDs()
    .map((uid) => /<([^<>]+@[^<>]+)>/.exec(uid)?.[1] ?? (/^\S+@\S+$/.test(uid) ? uid : null))
    .filter((a): a is string => a !== null)
    .map((a) => a.toLowerCase());
}

export async function describeKey(key: openpgp.Key, now = new Date()): Promise<KeyInfo> {
  const expiration = await key.getExpirationTime(undefined, undefined).catch(() => null);
  const expires = expiration instanceof Date ? expiration : null;
  const revoked = await key.isRevoked(undefined, undefined, now).catch(() => false);
  const userIds = key.getUserIDs();
  return {
    fingerprint: normaliseFingerprint(key.getFingerprint()),
    keyIds: key.getKeyIDs().map((id) => id.toHex().toUpperCase()),
    userIds,
    addresses: addressesOf(key),
    created: key.getCreationTime(),
    expires,
    expired: expires !== null && expires.getTime() <= now.getTime(),
    revoked,
    canEncrypt: await key.getEncryptionKey(undefined, now).then(
      () => true,
      () => false,
    ),
    canSign: await key.getSigningKey(undefined, now).then(
      () => true,
      () => false,
    ),
    isPrivate: key.isPrivate(),
    publicArmored: key.toPublic().armor(),
  };
}

/** Describes the first key of a block, or says why it cannot. */
export async function inspectKey(
  data: string | Uint8Array,
  now = new Date(),
): Promise<Result<KeyInfo>> {
  const key = await readKey(data);
  if (!key.ok) return key;
  return ok(await describeKey(key.value, now));
}

/** Describes every key of a block (a WKD answer or a keyring may hold several). */
export async function inspectKeys(
  data: string | Uint8Array,
  now = new Date(),
): Promise<Result<KeyInfo[]>> {
  const keys = await readKeys(data);
  if (!keys.ok) return keys;
  return ok(await Promise.all(keys.value.map((key) => describeKey(key, now))));
}

/**
 * The user's key: v4, EdDSA primary for signing and certifying, ECDH Curve25519 subkey for
 * encryption, the address as the only user ID, expiring after a year.
 */
export async function generateOwnKey(options: { address: string; now?: Date }): Promise<OwnKey> {
  const now = options.now ?? new Date();
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ email: options.address }],
    keyExpirationTime: KEY_VALIDITY_DAYS * 86_400,
    date: now,
    format: 'object',
    config: pgpConfig,
  });
  return toOwnKey(privateKey, options.address);
}

async function toOwnKey(key: openpgp.PrivateKey, address: string): Promise<OwnKey> {
  const info = await describeKey(key);
  if (!info.expires) throw new Error('An own key must expire');
  return {
    fingerprint: info.fingerprint,
    address,
    privateArmored: key.armor(),
    publicArmored: info.publicArmored,
    created: info.created,
    expires: info.expires,
  };
}

/** True when a key expires within the renewal window (60 days) or already has. */
export function needsRenewal(expires: Date | null, now = new Date()): boolean {
  if (expires === null) return false;
  return expires.getTime() - now.getTime() <= RENEWAL_WINDOW_DAYS * DAY_MS;
}

/**
 * Extends the key to a year from `now` by new self-signatures on the same key material, so
 * the fingerprint stays and contacts accept it as the same key. The earlier self-signatures
 * are kept beside the new ones: without them, signatures made before the renewal would no
 * longer verify (the key would look as if it had not existed yet when they were made).
 */
export async function renewOwnKey(
  privateArmored: string,
  options: { now?: Date } = {},
): Promise<Result<OwnKey>> {
  const now = options.now ?? new Date();
  const key = await readPrivateKey(privateArmored);
  if (!key.ok) return key;
  const info = await describeKey(key.value, now);
  const address = info.addresses[0];
  if (!address) return fail('invalid_key', 'The key has no e-mail address to renew it for.');
  // Expiry is counted from the key's creation (RFC 4880 section 5.2.3.6).
  const lifetime =
    Math.ceil((now.getTime() - info.created.getTime()) / 1000) + KEY_VALIDITY_DAYS * 86_400;
  try {
    const { privateKey: renewed } = await openpgp.reformatKey({
      privateKey: key.value,
      userIDs: [{ email: address }],
      keyExpirationTime: lifetime,
      date: now,
      format: 'object',
      config: pgpConfig,
    });
    const merged = (await key.value.update(renewed, now)) as openpgp.PrivateKey;
    return ok(await toOwnKey(merged, address));
  } catch (error) {
    return fail('invalid_key', `The key could not be renewed: ${describe(error)}`);
  }
}

/**
 * Whether `signer` has a valid certification on any user ID of `key` (LEAP's "new key
 * signed by the old key", the way a user announces a key change).
 */
export async function isCertifiedBy(
  key: string,
  signer: string,
  now = new Date(),
): Promise<boolean> {
  const [target, by] = await Promise.all([readKey(key), readKey(signer)]);
  if (!target.ok || !by.ok) return false;
  for (const user of target.value.users) {
    const results = await user.verifyAllCertifications([by.value.toPublic()], now).catch(() => []);
    const signerIds = by.value.getKeyIDs();
    if (results.some((r) => r.valid === true && signerIds.some((id) => id.equals(r.keyID)))) {
      return true;
    }
  }
  return false;
}

/** Certifies every user ID of `key` with `signerPrivate` (used when moving to a new key). */
export async function certifyKey(key: string, signerPrivate: string): Promise<Result<string>> {
  const [target, signer] = await Promise.all([readKey(key), readPrivateKey(signerPrivate)]);
  if (!target.ok) return target;
  if (!signer.ok) return signer;
  try {
    const signed = await target.value.toPublic().signAllUsers([signer.value]);
    return ok(signed.armor());
  } catch (error) {
    return fail('signing_failed', `The key could not be certified: ${describe(error)}`);
  }
}
