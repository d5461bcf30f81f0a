/**
 * Two devices of one user (two data directories, the same storage secret, each logged in with
 * its own session) sharing their keys and settings through the real reference provider on
 * loopback; the provider's files never hold them in the clear.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentsSession, SyncProblem } from '../../native-host/src/documents/index.js';
import { renewOwnKey } from '../../native-host/src/crypto/index.js';
import { KeyManager, type ContactKeyRecord } from '../../native-host/src/keys/index.js';
import { mapResolver, type Resolver } from '../../native-host/src/net/index.js';
import {
  bootstrapProvider,
  ProviderSession,
  type ProviderInfo,
} from '../../native-host/src/provider/index.js';
import { makeCertificates } from '../keys/servers.js';
import { api, startTestProvider, type TestProvider } from '../provider/helpers.js';
import {
  contactRecord,
  filesUnder,
  openDevice,
  tempDir,
  testKey,
  waitFor,
  type Device,
  type TestKey,
} from './helpers.js';

const ADDRESS = 'alice@alpha.test';
const PASSWORD = 'correct horse battery';
// The storage secret is what a second device recovers from the password; it is the same.
const storageSecret = randomBytes(64);
let info: ProviderInfo;
let provider: TestProvider;
let resolver: Resolver;
let tmp: ReturnType<typeof tempDir>;
let one: Device;
let two: Device;
let sessionOne: ProviderSession;
let sessionTwo: ProviderSession;
let bob: TestKey;
let carol: TestKey;
let dave: TestKey;
let mallory: TestKey;
const problems: SyncProblem[] = [];

/** The key manager a host would run on each device (no network sources: stored keys only). */
const manager = (d: Device) =>
  new KeyManager({
    store: d.docs.keyStore,
    address: ADDRESS,
    ownProvider: null,
    resolver,
    vksUrl: null,
  });

const contactOn = (d: Device, address: string) => d.docs.keyStore.getContact(address);

async function bothInSync() {
  expect(await one.docs.awaitInSync(15_000)).toBe(true);
  expect(await two.docs.awaitInSync(15_000)).toBe(true);
}

beforeAll(async () => {
  provider = await startTestProvider('alpha.test');
  resolver = mapResolver(
    Object.fromEntries(
      ['alpha.test', 'api.alpha.test'].map((host) => [host, { origin: provider.apiUrl }]),
    ),
  );
  info = await bootstrapProvider('alpha.test', {
    resolver,
    pinnedFingerprint: provider.caFingerprint,
  });
  sessionOne = await ProviderSession.signUp(info, 'alice', PASSWORD, { resolver });
  sessionTwo = await ProviderSession.logIn(info, 'alice', PASSWORD, {
    resolver,
  });
  [bob, carol, dave, mallory] = await Promise.all([
    testKey('bob@beta.test'),
    testKey('carol@gamma.test'),
    testKey('dave@delta.test'),
    testKey('dave@delta.test'),
  ]);
  tmp = tempDir('sync');
  const common = { storageSecret, name: ADDRESS, resolver };
  one = await openDevice({ ...common, dir: join(tmp.dir, 'one'), session: sessionOne });
  two = await openDevice({ ...common, dir: join(tmp.dir, 'two'), session: sessionTwo });
  for (const d of [one, two]) {
    d.docs.problems$.subscribe((p) => problems.push(p));
    d.docs.startReplication();
  }
});

afterAll(async () => {
  await one?.close();
  await two?.close();
  await provider?.cleanup();
  tmp?.remove();
});

describe('two devices of one user', () => {
  it('a new device uses the key made on the first and never makes its own', async () => {
    const made = await manager(one).ensureOwnKey();
    expect(made.ok).toBe(true);
    const key = made.ok ? made.value : null;
    expect(await one.docs.awaitInSync(15_000)).toBe(true);

    // A third device joins later: it waits for its first sync, then looks for its key.
    const joining = await openDevice({
      dir: join(tmp.dir, 'three'),
      storageSecret,
      name: ADDRESS,
      resolver,
      session: await ProviderSession.logIn(info, 'alice', PASSWORD, { resolver }),
    });
    try {
      joining.docs.startReplication();
      expect(await joining.docs.awaitInSync(15_000)).toBe(true);
      const third = manager(joining);
      const found = await third.ensureOwnKey();
      expect(found.ok && found.value.fingerprint).toBe(key!.fingerprint);
      expect(await joining.docs.keyStore.listOwnKeys(ADDRESS)).toEqual([key]);
      expect(await third.decryptionKeys()).toEqual([key!.privateArmored]);
    } finally {
      await joining.close();
    }
    // The device already running gets it live.
    await waitFor(
      async () => (await two.docs.keyStore.listOwnKeys(ADDRESS)).length === 1,
      'the own key on device two',
    );
    expect(await two.docs.keyStore.listOwnKeys(ADDRESS)).toEqual([key]);
  });

  it('a contact verified by fingerprint on one device shows as verified on the other', async () => {
    const first = manager(one);
    const learned = await first.consider(bob.address, bob.publicArmored, 'autocrypt');
    expect(learned.accepted).toBe(true);
    await waitFor(async () => (await contactOn(two, bob.address)) !== null, 'bob on device two');
    const [before] = await manager(two).recipientStatus([bob.address]);
    expect(before!.validation).toBe('Weak_Chain');

    const verified = await first.verifyFingerprint(bob.address, bob.fingerprint);
    expect(verified.ok).toBe(true);
    await waitFor(
      async () => (await contactOn(two, bob.address))?.validation === 'Fingerprint',
      'Fingerprint on device two',
    );
    const [after] = await manager(two).recipientStatus([bob.address]);
    expect(after).toMatchObject({
      status: 'key',
      validation: 'Fingerprint',
      fingerprint: bob.fingerprint,
    });
  });

  it('shares settings', async () => {
    await two.docs.settings.set('encryptedOnly', true);
    await waitFor(
      async () => (await one.docs.settings.get('encryptedOnly')) === true,
      'the setting on device one',
    );
  });

  it('concurrent edits on both devices converge to one state that keeps both edits', async () => {
    await one.docs.keyStore.putContact(contactRecord(carol));
    await one.docs.keyStore.putContact(contactRecord(dave, { validation: 'Provider_Trust' }));
    await bothInSync();
    expect(await contactOn(two, dave.address)).not.toBeNull();
    await one.docs.stop();
    await two.docs.stop();

    // Offline on both: one device uses carol's key, the other verifies it.
    const carolOnTwo = (await contactOn(two, carol.address))!;
    await one.docs.keyStore.putContact(contactRecord(carol, { encrUsed: true, lastSeen: 2_000 }));
    await two.docs.keyStore.putContact({
      ...carolOnTwo,
      validation: 'Fingerprint',
      source: 'manual',
      lastSeen: 1_500,
    });
    // Dave: one device verifies his key, the other takes a stranger's key from a message.
    await one.docs.keyStore.putContact(
      contactRecord(dave, { validation: 'Fingerprint', source: 'manual' }),
    );
    await two.docs.keyStore.putContact(contactRecord(mallory, { lastSeen: 3_000 }));
    // The own key: one device records its publication, the other renews it meanwhile.
    const own = (await one.docs.keyStore.listOwnKeys(ADDRESS))[0]!;
    await one.docs.keyStore.putOwnKey({ ...own, publishedAt: 9_000 });
    const renewed = await renewOwnKey(own.privateArmored, {
      now: new Date(own.created + 320 * 86_400_000),
    });
    if (!renewed.ok) throw new Error(renewed.error.message);
    const renewedRecord = {
      ...own,
      privateArmored: renewed.value.privateArmored,
      publicArmored: renewed.value.publicArmored,
      expires: renewed.value.expires.getTime(),
    };
    await two.docs.keyStore.putOwnKey(renewedRecord);

    one.docs.startReplication();
    expect(await one.docs.awaitInSync(15_000)).toBe(true);
    two.docs.startReplication();
    await bothInSync();
    const same = async (address: string) =>
      JSON.stringify(await contactOn(one, address)) ===
      JSON.stringify(await contactOn(two, address));
    await waitFor(
      async () => (await same(carol.address)) && (await same(dave.address)),
      'converge',
    );

    expect(await contactOn(one, carol.address)).toEqual(
      contactRecord(carol, {
        validation: 'Fingerprint',
        source: 'manual',
        encrUsed: true,
        lastSeen: 2_000,
      }),
    );
    // The verified key stays; the stranger's key is only remembered in the history.
    const daveNow = (await contactOn(two, dave.address)) as ContactKeyRecord;
    expect(daveNow).toMatchObject({ fingerprint: dave.fingerprint, validation: 'Fingerprint' });
    expect(daveNow.history.map((h) => h.fingerprint)).toEqual([mallory.fingerprint]);
    // The renewal wins, and since the provider has not seen it yet it counts as unpublished.
    expect(await one.docs.keyStore.listOwnKeys(ADDRESS)).toEqual([renewedRecord]);
  });

  it('a contact deleted on one device is gone on the other', async () => {
    expect(await two.docs.keyStore.deleteContact(carol.address)).toBe(true);
    await waitFor(async () => (await contactOn(one, carol.address)) === null, 'delete on one');
    await bothInSync();
    expect((await one.docs.keyStore.listContacts()).map((c) => c.address)).toEqual([
      bob.address,
      dave.address,
    ]);
  });

  it('a device restarted while the other kept working catches up, on the same tables', async () => {
    const tables = () =>
      two.store.database.raw
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
    const before = tables();
    await two.close();
    await one.docs.keyStore.putContact(contactRecord(carol, { validation: 'Provider_Trust' }));
    two = await openDevice({
      dir: join(tmp.dir, 'two'),
      storageSecret,
      name: ADDRESS,
      resolver,
      session: sessionTwo,
    });
    two.docs.problems$.subscribe((p) => problems.push(p));
    expect((await two.docs.keyStore.listContacts()).map((c) => c.address)).toEqual([
      bob.address,
      dave.address,
    ]);
    two.docs.startReplication();
    await waitFor(
      async () => (await contactOn(two, carol.address))?.validation === 'Provider_Trust',
      'the change made while device two was off',
    );
    // Its documents and RxDB's replication checkpoints stay in the tables of the last run.
    expect(tables()).toEqual(before);
  });

  it('keeps syncing after the provider refuses the session token (a new login)', async () => {
    const refused = await sessionOne.token();
    const revoked = await api(provider, 'DELETE', '/1/logout', { token: refused });
    expect(revoked.status).toBeLessThan(300);
    await one.docs.settings.set('attachOwnKey', true);
    await waitFor(
      async () => (await two.docs.settings.get('attachOwnKey')) === true,
      'a change made after the token was revoked',
    );
    expect(await sessionOne.token()).not.toBe(refused);
  });

  /** A device of this account whose sync cannot work: what it reports, and what it pulled. */
  async function failingDevice(label: string, session: DocumentsSession) {
    const device = await openDevice({
      dir: join(tmp.dir, label),
      storageSecret,
      name: ADDRESS,
      resolver,
      session,
    });
    const seen: SyncProblem[] = [];
    try {
      device.docs.problems$.subscribe((p) => seen.push(p));
      await device.docs.keyStore.putOwnKey({
        address: ADDRESS,
        fingerprint: mallory.fingerprint,
        privateArmored: mallory.privateArmored,
        publicArmored: mallory.publicArmored,
        created: 1_000,
        expires: 2_000,
        active: false,
        publishedAt: null,
      });
      device.docs.startReplication();
      // Pulls and pushes of all three collections fail and are retried every 200 ms.
      await waitFor(() => seen.filter((p) => p.collection === 'ownkeys').length >= 6, 'problems');
      return { seen, contacts: await device.docs.keyStore.listContacts() };
    } finally {
      await device.close();
    }
  }

  it('reports a refused sync without the documents in the report', async () => {
    const { seen } = await failingDevice('refused', {
      provider: info,
      token: async () => 'not-a-token',
    });
    expect(seen.every((p) => p.code === 'sync_unauthorized')).toBe(true);
    expect(seen[0]!.message).toContain('refused');
    const reported = JSON.stringify(seen);
    for (const secret of [mallory.privateArmored.split('\n')[3]!, mallory.fingerprint]) {
      expect(reported).not.toContain(secret);
    }
  });

  it("trusts only the provider's pinned CA", async () => {
    const other = await makeCertificates(['alpha.test', 'api.alpha.test']);
    const { seen, contacts } = await failingDevice('other-ca', {
      provider: { ...info, caCertPem: other.caPem },
      token: () => sessionOne.token(),
    });
    expect(seen.every((p) => p.code === 'sync_http')).toBe(true);
    expect(seen[0]!.message).toMatch(/certificate/i);
    expect(contacts).toEqual([]);
  });

  it('refused nothing the provider sent', () => {
    expect(problems.filter((p) => p.code === 'decrypt_failed' || p.code === 'rollback')).toEqual(
      [],
    );
  });
});

describe("the provider's sync store", () => {
  it('holds the documents only as ciphertext', async () => {
    await bothInSync();
    const own = (await one.docs.keyStore.listOwnKeys(ADDRESS))[0]!;
    const middle = (armored: string) => armored.split('\n').find((l) => l.length >= 60)!;
    const markers = [
      bob.address,
      dave.address,
      bob.fingerprint,
      bob.fingerprint.toLowerCase(),
      middle(bob.publicArmored),
      own.fingerprint,
      own.fingerprint.toLowerCase(),
      middle(own.privateArmored),
      middle(own.publicArmored),
      'encryptedOnly',
    ];
    // The documents are there, sealed.
    for (const collection of ['ownkeys', 'contacts', 'settings']) {
      expect(
        (await provider.store.pull(sessionOne.userId, collection, null, 100)).length,
      ).toBeGreaterThan(0);
    }
    const files = filesUnder(provider.dataDir);
    // The scan does see what the provider stores in the clear: its user's login.
    expect(files.some((f) => readFileSync(f).includes(ADDRESS.split('@')[0]!))).toBe(true);
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const marker of markers)
        expect(bytes.includes(marker), `${marker} in ${file}`).toBe(false);
    }
  });
});
