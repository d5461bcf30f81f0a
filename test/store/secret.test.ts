import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createRecoveryRecord,
  DEFAULT_SCRYPT,
  deriveStorageKeys,
  generateStorageSecret,
  loadStorageSecret,
  openRecoveryRecord,
  rewrapRecoveryRecord,
  saveStorageSecret,
  StoreError,
  unwrapSecretLocally,
  wrapSecretLocally,
} from '../../native-host/src/store/index.js';
import { tempDir } from './helpers.js';

const FAST = { N: 2 ** 10, r: 8, p: 1 };

async function errorOf(promise: Promise<unknown> | (() => unknown)): Promise<StoreError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    return error as StoreError;
  }
  throw new Error('expected a StoreError');
}

describe('storage secret', () => {
  it('derives distinct, stable keys and refuses short secrets', async () => {
    const secret = generateStorageSecret();
    const a = deriveStorageKeys(secret);
    const b = deriveStorageKeys(Buffer.from(secret));
    expect(a.database.equals(b.database)).toBe(true);
    expect(new Set([a.database, a.blob, a.blobName].map((k) => k.toString('hex'))).size).toBe(3);
    expect(deriveStorageKeys(generateStorageSecret()).database.equals(a.database)).toBe(false);
    expect((await errorOf(() => deriveStorageKeys(randomBytes(16)))).code).toBe('bad_secret');
  });

  it('unwraps locally only with the same session key and account', async () => {
    const secret = generateStorageSecret();
    const key = randomBytes(32);
    const wrapped = wrapSecretLocally(secret, key, 'alice@alpha.test');
    expect(wrapped).not.toContain(secret.toString('base64url'));
    expect(unwrapSecretLocally(wrapped, key, 'alice@alpha.test').equals(secret)).toBe(true);
    expect(
      (await errorOf(() => unwrapSecretLocally(wrapped, randomBytes(32), 'alice@alpha.test'))).code,
    ).toBe('wrong_key');
    expect((await errorOf(() => unwrapSecretLocally(wrapped, key, 'bob@alpha.test'))).code).toBe(
      'wrong_key',
    );
    expect(
      (await errorOf(() => unwrapSecretLocally('garbage', key, 'alice@alpha.test'))).code,
    ).toBe('bad_wrapped_secret');
  });

  it('keeps the wrapped secret in the account directory across restarts', async () => {
    const { dir, remove } = await tempDir();
    try {
      const key = randomBytes(32);
      expect(await loadStorageSecret(dir, 'a', key)).toBeNull();
      const secret = generateStorageSecret();
      await saveStorageSecret(dir, 'a', secret, key);
      expect((await loadStorageSecret(dir, 'a', key))?.equals(secret)).toBe(true);
      await writeFile(join(dir, 'storage-secret.wrapped'), 'lbsk1.AAAA.BBBB');
      expect((await errorOf(loadStorageSecret(dir, 'a', key))).code).toBe('wrong_key');
    } finally {
      await remove();
    }
  });
});

describe('recovery record', () => {
  it('recovers the secret from the password alone, and only from it', async () => {
    const secret = generateStorageSecret();
    const record = await createRecoveryRecord(secret, 'correct horse', FAST);
    const parsed = JSON.parse(record);
    expect(parsed).toMatchObject({
      v: 1,
      kdf: 'scrypt',
      N: FAST.N,
      r: 8,
      p: 1,
      cipher: 'aes-256-gcm',
    });
    expect(record).not.toContain(secret.toString('base64'));
    expect((await openRecoveryRecord(record, 'correct horse')).equals(secret)).toBe(true);
    expect((await errorOf(openRecoveryRecord(record, 'wrong horse'))).code).toBe('wrong_password');
  });

  it('uses the recommended scrypt cost by default', async () => {
    const secret = generateStorageSecret();
    const record = await createRecoveryRecord(secret, 'pw');
    expect(JSON.parse(record)).toMatchObject(DEFAULT_SCRYPT);
    expect((await openRecoveryRecord(record, 'pw')).equals(secret)).toBe(true);
  });

  it('re-wraps on a password change: the new password opens it, the old one no longer does', async () => {
    const secret = generateStorageSecret();
    const record = await createRecoveryRecord(secret, 'old', FAST);
    const rewrapped = await rewrapRecoveryRecord(record, 'old', 'new', FAST);
    expect(JSON.parse(rewrapped).salt).not.toBe(JSON.parse(record).salt);
    expect((await openRecoveryRecord(rewrapped, 'new')).equals(secret)).toBe(true);
    expect((await errorOf(openRecoveryRecord(rewrapped, 'old'))).code).toBe('wrong_password');
    expect((await errorOf(rewrapRecoveryRecord(record, 'not-old', 'new', FAST))).code).toBe(
      'wrong_password',
    );
  });

  it('refuses records a provider altered: weaker parameters, huge costs, garbage', async () => {
    const secret = generateStorageSecret();
    const record = JSON.parse(await createRecoveryRecord(secret, 'pw', { N: 2 ** 11, r: 8, p: 1 }));
    const weakened = JSON.stringify({ ...record, N: 2 ** 10 });
    expect((await errorOf(openRecoveryRecord(weakened, 'pw'))).code).toBe('wrong_password');
    for (const costly of [{ N: 2 ** 30 }, { N: 2 ** 20, r: 32 }, { p: 1000 }]) {
      const huge = JSON.stringify({ ...record, ...costly });
      expect((await errorOf(openRecoveryRecord(huge, 'pw'))).code).toBe('bad_recovery_record');
    }
    expect((await errorOf(openRecoveryRecord('{"v":2}', 'pw'))).code).toBe('bad_recovery_record');
    expect((await errorOf(openRecoveryRecord('not json', 'pw'))).code).toBe('bad_recovery_record');
    const { ct: _ct, ...missing } = record;
    expect((await errorOf(openRecoveryRecord(JSON.stringify(missing), 'pw'))).code).toBe(
      'bad_recovery_record',
    );
  });
});
