/**
 * Encrypted replication against the real reference provider (`startProvider`): two devices of
 * the same user (same storage secret, separate encrypted databases) converge through it, and
 * the provider's files never hold the plaintext.
 */
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSyncStoreClient,
  MAX_SYNCED_DOC_BYTES,
} from '../../native-host/src/store/rxdb/index.js';
import { newAccount, startTestProvider, type TestProvider } from '../provider/helpers.js';
import { openDevice, waitFor, type Device } from './helpers/device.js';
import { randomDbKey, tempDir } from './helpers/sqlite.js';

const MARKERS = ['MARKER-provider-note-5d1e', 'marker-contact-7a9b@beta.test'];

let provider: TestProvider;
let tmp: ReturnType<typeof tempDir>;
let a: Device;
let b: Device;
let userId: string;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return [];
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

async function contactOn(d: Device, id: string) {
  return (await d.db.contacts.findOne(id).exec())?.toJSON() ?? null;
}

beforeAll(async () => {
  provider = await startTestProvider('alpha.test');
  tmp = tempDir('provider-sync');
  const account = await newAccount(provider, 'alice');
  userId = account.id;
  const client = createSyncStoreClient({
    baseUrl: `${provider.apiUrl}/1/sync`,
    token: () => account.token,
    agent: new https.Agent({ ca: provider.caCertPem }),
    servername: provider.domain,
    timeoutMs: 10_000,
  });
  // Two devices of one user: the same storage secret, each with its own database and key.
  const secret = randomBytes(64);
  const common = { dir: tmp.dir, storageSecret: secret, client, remoteId: provider.domain };
  a = await openDevice({ ...common, name: 'laptop', dbKeyHex: randomDbKey() });
  b = await openDevice({ ...common, name: 'desktop', dbKeyHex: randomDbKey() });
  a.startSync();
  b.startSync();
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await provider?.cleanup();
  tmp?.remove();
});

describe('replication through the reference provider', () => {
  it('shows a key verified on one device as verified on the other', async () => {
    await a.db.contacts.insert({
      id: 'k1',
      address: MARKERS[1]!,
      fingerprint: 'cd'.repeat(20),
      level: 1,
      verified: false,
      note: MARKERS[0],
    });
    await waitFor(async () => (await contactOn(b, 'k1')) !== null, 15_000, 'k1 on the desktop');
    expect((await contactOn(b, 'k1'))!.verified).toBe(false);

    await (
      await b.db.contacts.findOne('k1').exec(true)
    ).incrementalPatch({ verified: true, level: 4 });
    await waitFor(
      async () => (await contactOn(a, 'k1'))?.verified === true,
      15_000,
      'verified on the laptop',
    );
    expect(await contactOn(a, 'k1')).toEqual(await contactOn(b, 'k1'));
  });

  it('converges after concurrent offline edits and deletes', async () => {
    await a.db.settings.insert({ key: 'autocrypt', value: 'on' });
    await a.db.contacts.insert({
      id: 'k2',
      address: 'x@beta.test',
      fingerprint: 'ef'.repeat(20),
      level: 1,
      verified: false,
    });
    await waitFor(
      async () => (await b.db.settings.findOne('autocrypt').exec()) !== null,
      15_000,
      'setting on b',
    );
    await waitFor(async () => (await contactOn(b, 'k2')) !== null, 15_000, 'k2 on b');
    await a.stopSync();
    await b.stopSync();

    await (await a.db.contacts.findOne('k2').exec(true)).incrementalPatch({ level: 3 });
    await (await b.db.contacts.findOne('k2').exec(true)).incrementalPatch({ verified: true });
    await (await a.db.settings.findOne('autocrypt').exec(true)).remove();
    await (await b.db.settings.findOne('autocrypt').exec(true)).incrementalPatch({ value: 'off' });

    a.startSync();
    await a.inSync();
    b.startSync();
    await b.inSync();
    await waitFor(
      async () =>
        JSON.stringify(await contactOn(a, 'k2')) === JSON.stringify(await contactOn(b, 'k2')),
      15_000,
      'k2 converges',
    );
    expect(await contactOn(a, 'k2')).toMatchObject({ level: 3, verified: true });
    // The provider's state (a's delete, pushed first) wins for the setting on both devices.
    await waitFor(
      async () => (await b.db.settings.findOne('autocrypt').exec()) === null,
      15_000,
      'delete on b',
    );
    expect(await a.db.settings.findOne('autocrypt').exec()).toBeNull();
  });

  it('syncs a document just under the size limit', async () => {
    // Leaves room for the key and RxDB's bookkeeping fields, which the size check counts.
    const value = 'v'.repeat(MAX_SYNCED_DOC_BYTES - 200);
    await a.db.settings.insert({ key: 'big', value });
    await waitFor(
      async () => (await b.db.settings.findOne('big').exec())?.value.length === value.length,
      15_000,
      'big setting on the desktop',
    );
  });

  it("never stores the plaintext in the provider's files", async () => {
    await a.inSync();
    await b.inSync();
    // The documents are there, as ciphertext.
    expect(await provider.store.pull(userId, 'contacts', null, 100)).toHaveLength(2);
    const files = filesUnder(provider.dataDir);
    expect(files.some((f) => f.includes('provider.sqlite'))).toBe(true);
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const marker of MARKERS)
        expect(bytes.includes(marker), `${marker} in ${file}`).toBe(false);
    }
  });
});
