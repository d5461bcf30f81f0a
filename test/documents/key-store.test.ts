/**
 * The synced KeyStore and settings on one device (the real encrypted account database, no
 * provider): what the key manager stores comes back, survives a restart, and bad records are
 * refused without losing what was stored.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS } from '../../native-host/src/documents/index.js';
import type { OwnKeyRecord } from '../../native-host/src/keys/index.js';
import {
  contactRecord,
  filesUnder,
  openDevice,
  tempDir,
  testKey,
  type Device,
  type TestKey,
} from './helpers.js';

const secret = randomBytes(64);
let tmp: ReturnType<typeof tempDir>;
let device: Device;
let alice: TestKey;
let bob: TestKey;
let carol: TestKey;

function ownRecord(key: TestKey, overrides: Partial<OwnKeyRecord> = {}): OwnKeyRecord {
  return {
    address: key.address,
    fingerprint: key.fingerprint,
    privateArmored: key.privateArmored,
    publicArmored: key.publicArmored,
    created: 5_000,
    expires: 5_000 + 365 * 86_400_000,
    active: true,
    publishedAt: null,
    ...overrides,
  };
}

const reopen = async () => {
  await device.close();
  device = await openDevice({ dir: tmp.dir, storageSecret: secret, name: 'alice@alpha.test' });
};

beforeAll(async () => {
  tmp = tempDir('keystore');
  [alice, bob, carol] = await Promise.all([
    testKey('alice@alpha.test'),
    testKey('bob@beta.test'),
    testKey('carol@gamma.test'),
  ]);
  device = await openDevice({ dir: tmp.dir, storageSecret: secret, name: 'alice@alpha.test' });
});

afterAll(async () => {
  await device?.close();
  tmp?.remove();
});

describe('KeyStore over the synced collections', () => {
  it('keeps own key pairs per address, private key included, and replaces one by fingerprint', async () => {
    const store = device.docs.keyStore;
    expect(await store.listOwnKeys('alice@alpha.test')).toEqual([]);
    await store.putOwnKey(ownRecord(alice));
    await store.putOwnKey(
      ownRecord(bob, { address: 'alice@alpha.test', created: 9_000, active: false }),
    );
    await store.putOwnKey(ownRecord(alice, { publishedAt: 7_000 }));
    const keys = await store.listOwnKeys('alice@alpha.test');
    expect(keys).toEqual([
      ownRecord(alice, { publishedAt: 7_000 }),
      ownRecord(bob, { address: 'alice@alpha.test', created: 9_000, active: false }),
    ]);
    expect(keys[0]!.privateArmored).toContain('BEGIN PGP PRIVATE KEY BLOCK');
    expect(await store.listOwnKeys('someone@alpha.test')).toEqual([]);
  });

  it('keeps one record per contact with its level and history, and lists them', async () => {
    const store = device.docs.keyStore;
    expect(await store.getContact('bob@beta.test')).toBeNull();
    const history = [
      {
        fingerprint: carol.fingerprint,
        validation: 'Weak_Chain' as const,
        source: 'vks' as const,
        firstSeen: 10,
        replacedAt: 20,
        reason: 'replaced by a key from the provider',
      },
    ];
    await store.putContact(
      contactRecord(bob, { validation: 'Provider_Trust', source: 'wkd', history }),
    );
    await store.putContact(contactRecord(carol));
    expect(await store.getContact('bob@beta.test')).toEqual(
      contactRecord(bob, { validation: 'Provider_Trust', source: 'wkd', history }),
    );
    await store.putContact(
      contactRecord(bob, { validation: 'Fingerprint', source: 'manual', history, encrUsed: true }),
    );
    expect(await store.getContact('bob@beta.test')).toMatchObject({
      validation: 'Fingerprint',
      source: 'manual',
      encrUsed: true,
      history,
    });
    expect((await store.listContacts()).map((c) => c.address)).toEqual([
      'bob@beta.test',
      'carol@gamma.test',
    ]);
  });

  it('still has everything after the device restarts', async () => {
    const before = {
      own: await device.docs.keyStore.listOwnKeys('alice@alpha.test'),
      contacts: await device.docs.keyStore.listContacts(),
    };
    await device.docs.settings.set('encryptedOnly', true);
    await reopen();
    expect(await device.docs.keyStore.listOwnKeys('alice@alpha.test')).toEqual(before.own);
    expect(await device.docs.keyStore.listContacts()).toEqual(before.contacts);
    expect(await device.docs.settings.get('encryptedOnly')).toBe(true);
  });

  it('refuses a bad record with a clear error and keeps what was stored', async () => {
    const store = device.docs.keyStore;
    const stored = await store.getContact('bob@beta.test');
    const bad = [
      contactRecord(bob, { validation: 'Trust_me' as never }),
      contactRecord(bob, { fingerprint: 'not-hex' }),
      contactRecord(bob, { armored: 'hello' }),
      contactRecord(bob, { address: 'Bob+tag@Beta.test' }),
      contactRecord(bob, { history: [{ fingerprint: bob.fingerprint } as never] }),
    ];
    for (const record of bad) {
      await expect(store.putContact(record)).rejects.toMatchObject({
        code: 'invalid_record',
        message: expect.stringContaining('was not saved'),
      });
    }
    await expect(
      store.putOwnKey(ownRecord(alice, { privateArmored: alice.publicArmored })),
    ).rejects.toMatchObject({
      code: 'invalid_record',
      message: expect.stringContaining('private key'),
    });
    expect(await store.getContact('bob@beta.test')).toEqual(stored);
    expect((await store.listOwnKeys('alice@alpha.test'))[0]!.privateArmored).toBe(
      alice.privateArmored,
    );
  });

  it('forgets a contact when asked', async () => {
    expect(await device.docs.keyStore.deleteContact('carol@gamma.test')).toBe(true);
    expect(await device.docs.keyStore.getContact('carol@gamma.test')).toBeNull();
    expect(await device.docs.keyStore.deleteContact('carol@gamma.test')).toBe(false);
    await device.docs.keyStore.putContact(contactRecord(carol, { validation: 'Provider_Trust' }));
    expect(await device.docs.keyStore.getContact('carol@gamma.test')).toMatchObject({
      validation: 'Provider_Trust',
    });
  });
});

describe('at rest', () => {
  it('keeps keys, addresses and fingerprints out of every file of the data directory', async () => {
    const files = filesUnder(tmp.dir);
    expect(files.some((f) => f.endsWith('account.db'))).toBe(true);
    const markers = [
      alice.privateArmored.split('\n')[3]!,
      bob.publicArmored.split('\n')[3]!,
      bob.address,
      bob.fingerprint,
      'Provider_Trust',
    ];
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const marker of markers)
        expect(bytes.includes(marker), `${marker} in ${file}`).toBe(false);
    }
  });
});

describe('settings', () => {
  it('reads defaults until set, and back to the default after a reset', async () => {
    await device.docs.settings.set('attachOwnKey', true);
    expect(await device.docs.settings.all()).toEqual({ encryptedOnly: true, attachOwnKey: true });
    await device.docs.settings.reset('encryptedOnly');
    await device.docs.settings.reset('attachOwnKey');
    expect(await device.docs.settings.all()).toEqual(DEFAULT_SETTINGS);
  });

  it('refuses unknown settings and values of the wrong type, changing nothing', async () => {
    await device.docs.settings.set('encryptedOnly', true);
    await expect(device.docs.settings.set('encryptedOnly', 'yes' as never)).rejects.toMatchObject({
      code: 'invalid_setting',
      message: expect.stringContaining('boolean'),
    });
    await expect(device.docs.settings.set('colour' as never, true as never)).rejects.toMatchObject({
      code: 'invalid_setting',
      message: expect.stringContaining('encryptedOnly'),
    });
    expect(await device.docs.settings.get('encryptedOnly')).toBe(true);
  });
});

describe('lifecycle', () => {
  it('says plainly that an account without a provider session does not sync', () => {
    expect(() => device.docs.startReplication()).toThrow(
      expect.objectContaining({ code: 'no_session' }),
    );
  });

  it('refuses use after close, and another account in the same database keeps its own documents', async () => {
    const other = await openDevice({
      dir: tmp.dir,
      storageSecret: secret,
      name: 'work@alpha.test',
    });
    try {
      expect(await other.docs.keyStore.listContacts()).toEqual([]);
      await other.docs.keyStore.putContact(contactRecord(bob));
      expect((await device.docs.keyStore.getContact('bob@beta.test'))!.validation).toBe(
        'Fingerprint',
      );
    } finally {
      await other.close();
    }
    await expect(other.docs.keyStore.listContacts()).rejects.toMatchObject({ code: 'closed' });
  });

  it('says when too many accounts are open at once, and opens again once one is closed', async () => {
    const opened: Device[] = [];
    const open = (i: number) =>
      openDevice({ dir: tmp.dir, storageSecret: secret, name: `extra${i}@alpha.test` });
    try {
      let refused: unknown = null;
      // RxDB's open-source build allows 13 collections per process; each account has 3.
      for (let i = 0; i < 5 && !refused; i++) {
        await open(i).then(
          (d) => opened.push(d),
          (err: unknown) => (refused = err),
        );
      }
      expect(refused).toMatchObject({
        code: 'too_many_open',
        message: expect.stringContaining('close one'),
      });
      await opened.pop()!.close();
      opened.push(await open(9));
    } finally {
      for (const d of opened) await d.close();
    }
  });
});
