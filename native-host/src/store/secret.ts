/**
 * The account's storage secret and the two ways it is kept wrapped.
 *
 * Threat model (also in README.md):
 * - The storage secret (64 random bytes, one per account) is the root of every key at rest:
 *   the SQLCipher key of the account database, the blob encryption key and the blob naming
 *   key are derived from it with HKDF-SHA256 under distinct labels, so none of them can be
 *   computed from another.
 * - On this machine it is stored only wrapped (AES-256-GCM) by a 32-byte session key that
 *   the Thunderbird add-on holds and hands to the host over native messaging when a session
 *   starts. The host keeps the unwrapped secret in memory only. Someone who copies the
 *   host's data directory (a backup, a stolen disk without the Thunderbird profile, another
 *   local user who can read it) learns nothing; someone who has both the data directory and
 *   the add-on's key (the whole user account while it is logged in) has everything, as with
 *   any local mail client. No OS keyring is used: these machines have none (no libsecret
 *   service), and a keyring would protect against the same attacker as the add-on key.
 * - At the provider it is stored as the recovery record: wrapped by a key from
 *   scrypt(password, random salt, recorded parameters). The provider never sees the
 *   password (SRP) and so cannot unwrap it except by guessing the password offline, which
 *   the scrypt cost slows down; that is the price of recovering from the password alone on
 *   a new device. The parameters are bound as associated data and bounded on reading, so a
 *   provider cannot weaken them or make a client spend unbounded memory.
 * - The account id is bound into the local wrapping, so one account's wrapped secret cannot
 *   be swapped in for another's.
 */
import {
  createCipheriv,
  createDecipheriv,
  hkdfSync,
  randomBytes,
  scrypt as scryptCallback,
  type ScryptOptions,
} from 'node:crypto';
import {
  checkScryptParams,
  DEFAULT_SCRYPT,
  type ScryptParams,
} from '../../../shared/src/password-kdf.js';
import { StoreError } from './errors.js';

export { DEFAULT_SCRYPT, type ScryptParams };

export const STORAGE_SECRET_BYTES = 64;
const MIN_SECRET_BYTES = 32;
const HKDF_SALT = Buffer.from('leapbird storage v1');

export interface StorageKeys {
  /** Raw SQLCipher key of the account database. */
  database: Buffer;
  /** Root of the per-blob chunk keys. */
  blob: Buffer;
  /** HMAC key that turns a message's content into its blob name. */
  blobName: Buffer;
}

export function generateStorageSecret(): Buffer {
  return randomBytes(STORAGE_SECRET_BYTES);
}

export function deriveStorageKeys(secret: Uint8Array): StorageKeys {
  checkSecret(secret);
  const derive = (label: string) =>
    Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, `leapbird ${label} key v1`, 32));
  return { database: derive('database'), blob: derive('blob'), blobName: derive('blob name') };
}

function checkSecret(secret: Uint8Array): void {
  if (!(secret instanceof Uint8Array) || secret.length < MIN_SECRET_BYTES) {
    throw new StoreError(
      'bad_secret',
      `The storage secret must be at least ${MIN_SECRET_BYTES} random bytes.`,
    );
  }
}

function seal(key: Buffer, plaintext: Uint8Array, aad: Buffer): { iv: Buffer; sealed: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { iv, sealed };
}

/** Returns null when authentication fails (wrong key or tampered data). */
function open(key: Buffer, iv: Buffer, sealed: Buffer, aad: Buffer): Buffer | null {
  if (iv.length !== 12 || sealed.length < 16) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([
      decipher.update(sealed.subarray(0, sealed.length - 16)),
      decipher.final(),
    ]);
  } catch {
    return null;
  }
}

// --- Local wrapping by the add-on's session key ------------------------------------------

const LOCAL_PREFIX = 'lbsk1';

function localAad(accountId: string): Buffer {
  return Buffer.from(`${LOCAL_PREFIX}\0${accountId}`);
}

function checkSessionKey(sessionKey: Uint8Array): Buffer {
  if (!(sessionKey instanceof Uint8Array) || sessionKey.length !== 32) {
    throw new StoreError('bad_secret', 'The session key must be exactly 32 bytes.');
  }
  return Buffer.from(sessionKey);
}

/** `lbsk1.<iv>.<ciphertext+tag>` (base64url), bound to the account id. */
export function wrapSecretLocally(
  secret: Uint8Array,
  sessionKey: Uint8Array,
  accountId: string,
): string {
  checkSecret(secret);
  const { iv, sealed } = seal(checkSessionKey(sessionKey), secret, localAad(accountId));
  return [LOCAL_PREFIX, iv.toString('base64url'), sealed.toString('base64url')].join('.');
}

export function unwrapSecretLocally(
  wrapped: string,
  sessionKey: Uint8Array,
  accountId: string,
): Buffer {
  const key = checkSessionKey(sessionKey);
  const parts = typeof wrapped === 'string' ? wrapped.trim().split('.') : [];
  if (parts.length !== 3 || parts[0] !== LOCAL_PREFIX) {
    throw new StoreError(
      'bad_wrapped_secret',
      'The locally stored storage secret is not in a known format.',
    );
  }
  const secret = open(
    key,
    Buffer.from(parts[1]!, 'base64url'),
    Buffer.from(parts[2]!, 'base64url'),
    localAad(accountId),
  );
  if (!secret) {
    throw new StoreError(
      'wrong_key',
      'The locally stored storage secret could not be unlocked with the key the add-on gave ' +
        '(another key, another account, or a damaged file). Log in again to recover it.',
    );
  }
  return secret;
}

// --- Recovery record (kept opaquely by the provider) -------------------------------------

interface RecoveryRecordV1 {
  v: 1;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  cipher: 'aes-256-gcm';
  iv: string;
  ct: string;
}

function recoveryAad(r: Pick<RecoveryRecordV1, 'v' | 'kdf' | 'N' | 'r' | 'p' | 'salt' | 'cipher'>) {
  return Buffer.from(
    `leapbird-recovery|${r.v}|${r.kdf}|${r.N}|${r.r}|${r.p}|${r.salt}|${r.cipher}`,
  );
}

/**
 * scrypt(password) as 32 bytes; the recovery record and SRP's login key (provider/srp-key.ts)
 * both come from here, so a guess against either costs the same.
 */
export function scryptKey(
  password: string | Uint8Array,
  salt: Uint8Array,
  params: ScryptParams,
): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // scrypt needs 128·N·r bytes; Node refuses anything above maxmem.
    maxmem: 128 * params.N * params.r + 1024 * 1024,
  };
  return new Promise((resolve, reject) =>
    scryptCallback(
      typeof password === 'string' ? password.normalize('NFC') : password,
      salt,
      32,
      options,
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
}

/**
 * The string to `PUT /1/recovery`: versioned JSON holding the secret wrapped by
 * scrypt(password). A fresh salt and IV every time, so re-wrapping never repeats.
 */
export async function createRecoveryRecord(
  secret: Uint8Array,
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  checkSecret(secret);
  if (typeof password !== 'string' || password.length === 0) {
    throw new StoreError('wrong_password', 'A password is needed to protect the recovery record.');
  }
  if (!checkScryptParams(params)) {
    throw new StoreError('bad_recovery_record', 'The scrypt parameters are out of range.');
  }
  const salt = randomBytes(32);
  const head = {
    v: 1 as const,
    kdf: 'scrypt' as const,
    N: params.N,
    r: params.r,
    p: params.p,
    salt: salt.toString('base64'),
    cipher: 'aes-256-gcm' as const,
  };
  const key = await scryptKey(password, salt, params);
  const { iv, sealed } = seal(key, secret, recoveryAad(head));
  const record: RecoveryRecordV1 = {
    ...head,
    iv: iv.toString('base64'),
    ct: sealed.toString('base64'),
  };
  return JSON.stringify(record);
}

function parseRecoveryRecord(text: string): RecoveryRecordV1 {
  const bad = (why: string) =>
    new StoreError('bad_recovery_record', `The recovery record is not usable: ${why}.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('it is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw bad('it is not a JSON object');
  const r = parsed as Record<string, unknown>;
  if (r.v !== 1) throw bad(`version ${String(r.v)} is not known to this version of the program`);
  if (r.kdf !== 'scrypt' || r.cipher !== 'aes-256-gcm') throw bad('unknown algorithm');
  for (const field of ['salt', 'iv', 'ct'] as const) {
    if (typeof r[field] !== 'string') throw bad(`the field "${field}" is missing`);
  }
  const params = { N: r.N, r: r.r, p: r.p } as ScryptParams;
  if (!checkScryptParams(params)) throw bad('its scrypt parameters are out of the allowed range');
  return r as unknown as RecoveryRecordV1;
}

/** The storage secret back from the record and the password (on a new device, say). */
export async function openRecoveryRecord(record: string, password: string): Promise<Buffer> {
  const parsed = parseRecoveryRecord(record);
  const salt = Buffer.from(parsed.salt, 'base64');
  const key = await scryptKey(password, salt, parsed);
  const secret = open(
    key,
    Buffer.from(parsed.iv, 'base64'),
    Buffer.from(parsed.ct, 'base64'),
    recoveryAad(parsed),
  );
  if (!secret) {
    throw new StoreError(
      'wrong_password',
      'The password does not unlock the recovery record (or the record was altered).',
    );
  }
  return secret;
}

/** Password change: the same secret under the new password, with fresh salt and IV. */
export async function rewrapRecoveryRecord(
  record: string,
  oldPassword: string,
  newPassword: string,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<string> {
  const secret = await openRecoveryRecord(record, oldPassword);
  try {
    return await createRecoveryRecord(secret, newPassword, params);
  } finally {
    secret.fill(0);
  }
}
