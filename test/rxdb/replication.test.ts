import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { firstValueFrom, filter, take, timeout, toArray } from 'rxjs';
import { afterEach, beforeAll, afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createSyncStoreClient,
  MAX_SYNCED_DOC_BYTES,
  RxdbStoreError,
  SyncKeys,
  type SyncStoreClient,
} from '../../native-host/src/store/rxdb/index.js';
import { openDevice, waitFor, type Device } from './helpers/device.js';
import { randomDbKey, tempDir } from './helpers/sqlite.js';
import type { ContactDoc } from './helpers/schemas.js';
import { startSyncStandin, type SyncStandin } from './helpers/sync-standin.js';
import { makeTestTls, type TestTls } from './helpers/tls.js';

const USER = 'alice@alpha.test';
const TOKEN = 'token-alice';
const RENEWED = 'token-alice-renewed';

let tls: TestTls;
let tlsDir: ReturnType<typeof tempDir>;
let tmp: ReturnType<typeof tempDir>;
let server: SyncStandin;
let secret: Buffer;
let devices: Device[] = [];

function client(ca = tls.ca, token = TOKEN, streamIdleMs?: number): SyncStoreClient {
  return createSyncStoreClient({
    baseUrl: server.url,
    token: () => token,
    agent: new https.Agent({ ca }),
    servername: 'sync.test',
    timeoutMs: 5000,
    streamIdleMs,
  });
}

async function device(name: string, c = client()): Promise<Device> {
  const d = await openDevice({
    dir: tmp.dir,
    name,
    dbKeyHex: randomDbKey(),
    storageSecret: secret,
    client: c,
    remoteId: 'alpha.test',
  });
  devices.push(d);
  return d;
}

function contact(id: string, extra: Partial<ContactDoc> = {}): ContactDoc {
  return {
    id,
    address: `${id}@beta.test`,
    fingerprint: 'ab'.repeat(20),
    level: 1,
    verified: false,
    ...extra,
  };
}

async function contactOn(d: Device, id: string) {
  return (await d.db.contacts.findOne(id).exec())?.toJSON() ?? null;
}

beforeAll(() => {
  tlsDir = tempDir('tls');
  tls = makeTestTls(tlsDir.dir, 'sync.test');
});
afterAll(() => tlsDir.remove());

beforeEach(async () => {
  tmp = tempDir('repl');
  secret = randomBytes(64);
  server = await startSyncStandin(tls, { [TOKEN]: USER, [RENEWED]: USER });
});

afterEach(async () => {
  for (const d of devices) await d.close();
  devices = [];
  await server.close();
  tmp.remove();
});

describe('encrypted replication (against the unit-test sync store stand-in)', () => {
  it('carries inserts, updates and deletes from one device to another', async () => {
    const a = await device('deva');
    const b = await device('devb');
    let conflicts = 0;
    for (const r of [...a.startSync(), ...b.startSync()])
      r.state.conflict$.subscribe(() => conflicts++);

    await a.db.contacts.insert(contact('bob'));
    await a.db.settings.insert({ key: 'compose.warn', value: 'on' });
    await waitFor(async () => (await contactOn(b, 'bob')) !== null, 10_000, 'insert on b');
    expect(await contactOn(b, 'bob')).toEqual(contact('bob'));

    // Several updates in a row: each one must reach the provider and the other device,
    // not get stuck as a conflict because the assumed master state was re-encrypted.
    for (let level = 2; level <= 4; level++) {
      await (await a.db.contacts.findOne('bob').exec(true)).incrementalPatch({ level });
      await a.inSync();
    }
    await waitFor(async () => (await contactOn(b, 'bob'))?.level === 4, 10_000, 'updates on b');

    // Now b edits the document a created, and a sees it.
    await (
      await b.db.contacts.findOne('bob').exec(true)
    ).incrementalPatch({ verified: true, level: 5 });
    await waitFor(
      async () => (await contactOn(a, 'bob'))?.verified === true,
      10_000,
      'b edit on a',
    );

    await (await a.db.contacts.findOne('bob').exec(true)).remove();
    await waitFor(async () => (await contactOn(b, 'bob')) === null, 10_000, 'delete on b');
    expect((await b.db.settings.findOne('compose.warn').exec(true)).value).toBe('on');

    // Sequential edits are not conflicts, though every push re-encrypts with a fresh IV.
    expect(conflicts).toBe(0);
    const stored = server.docs(USER, 'contacts');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.deleted).toBe(true);
  });

  it('stores only ciphertext under pseudonymous ids at the provider', async () => {
    const a = await device('deva');
    a.startSync();
    const marker = 'MARKER-sync-plaintext-91c2';
    await a.db.contacts.insert(contact('carol', { note: marker }));
    await a.inSync();
    const stored = server.docs(USER, 'contacts');
    expect(stored).toHaveLength(1);
    const everything = JSON.stringify(stored);
    expect(everything).not.toContain(marker);
    expect(everything).not.toContain('carol');
    expect(everything).not.toContain('beta.test');
  });

  it('resolves concurrent edits of the same document on two devices to one merged state', async () => {
    const a = await device('deva');
    const b = await device('devb');
    a.startSync();
    b.startSync();
    await a.db.contacts.insert(contact('dave'));
    await waitFor(async () => (await contactOn(b, 'dave')) !== null, 10_000, 'dave on b');
    await a.stopSync();
    await b.stopSync();

    // Offline, each device changes something different in the same document.
    await (
      await a.db.contacts.findOne('dave').exec(true)
    ).incrementalPatch({ level: 3, note: 'from a' });
    await (
      await b.db.contacts.findOne('dave').exec(true)
    ).incrementalPatch({ verified: true, note: 'from b' });

    a.startSync();
    await a.inSync();
    const [bContacts] = b.startSync();
    const conflict = await firstValueFrom(
      bContacts!.state.conflict$.pipe(take(1), timeout(10_000)),
    );
    // RxDB hands the conflict handler the provider's state already decrypted.
    expect(conflict.input.realMasterState).toMatchObject({ id: 'dave', note: 'from a' });
    await b.inSync();
    await waitFor(
      async () => {
        const [x, y] = [await contactOn(a, 'dave'), await contactOn(b, 'dave')];
        return JSON.stringify(x) === JSON.stringify(y);
      },
      10_000,
      'convergence',
    );
    const merged = await contactOn(a, 'dave');
    // b came second: it got a's state as the conflict, merged (max level, any verification).
    expect(merged).toMatchObject({ level: 3, verified: true, note: 'from a' });
    // The local documents are plaintext documents, never wire documents.
    expect(merged).not.toHaveProperty('ciphertext');
    const opened = new SyncKeys(secret).decrypt(
      'contacts',
      server.docs(USER, 'contacts')[0]!,
      'id',
    );
    expect(opened.doc).toMatchObject({ id: 'dave', level: 3, verified: true });
  });

  it('lets a delete on one device and an edit on the other converge', async () => {
    const a = await device('deva');
    const b = await device('devb');
    a.startSync();
    b.startSync();
    await a.db.contacts.insert(contact('erin'));
    await waitFor(async () => (await contactOn(b, 'erin')) !== null, 10_000, 'erin on b');
    await a.stopSync();
    await b.stopSync();

    await (await a.db.contacts.findOne('erin').exec(true)).remove();
    await (await b.db.contacts.findOne('erin').exec(true)).incrementalPatch({ level: 2 });
    a.startSync();
    await a.inSync();
    b.startSync();
    await b.inSync();
    // The provider's state (the delete) wins, on both devices.
    await waitFor(async () => (await contactOn(b, 'erin')) === null, 10_000, 'delete wins on b');
    expect(await contactOn(a, 'erin')).toBeNull();
    expect(server.docs(USER, 'contacts')[0]!.deleted).toBe(true);
  });

  it('refuses documents the provider swapped, altered or rolled back, and keeps the good ones', async () => {
    const a = await device('deva');
    const b = await device('devb');
    a.startSync();
    b.startSync();
    const rejected = b.replications[0]!.rejected$;
    const keys = new SyncKeys(secret);
    const wid = (id: string) => keys.wireId('contacts', id);

    await a.db.contacts.bulkInsert([
      contact('frank', { level: 1 }),
      contact('grace', { level: 1 }),
    ]);
    await waitFor(async () => (await contactOn(b, 'grace')) !== null, 10_000, 'initial docs on b');
    const frankV1 = server.docs(USER, 'contacts').find((d) => d.id === wid('frank'))!;
    await (await a.db.contacts.findOne('frank').exec(true)).incrementalPatch({ level: 4 });
    await waitFor(async () => (await contactOn(b, 'frank'))?.level === 4, 10_000, 'frank v2 on b');

    const errors = firstValueFrom(rejected.pipe(take(3), toArray(), timeout(10_000)));
    // 1. Rollback: an older, genuine version of frank.
    server.tamper(USER, 'contacts', frankV1);
    // 2. Swap: frank's ciphertext served as grace.
    server.tamper(USER, 'contacts', { ...frankV1, id: wid('grace') });
    // 3. A flipped tombstone flag on grace's genuine ciphertext.
    const grace = server.docs(USER, 'contacts').find((d) => d.id === wid('grace'))!;
    server.tamper(USER, 'contacts', { ...grace, deleted: true, hash: 'x' });

    const codes = (await errors).map((e) => e.code).sort();
    expect(codes).toEqual(['decrypt_failed', 'decrypt_failed', 'rollback']);
    for (const e of await errors) expect(e).toBeInstanceOf(RxdbStoreError);
    // A good document after the bad ones still gets through.
    await a.db.contacts.insert(contact('heidi'));
    await waitFor(async () => (await contactOn(b, 'heidi')) !== null, 10_000, 'heidi on b');
    expect((await contactOn(b, 'frank'))?.level).toBe(4);
    expect(await contactOn(b, 'grace')).toEqual(contact('grace', { level: 1 }));
  });

  it('reconnects the live stream after the provider drops it and catches up', async () => {
    const a = await device('deva');
    const b = await device('devb');
    a.startSync();
    b.startSync();
    await a.db.contacts.insert(contact('ivan'));
    await waitFor(async () => (await contactOn(b, 'ivan')) !== null, 10_000, 'ivan on b');

    server.dropStreams();
    await a.db.contacts.insert(contact('judy'));
    await (await a.db.contacts.findOne('ivan').exec(true)).incrementalPatch({ level: 5 });
    await waitFor(
      async () => (await contactOn(b, 'judy')) !== null,
      10_000,
      'judy on b after reconnect',
    );
    await waitFor(
      async () => (await contactOn(b, 'ivan'))?.level === 5,
      10_000,
      'ivan update on b',
    );
  });

  it('reopens a stream that went silent without closing', async () => {
    const a = await device('deva');
    const b = await device('devb', client(tls.ca, TOKEN, 500));
    a.startSync();
    b.startSync();
    await a.db.contacts.insert(contact('kim'));
    await waitFor(async () => (await contactOn(b, 'kim')) !== null, 10_000, 'kim on b');

    server.freezeStreams();
    await a.db.contacts.insert(contact('lou'));
    await waitFor(
      async () => (await contactOn(b, 'lou')) !== null,
      10_000,
      'lou on b after the stall',
    );
  });

  it('refuses a document too large to sync, keeps the stored one, and keeps syncing', async () => {
    const a = await device('deva');
    const b = await device('devb');
    a.startSync();
    b.startSync();
    await a.db.contacts.insert(contact('olga', { note: 'small' }));
    const huge = 'x'.repeat(MAX_SYNCED_DOC_BYTES);
    await expect(a.db.contacts.insert(contact('pete', { note: huge }))).rejects.toMatchObject({
      code: 'too_large',
    });
    const olga = await a.db.contacts.findOne('olga').exec(true);
    await expect(olga.incrementalPatch({ note: huge })).rejects.toMatchObject({
      code: 'too_large',
    });
    expect((await contactOn(a, 'olga'))!.note).toBe('small');
    expect(await contactOn(a, 'pete')).toBeNull();

    await a.db.contacts.insert(contact('quinn'));
    await waitFor(async () => (await contactOn(b, 'quinn')) !== null, 10_000, 'quinn on b');
    expect((await contactOn(b, 'olga'))!.note).toBe('small');
  });

  it('ends its change streams when the database closes without stopping sync first', async () => {
    const a = await device('deva');
    a.startSync();
    await waitFor(() => server.openStreams() === 2, 10_000, 'both streams open');
    await a.db.close();
    await waitFor(() => server.openStreams() === 0, 10_000, 'streams closed');
  });

  it('keeps local data and pushes nothing when the provider presents a certificate from another CA', async () => {
    const otherDir = tempDir('tls-other');
    try {
      const other = makeTestTls(otherDir.dir, 'sync.test');
      const a = await device('deva', client(other.ca));
      const [contacts] = a.startSync();
      const err = firstValueFrom(contacts!.state.error$.pipe(take(1), timeout(10_000)));
      await a.db.contacts.insert(contact('mallory-test'));
      expect(String((await err).message + JSON.stringify((await err).parameters))).toMatch(
        /certificate|self.signed|verify/i,
      );
      expect(server.docs(USER, 'contacts')).toEqual([]);
      expect(await contactOn(a, 'mallory-test')).not.toBeNull();
    } finally {
      otherDir.remove();
    }
  });

  it('uses a renewed session token from the next request on', async () => {
    let token = 'expired';
    const c = createSyncStoreClient({
      baseUrl: server.url,
      token: () => token,
      agent: new https.Agent({ ca: tls.ca }),
      servername: 'sync.test',
    });
    const a = await device('deva', c);
    const [contacts] = a.startSync();
    await firstValueFrom(contacts!.state.error$.pipe(take(1), timeout(10_000)));
    await a.db.contacts.insert(contact('nina'));
    token = RENEWED;
    await waitFor(() => server.docs(USER, 'contacts').length === 1, 10_000, 'push after renewal');
  });

  it('reports a refused token as an error with a clear code', async () => {
    const bad = client(tls.ca, 'not-a-token');
    await expect(bad.pull('contacts', null, 10)).rejects.toMatchObject({
      code: 'sync_unauthorized',
    });
    expect(() =>
      createSyncStoreClient({ baseUrl: 'http://sync.example.org/1/sync', token: () => TOKEN }),
    ).toThrow(/must use https/);
    await expect(bad.pull('Not Valid!', null, 10)).rejects.toMatchObject({
      code: 'invalid_params',
    });
  });

  it('keeps documents and their revision across a restart of both devices', async () => {
    const a = await device('deva');
    a.startSync();
    await a.db.contacts.insert(contact('kate'));
    await a.inSync();
    await (await a.db.contacts.findOne('kate').exec(true)).incrementalPatch({ level: 2 });
    await a.inSync();
    const v2 = server.docs(USER, 'contacts')[0]!;
    await a.close();
    devices = devices.filter((d) => d !== a);

    // A fresh device (new database file) with the same secret gets everything from the provider.
    const c = await device('devc');
    c.startSync();
    await waitFor(async () => (await contactOn(c, 'kate'))?.level === 2, 10_000, 'kate on c');
    const errors: string[] = [];
    const sub = c.replications[0]!.rejected$.pipe(filter((e) => e.code === 'rollback')).subscribe(
      (e) => errors.push(e.code),
    );
    await (await c.db.contacts.findOne('kate').exec(true)).incrementalPatch({ level: 3 });
    await c.inSync();
    // The provider serving v2 again after c has seen v3 is a rollback.
    server.tamper(USER, 'contacts', v2);
    await waitFor(() => errors.length === 1, 10_000, 'rollback detected');
    sub.unsubscribe();
    expect((await contactOn(c, 'kate'))?.level).toBe(3);
  });
});
