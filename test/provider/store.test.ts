/**
 * The contract every ProviderStore keeps, checked on the store itself: it runs against
 * SQLite and (the postgres project) against PostgreSQL. "Two processes" are two stores
 * opened on the same data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderStore, PushRow, WireDoc } from '../../provider/src/store/index.js';
import { testStoreKind, testStores } from '../helpers/test-store.js';

const doc = (id: string, hash: string, deleted = false): WireDoc => ({
  id,
  deleted,
  ciphertext: `ciphertext of ${id} at ${hash}`,
  hash,
});
const create = (d: WireDoc): PushRow => ({ assumedMasterState: null, newDocumentState: d });
const update = (from: WireDoc, to: WireDoc): PushRow => ({
  assumedMasterState: from,
  newDocumentState: to,
});

describe(`the provider store (${testStoreKind})`, () => {
  let dir: string;
  let a: ProviderStore;
  let b: ProviderStore;
  let n = 0;
  const newUser = async () => {
    const login = `user${++n}`;
    return a.createUser({
      id: `id-${login}`,
      login,
      address: `${login}@alpha.test`,
      salt: 'aa',
      verifier: 'bb',
      wkdHash: `wkd-${login}`,
    });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'provider-store-'));
    const stores = await testStores(dir);
    a = await stores.open();
    b = await stores.open();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds a user by id, login, address, WKD hash and key fingerprint', async () => {
    const user = await newUser();
    expect(await b.userByLogin(user.login)).toEqual(user);
    expect(await b.userByAddress(user.address)).toEqual(user);
    expect(await b.userByWkdHash(`wkd-${user.login}`)).toEqual(user);
    expect(await b.userByFingerprint('ab'.repeat(20))).toBeNull();
    await a.setPublicKey(user.id, 'armored key', 'ab'.repeat(20));
    expect(await b.userByFingerprint('ab'.repeat(20))).toMatchObject({
      id: user.id,
      publicKey: 'armored key',
      keyFingerprint: 'ab'.repeat(20),
    });
    const kdf = { algorithm: 'scrypt' as const, N: 2 ** 17, r: 8, p: 1 };
    await a.setPassword(user.id, 'cc', 'dd', kdf);
    expect(await b.userById(user.id)).toMatchObject({ salt: 'cc', verifier: 'dd', kdf });
    await expect(
      b.createUser({ ...user, id: 'another id', address: 'x@alpha.test', wkdHash: 'x' }),
    ).rejects.toThrow();
  });

  it('keeps a token alive while it is used and drops it after the idle time', async () => {
    const user = await newUser();
    await a.addToken('t1', user.id, 1000);
    expect(await b.touchToken('t1', 1500, 1000)).toEqual({ userId: user.id, lastUsedAt: 1500 });
    // Counted from the last use, not from the first.
    expect(await a.touchToken('t1', 2500, 1000)).toEqual({ userId: user.id, lastUsedAt: 2500 });
    expect(await b.touchToken('t1', 3501, 1000)).toBeNull();
    // Gone for good, not only too old now.
    expect(await a.touchToken('t1', 3501, 10_000_000)).toBeNull();
    expect(await a.touchToken('unknown', 0, 1000)).toBeNull();
  });

  it('ends every other session of an account, and one on logout', async () => {
    const user = await newUser();
    for (const t of ['s1', 's2', 's3']) await a.addToken(t, user.id, 0);
    await b.deleteTokensOf(user.id, 's2');
    expect(await a.touchToken('s1', 1, 1000)).toBeNull();
    expect(await a.touchToken('s3', 1, 1000)).toBeNull();
    expect(await a.touchToken('s2', 1, 1000)).not.toBeNull();
    await b.deleteToken('s2');
    expect(await a.touchToken('s2', 1, 1000)).toBeNull();
  });

  it('creates a recovery record only where there is none, and replaces it when told to', async () => {
    const user = await newUser();
    expect(await a.getRecovery(user.id)).toBeNull();
    const racing = await Promise.all([
      a.createRecovery(user.id, 'first'),
      b.createRecovery(user.id, 'second'),
    ]);
    expect(racing.filter(Boolean)).toHaveLength(1);
    const kept = racing[0] ? 'first' : 'second';
    expect(await b.getRecovery(user.id)).toBe(kept);
    expect(await a.createRecovery(user.id, 'third')).toBe(false);
    await a.setRecovery(user.id, 'replaced');
    expect(await b.getRecovery(user.id)).toBe('replaced');
  });

  it('gives updatedAt from a per-user clock that never goes back, whatever the wall clock does', async () => {
    const user = await newUser();
    const first = await a.push(user.id, 'c', [create(doc('d1', 'h1'))], 5000);
    const stalled = await b.push(user.id, 'c', [create(doc('d2', 'h1'))], 5000);
    const back = await a.push(user.id, 'c', [create(doc('d3', 'h1'))], 10);
    const times = [first, stalled, back].map((r) => r.written[0]!.updatedAt);
    expect(times).toEqual([5000, 5001, 5002]);
    // Another user's clock is their own.
    const other = await newUser();
    expect((await b.push(other.id, 'c', [create(doc('d1', 'h1'))], 10)).written[0]!.updatedAt).toBe(
      10,
    );
  });

  it('keeps the clock strictly increasing under concurrent pushes from two processes', async () => {
    const user = await newUser();
    const pushes = Array.from({ length: 40 }, (_, i) =>
      (i % 2 ? a : b).push(user.id, 'c', [create(doc(`doc${i}`, 'h'))], 1000),
    );
    const written = (await Promise.all(pushes)).flatMap((r) => r.written);
    expect(written).toHaveLength(40);
    const times = written.map((d) => d.updatedAt).sort((x, y) => x - y);
    expect(new Set(times).size).toBe(40);
    const pulled = await a.pull(user.id, 'c', null, 100);
    expect(pulled.map((d) => d.updatedAt)).toEqual(times);
  });

  it('lets only one of two processes create the same document; the other conflicts', async () => {
    const user = await newUser();
    const results = await Promise.all([
      a.push(user.id, 'c', [create(doc('same', 'from-a'))], 1000),
      b.push(user.id, 'c', [create(doc('same', 'from-b'))], 1000),
    ]);
    const winners = results.filter((r) => r.written.length === 1);
    expect(winners).toHaveLength(1);
    const loser = results.find((r) => r.conflicts.length === 1)!;
    const stored = await a.pull(user.id, 'c', null, 10);
    expect(stored).toHaveLength(1);
    expect(loser.conflicts).toEqual(stored);
  });

  it('applies a row only when its assumed state is the stored one, and pulls in order', async () => {
    const user = await newUser();
    const v1 = doc('x', 'v1');
    const v2 = doc('x', 'v2');
    await a.push(user.id, 'notes', [create(v1), create(doc('y', 'v1'))], 100);
    const stale = await b.push(user.id, 'notes', [update(doc('x', 'v0'), v2)], 200);
    expect(stale.written).toEqual([]);
    expect(stale.conflicts).toEqual([{ ...v1, updatedAt: 100 }]);
    const ok = await b.push(user.id, 'notes', [update(v1, v2)], 200);
    expect(ok.written).toEqual([{ ...v2, updatedAt: 200 }]);
    // A row that assumes a document which does not exist: a tombstone without content.
    const ghost = await a.push(user.id, 'notes', [update(doc('z', 'v1'), doc('z', 'v2'))], 300);
    expect(ghost.conflicts).toEqual([
      { id: 'z', deleted: true, ciphertext: '', hash: '', updatedAt: 0 },
    ]);
    // Order: updatedAt, then id; the checkpoint continues after the last one seen.
    const all = await a.pull(user.id, 'notes', null, 10);
    expect(all.map((d) => [d.id, d.updatedAt])).toEqual([
      ['y', 101],
      ['x', 200],
    ]);
    expect(await a.pull(user.id, 'notes', { id: 'y', updatedAt: 101 }, 10)).toEqual([all[1]]);
    expect(await a.pull(user.id, 'notes', null, 1)).toEqual([all[0]]);
    // Collections are apart.
    expect(await a.pull(user.id, 'other', null, 10)).toEqual([]);
    // A deletion is a document too.
    const gone = await a.push(user.id, 'notes', [update(v2, doc('x', 'v3', true))], 400);
    expect(gone.written[0]).toMatchObject({ id: 'x', deleted: true, updatedAt: 400 });
  });

  it('holds mail for a user and releases it once', async () => {
    const user = await newUser();
    const held = { userId: user.id, path: '/spool/x.eml', sender: 's@beta.test' };
    await a.holdMessage({ ...held, id: 'm1', receivedAt: 100 });
    await b.holdMessage({ ...held, id: 'm2', receivedAt: 200 });
    expect((await b.heldFor(user.id)).map((m) => m.id)).toEqual(['m1', 'm2']);
    expect(await a.heldFor(user.id)).toEqual([
      { ...held, id: 'm1', receivedAt: 100 },
      { ...held, id: 'm2', receivedAt: 200 },
    ]);
    expect((await a.heldBefore(150)).filter((m) => m.userId === user.id).map((m) => m.id)).toEqual([
      'm1',
    ]);
    await b.releaseHeld('m1');
    expect((await a.heldFor(user.id)).map((m) => m.id)).toEqual(['m2']);
  });

  it('remembers relayed envelope ids per user for a time, then forgets them', async () => {
    const user = await newUser();
    const other = await newUser();
    await a.rememberRelayed(user.id, 'env-1', 1000, 0);
    expect(await b.relayedBefore(user.id, 'env-1', 500)).toBe(true);
    expect(await b.relayedBefore(user.id, 'env-1', 1001)).toBe(false);
    expect(await b.relayedBefore(other.id, 'env-1', 0)).toBe(false);
    // The same id again (a resend that was delivered after all): the newer time counts.
    await b.rememberRelayed(user.id, 'env-1', 2000, 0);
    expect(await a.relayedBefore(user.id, 'env-1', 1500)).toBe(true);
    // Recording another forgets those older than the limit.
    await a.rememberRelayed(other.id, 'env-2', 5000, 3000);
    expect(await b.relayedBefore(user.id, 'env-1', 0)).toBe(false);
    expect(await b.relayedBefore(other.id, 'env-2', 0)).toBe(true);
  });

  it('hands a login handshake out once, to whichever process asks first, and not after it expired', async () => {
    const bounds = { perClient: 8, max: 1000 };
    const h = { key: 'alice\nA1', client: '10.0.0.1', value: 'state', expiresAt: 2000 };
    await a.addHandshake(h, bounds, 1000);
    const taken = await Promise.all([b.takeHandshake(h.key, 1500), a.takeHandshake(h.key, 1500)]);
    expect(taken.sort()).toEqual([null, 'state']);
    await a.addHandshake({ ...h, key: 'alice\nA2' }, bounds, 1000);
    expect(await b.takeHandshake('alice\nA2', 2001)).toBeNull();
  });

  it("bounds a client's pending handshakes (a newer one replaces its oldest) and all of them", async () => {
    const bounds = { perClient: 2, max: 5 };
    const add = (client: string, i: number) =>
      (i % 2 ? a : b).addHandshake(
        { key: `k ${client} ${i}`, client, value: `${client} ${i}`, expiresAt: 10_000 },
        bounds,
        0,
      );
    for (let i = 0; i < 3; i++) await add('flooder', i);
    expect(await a.takeHandshake('k flooder 0', 1)).toBeNull();
    expect(await b.takeHandshake('k flooder 2', 1)).toBe('flooder 2');
    for (const c of ['c1', 'c2', 'c3', 'c4', 'c5']) await add(c, 0);
    // Six pending beyond a bound of five: the oldest anywhere (flooder 1) went.
    expect(await a.takeHandshake('k flooder 1', 1)).toBeNull();
    expect(await a.takeHandshake('k c1 0', 1)).toBe('c1 0');
  });

  it('changes a login-limit record atomically, also against another process', async () => {
    const count = (store: ProviderStore) =>
      store.updateLimit('failures of x', 100, (current) => ({
        value: String(Number(current ?? '0') + 1),
        expiresAt: 1000,
      }));
    await Promise.all(Array.from({ length: 30 }, (_, i) => count(i % 2 ? a : b)));
    expect(await b.readLimit('failures of x', 500)).toBe('30');
    // Expired records read as nothing, and a change starts from nothing.
    expect(await a.readLimit('failures of x', 1001)).toBeNull();
    await a.updateLimit('failures of x', 1001, (current) => ({
      value: String(current),
      expiresAt: 2000,
    }));
    expect(await b.readLimit('failures of x', 1001)).toBe('null');
    await b.updateLimit('failures of x', 1001, () => null);
    expect(await a.readLimit('failures of x', 1001)).toBeNull();
  });
});
