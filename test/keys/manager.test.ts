/**
 * The key manager against loopback HTTPS servers standing in for the own provider
 * (alpha.test), a WKD domain with the advanced method (beta.test), one with the direct method
 * only (gamma.test), another LEAP provider (delta.test) and a VKS keyserver (keys.example).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certifyKey,
  generateOwnKey,
  openMessage,
  renewOwnKey,
  signMessage,
  type OwnKey,
} from '../../native-host/src/crypto/index.js';
import {
  KeyManager,
  MemoryKeyStore,
  wkdHash,
  type KeyManagerOptions,
} from '../../native-host/src/keys/index.js';
import { makeCertificates, startFakeWeb, type FakeWeb, type Route } from './servers.js';

const HOSTS = [
  'api.alpha.test',
  'alpha.test',
  'openpgpkey.beta.test',
  'beta.test',
  'gamma.test',
  'www.gamma.test',
  'delta.test',
  'api.delta.test',
  'keys.example',
];

let web: FakeWeb;
const k: Record<string, OwnKey> = {};

function binary(armored: string): Uint8Array {
  const body = armored
    .split(/\r?\n\r?\n/)[1]!
    .split(/\r?\n/)
    .filter((l) => !l.startsWith('=') && !l.startsWith('-----'))
    .join('');
  return Buffer.from(body, 'base64');
}

function wkdRoute(prefix: string, keys: Record<string, () => string>): Route {
  return (path) => {
    for (const [local, armored] of Object.entries(keys)) {
      if (path === `${prefix}/hu/${wkdHash(local)}`)
        return { status: 200, body: binary(armored()), type: 'application/octet-stream' };
    }
    return undefined;
  };
}

let bobAdvanced: () => string;
let carolDirect: () => string;
let ginaDirect: () => string;

beforeAll(async () => {
  const tls = await makeCertificates(HOSTS);
  web = await startFakeWeb(tls, HOSTS);
  const people = [
    'alice2@alpha.test',
    'bob@beta.test',
    'bob-direct@beta.test',
    'carol@gamma.test',
    'dan@delta.test',
    'erin@epsilon.test',
    'bob@beta.test#new',
    'bob@beta.test#attacker',
    'frank@gamma.test#wrong',
  ];
  for (const who of people) {
    const address = who.split('#')[0]!;
    k[who] = await generateOwnKey({
      address: address === 'frank@gamma.test' ? 'mallory@evil.test' : address,
    });
  }
  // Gina's key is 320 days old: due for renewal.
  k['gina@gamma.test'] = await generateOwnKey({
    address: 'gina@gamma.test',
    now: new Date(Date.now() - 320 * 86_400_000),
  });
  ginaDirect = () => k['gina@gamma.test']!.publicArmored;
  bobAdvanced = () => k['bob@beta.test']!.publicArmored;
  carolDirect = () => k['carol@gamma.test']!.publicArmored;
  const caFingerprint = createHash('sha256')
    .update(new X509Certificate(tls.caPem).raw)
    .digest('hex');
  web.routes.set('api.alpha.test', (path, url) =>
    path === '/nicknym' && url.searchParams.get('address') === 'alice2@alpha.test'
      ? {
          status: 200,
          body: JSON.stringify({
            address: 'alice2@alpha.test',
            openpgp: k['alice2@alpha.test']!.publicArmored,
          }),
        }
      : undefined,
  );
  web.routes.set(
    'openpgpkey.beta.test',
    wkdRoute('/.well-known/openpgpkey/beta.test', { bob: () => bobAdvanced() }),
  );
  // The direct method serves a different key: it must not be asked while the advanced one answers.
  web.routes.set(
    'beta.test',
    wkdRoute('/.well-known/openpgpkey', { bob: () => k['bob-direct@beta.test']!.publicArmored }),
  );
  web.routes.set(
    'gamma.test',
    wkdRoute('/.well-known/openpgpkey', {
      carol: () => carolDirect(),
      gina: () => ginaDirect(),
      frank: () => k['frank@gamma.test#wrong']!.publicArmored,
    }),
  );
  web.routes.set('delta.test', (path) => {
    if (path === '/provider.json') {
      return {
        status: 200,
        type: 'application/json',
        body: JSON.stringify({
          domain: 'delta.test',
          api_uri: 'https://api.delta.test',
          ca_cert_uri: 'https://delta.test/ca.crt',
          ca_cert_fingerprint: `SHA256: ${caFingerprint}`,
          services: ['mx'],
        }),
      };
    }
    return path === '/ca.crt' ? { status: 200, body: tls.caPem } : undefined;
  });
  web.routes.set('api.delta.test', (path, url) =>
    path === '/nicknym' && url.searchParams.get('address') === 'dan@delta.test'
      ? {
          status: 200,
          body: JSON.stringify({
            address: 'dan@delta.test',
            openpgp: k['dan@delta.test']!.publicArmored,
          }),
        }
      : undefined,
  );
  web.routes.set('keys.example', (path) =>
    path === '/vks/v1/by-email/erin%40epsilon.test'
      ? { status: 200, body: k['erin@epsilon.test']!.publicArmored }
      : undefined,
  );
});

afterAll(async () => {
  await web?.close();
});

function manager(overrides: Partial<KeyManagerOptions> = {}): KeyManager {
  return new KeyManager({
    store: new MemoryKeyStore(),
    address: 'alice@alpha.test',
    ownProvider: { apiUri: 'https://api.alpha.test', caPem: web.caPem },
    resolver: web.resolver,
    vksUrl: 'https://keys.example',
    ...overrides,
  });
}

const ownProviderHosts = ['api.alpha.test', 'alpha.test'];

describe('discovery', () => {
  it('finds each key where it lives, with the level its source deserves', async () => {
    const km = manager();
    const expectations = [
      ['alice2@alpha.test', 'own-nicknym', 'Provider_Trust', 'alice2@alpha.test'],
      ['bob@beta.test', 'wkd', 'Provider_Trust', 'bob@beta.test'],
      ['carol@gamma.test', 'wkd', 'Provider_Trust', 'carol@gamma.test'],
      ['dan@delta.test', 'provider-nicknym', 'Provider_Trust', 'dan@delta.test'],
      ['erin@epsilon.test', 'vks', 'Weak_Chain', 'erin@epsilon.test'],
    ] as const;
    for (const [address, source, validation, key] of expectations) {
      const found = await km.lookup(address);
      expect(found.ok && found.value).toMatchObject({
        address,
        source,
        validation,
        fingerprint: k[key]!.fingerprint,
      });
    }
    const none = await km.lookup('nobody@nowhere.test');
    expect(none.ok && none.value).toBeNull();
  });

  it('asks the own provider about its own domain only, and nobody else about it', async () => {
    const km = manager();
    const before = web.seen.length;
    for (const a of [
      'bob@beta.test',
      'carol@gamma.test',
      'dan@delta.test',
      'erin@epsilon.test',
      'x@nowhere.test',
    ]) {
      await km.lookup(a);
    }
    const foreign = web.seen.slice(before);
    expect(foreign.length).toBeGreaterThan(4);
    expect(foreign.filter((r) => ownProviderHosts.includes(r.host))).toEqual([]);
    expect(foreign.some((r) => r.path.includes('alice'))).toBe(false);

    const mark = web.seen.length;
    await km.lookup('alice2@alpha.test');
    await km.lookup('unknown@alpha.test');
    const own = web.seen.slice(mark);
    expect(own.map((r) => r.host)).toEqual(['api.alpha.test', 'api.alpha.test']);
  });

  it('asks the network once per address and remembers misses for a while', async () => {
    let now = Date.now();
    const km = manager({ now: () => now, negativeCacheMs: 60_000 });
    await km.lookup('bob@beta.test');
    await km.lookup('x@nowhere.test');
    const mark = web.seen.length;
    await km.lookup('bob@beta.test');
    await km.lookup('BOB+newsletters@Beta.Test');
    const named = await km.lookup('Bob Example <bob@BETA.test>');
    expect(named.ok && named.value?.address).toBe('bob@beta.test');
    await km.lookup('x@nowhere.test');
    expect(web.seen.length).toBe(mark);
    now += 61_000;
    await km.lookup('x@nowhere.test');
    expect(web.seen.length).toBeGreaterThan(mark);
  });

  it('follows a redirect to another HTTPS host, but not to plain HTTP or round in circles', async () => {
    const original = web.routes.get('gamma.test')!;
    const hu = (local: string) => `/.well-known/openpgpkey/hu/${wkdHash(local)}`;
    web.routes.set('gamma.test', (path, url) => {
      if (path === hu('carol'))
        return { status: 302, body: '', location: `https://www.gamma.test${path}` };
      if (path === hu('loop')) return { status: 301, body: '', location: path };
      if (path === hu('plain'))
        return { status: 302, body: '', location: `http://gamma.test${path}` };
      return original(path, url);
    });
    web.routes.set('www.gamma.test', (path) =>
      path === hu('carol') ? { status: 200, body: binary(carolDirect()) } : undefined,
    );
    try {
      const km = manager({ vksUrl: null });
      const carol = await km.lookup('carol@gamma.test');
      expect(carol.ok && carol.value?.fingerprint).toBe(k['carol@gamma.test']!.fingerprint);
      const [loop, plain] = await km.recipientStatus(['loop@gamma.test', 'plain@gamma.test'], {
        wait: true,
      });
      expect(loop!.reason).toContain('redirects too often');
      expect(plain!.reason).toContain('HTTPS only');
    } finally {
      web.routes.set('gamma.test', original);
      web.routes.delete('www.gamma.test');
    }
  });

  it('refuses a key that is not for the address asked, and says why', async () => {
    const km = manager();
    const [status] = await km.recipientStatus(['frank@gamma.test'], { wait: true });
    expect(status).toMatchObject({
      address: 'frank@gamma.test',
      status: 'no_key',
      fingerprint: null,
    });
    expect(status!.reason).toContain('not for frank@gamma.test');
  });

  it('refuses a LEAP provider whose CA does not match its announced fingerprint', async () => {
    const original = web.routes.get('delta.test')!;
    web.routes.set('delta.test', (path, url) => {
      const answer = original(path, url);
      if (path !== '/provider.json' || !answer) return answer;
      const json = JSON.parse(String(answer.body)) as Record<string, unknown>;
      return {
        ...answer,
        body: JSON.stringify({ ...json, ca_cert_fingerprint: `SHA256: ${'0'.repeat(64)}` }),
      };
    });
    try {
      const km = manager({ vksUrl: null });
      const [status] = await km.recipientStatus(['dan@delta.test'], { wait: true });
      expect(status!.status).toBe('no_key');
      expect(status!.reason).toContain('does not match');
    } finally {
      web.routes.set('delta.test', original);
    }
  });

  it('reports a failing key store as a reason, not as a crash', async () => {
    const store = new MemoryKeyStore();
    store.putContact = async () => {
      throw new Error('disk full');
    };
    const km = manager({ store });
    const [checking] = await km.recipientStatus(['carol@gamma.test']);
    expect(checking!.status).toBe('checking');
    const [failed] = await km.recipientStatus(['bob@beta.test'], { wait: true });
    expect(failed).toMatchObject({ status: 'no_key', reason: 'The lookup failed: disk full' });
  });

  it('reports "checking" while a lookup runs, then the key', async () => {
    const km = manager();
    const [first] = await km.recipientStatus(['carol@gamma.test']);
    expect(first!.status).toBe('checking');
    const [done] = await km.recipientStatus(['carol@gamma.test'], { wait: true });
    expect(done).toEqual({
      address: 'carol@gamma.test',
      status: 'key',
      validation: 'Provider_Trust',
      fingerprint: k['carol@gamma.test']!.fingerprint,
      reason: null,
    });
    const [bad] = await km.recipientStatus(['not an address']);
    expect(bad!.status).toBe('no_key');
  });
});

describe('replacement and verification', () => {
  it("keeps a verified key when an attacker's key arrives by Autocrypt or from the network", async () => {
    const store = new MemoryKeyStore();
    const km = manager({ store });
    await km.lookup('bob@beta.test');
    const verified = await km.verifyFingerprint(
      'bob@beta.test',
      k['bob@beta.test']!.fingerprint.toLowerCase(),
    );
    expect(verified.ok && verified.value.validation).toBe('Fingerprint');
    const attacker = k['bob@beta.test#attacker']!;
    const [outcome] = await km.learn([
      {
        source: 'autocrypt',
        address: 'bob@beta.test',
        fingerprint: attacker.fingerprint,
        armored: attacker.publicArmored,
        preferEncrypt: 'mutual',
      },
    ]);
    expect(outcome).toMatchObject({ accepted: false, reason: 'not_allowed' });
    bobAdvanced = () => attacker.publicArmored;
    try {
      const later = manager({ store, now: () => Date.now() + 30 * 86_400_000 });
      expect(await later.refreshDue()).toBe(1);
    } finally {
      bobAdvanced = () => k['bob@beta.test']!.publicArmored;
    }
    const kept = await km.lookup('bob@beta.test', { network: false });
    expect(kept.ok && kept.value).toMatchObject({
      fingerprint: k['bob@beta.test']!.fingerprint,
      validation: 'Fingerprint',
    });
  });

  it('lets a provider-vouched key replace a weak Autocrypt one not yet used both ways', async () => {
    const store = new MemoryKeyStore();
    const km = manager({ store });
    const weak = k['bob@beta.test#attacker']!;
    await km.learn([
      {
        source: 'autocrypt',
        address: 'bob@beta.test',
        fingerprint: weak.fingerprint,
        armored: weak.publicArmored,
        preferEncrypt: null,
      },
    ]);
    const before = await km.lookup('bob@beta.test', { network: false });
    expect(before.ok && before.value).toMatchObject({
      fingerprint: weak.fingerprint,
      validation: 'Weak_Chain',
      source: 'autocrypt',
    });
    const later = manager({ store, now: () => Date.now() + 30 * 86_400_000 });
    await later.refreshDue();
    const after = await km.lookup('bob@beta.test', { network: false });
    expect(after.ok && after.value).toMatchObject({
      fingerprint: k['bob@beta.test']!.fingerprint,
      source: 'wkd',
    });
    expect(after.ok && after.value!.history).toEqual([
      expect.objectContaining({
        fingerprint: weak.fingerprint,
        reason: 'old_not_fully_used',
        validation: 'Weak_Chain',
      }),
    ]);
  });

  it('accepts a new key certified by the old one, even after the old one was used both ways', async () => {
    const km = manager();
    await km.lookup('bob@beta.test');
    await km.markUsed('bob@beta.test', 'encrypt');
    await km.markUsed('bob@beta.test', 'sign');
    const newKey = k['bob@beta.test#new']!;
    const certified = await certifyKey(newKey.publicArmored, k['bob@beta.test']!.privateArmored);
    if (!certified.ok) throw new Error(certified.error.message);
    const uncertified = await km.consider('bob@beta.test', newKey.publicArmored, 'wkd');
    expect(uncertified.accepted).toBe(false);
    const outcome = await km.consider('bob@beta.test', certified.value, 'wkd');
    expect(outcome).toMatchObject({ accepted: true, reason: 'signed_by_old' });
    expect(outcome.record).toMatchObject({
      fingerprint: newKey.fingerprint,
      encrUsed: false,
      signUsed: false,
    });
  });

  it('raises a checked fingerprint to Fingerprint and refuses a wrong one', async () => {
    const km = manager();
    await km.lookup('carol@gamma.test');
    const wrong = await km.verifyFingerprint('carol@gamma.test', k['bob@beta.test']!.fingerprint);
    expect(!wrong.ok && wrong.error.code).toBe('fingerprint_mismatch');
    const stillProvider = await km.lookup('carol@gamma.test');
    expect(stillProvider.ok && stillProvider.value!.validation).toBe('Provider_Trust');
    const right = await km.verifyFingerprint(
      'carol@gamma.test',
      k['carol@gamma.test']!.fingerprint.replace(/(.{4})/g, '$1 '),
    );
    expect(right.ok && right.value).toMatchObject({ validation: 'Fingerprint', source: 'manual' });
    const [status] = await km.recipientStatus(['carol@gamma.test']);
    expect(status!.validation).toBe('Fingerprint');
  });
});

describe('verifying incoming mail', () => {
  it('learns a new sender from Autocrypt, and does not let a forger bring their own key', async () => {
    const km = manager();
    const raw = (from: string) =>
      `From: ${from}\r\nTo: alice@alpha.test\r\nSubject: hi\r\nMessage-ID: <m@x>\r\n\r\nhello\r\n`;
    // Hana's key is published nowhere: only her own messages bring it.
    const hana = await generateOwnKey({ address: 'hana@eta.test' });
    const fromHana = await signMessage(raw('hana@eta.test'), {
      senderAddress: 'hana@eta.test',
      senderPrivateKey: hana.privateArmored,
    });
    if (!fromHana.ok) throw new Error(fromHana.error.message);
    const open = (message: Buffer) =>
      openMessage(message, { decryptionKeys: [], senderKeys: (s) => km.keysForSender(s) });
    // The key Hana's first message brings cannot vouch for that message; it is learned after.
    const opened = await open(fromHana.value);
    expect(opened.ok && opened.value.verification.status).toBe('unknown_key');
    if (opened.ok) await km.learn(opened.value.harvestedKeys);
    const again = await open(fromHana.value);
    expect(again.ok && again.value.verification.status).toBe('valid');
    const learned = await km.lookup('hana@eta.test', { network: false });
    expect(learned.ok && learned.value).toMatchObject({
      source: 'autocrypt',
      validation: 'Weak_Chain',
    });

    // Bob's key comes from his provider; a forger signs as Bob and attaches an Autocrypt key.
    await km.lookup('bob@beta.test');
    const forged = await signMessage(raw('bob@beta.test'), {
      senderAddress: 'bob@beta.test',
      senderPrivateKey: k['bob@beta.test#attacker']!.privateArmored,
    });
    if (!forged.ok) throw new Error(forged.error.message);
    const check = await open(forged.value);
    expect(check.ok && check.value.verification.status).toBe('unknown_key');
    const bob = await km.lookup('bob@beta.test', { network: false });
    expect(bob.ok && bob.value!.fingerprint).toBe(k['bob@beta.test']!.fingerprint);
  });
});

describe('background refresh', () => {
  it('refreshes each contact at its own random time', async () => {
    const start = Date.now();
    let now = start;
    const draws = [0.1, 0.9];
    const km = manager({
      now: () => now,
      random: () => draws.shift() ?? 0.5,
      refreshMinMs: 3_600_000,
      refreshMaxMs: 11 * 3_600_000,
    });
    await km.lookup('bob@beta.test');
    await km.lookup('carol@gamma.test');
    now = start + 3 * 3_600_000;
    const mark = web.seen.length;
    expect(await km.refreshDue()).toBe(1);
    expect(web.seen.slice(mark).map((r) => r.host)).toContain('openpgpkey.beta.test');
    expect(web.seen.slice(mark).map((r) => r.host)).not.toContain('gamma.test');
    now = start + 11 * 3_600_000;
    expect(await km.refreshDue()).toBe(1);
  });

  it('picks up a renewed key (same fingerprint, later expiry) in the background', async () => {
    const km = manager({ refreshMinMs: 20, refreshMaxMs: 60 });
    const before = await km.lookup('gina@gamma.test');
    const oldExpiry = before.ok ? before.value?.expires : null;
    expect(oldExpiry).toBeLessThan(Date.now() + 60 * 86_400_000);
    const renewed = await renewOwnKey(k['gina@gamma.test']!.privateArmored);
    if (!renewed.ok) throw new Error(renewed.error.message);
    ginaDirect = () => renewed.value.publicArmored;
    km.start();
    try {
      const deadline = Date.now() + 10_000;
      let expires = oldExpiry;
      while (expires === oldExpiry && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        const current = await km.lookup('gina@gamma.test', { network: false });
        expires = current.ok ? current.value?.expires : null;
      }
      expect(expires).toBe(renewed.value.expires.getTime());
      const current = await km.lookup('gina@gamma.test', { network: false });
      expect(current.ok && current.value).toMatchObject({
        fingerprint: k['gina@gamma.test']!.fingerprint,
        history: [],
      });
    } finally {
      km.stop();
      ginaDirect = () => k['gina@gamma.test']!.publicArmored;
    }
  });
});

describe('expired keys', () => {
  it('looks again at once when the stored key has expired, and finds the renewed one', async () => {
    const store = new MemoryKeyStore();
    await manager({ store }).lookup('gina@gamma.test');
    const renewed = await renewOwnKey(k['gina@gamma.test']!.privateArmored);
    if (!renewed.ok) throw new Error(renewed.error.message);
    ginaDirect = () => renewed.value.publicArmored;
    try {
      const later = manager({ store, now: () => Date.now() + 50 * 86_400_000 });
      const stale = await later.lookup('gina@gamma.test', { network: false });
      expect(stale.ok && stale.value!.expires).toBeLessThan(Date.now() + 50 * 86_400_000);
      const found = await later.lookup('gina@gamma.test');
      expect(found.ok && found.value).toMatchObject({
        fingerprint: k['gina@gamma.test']!.fingerprint,
        expires: renewed.value.expires.getTime(),
      });
    } finally {
      ginaDirect = () => k['gina@gamma.test']!.publicArmored;
    }
  });
});

describe('own key', () => {
  it('is generated once, published, renewed near expiry with the same fingerprint, and republished', async () => {
    const store = new MemoryKeyStore();
    const published: string[] = [];
    let now = Date.now();
    const options = {
      store,
      now: () => now,
      publish: async (key: string) => void published.push(key),
    };
    const first = await manager(options).ensureOwnKey();
    if (!first.ok) throw new Error(first.error.message);
    // A second device with the synced store uses that key; it never makes another.
    const again = await manager(options).ensureOwnKey();
    expect(again.ok && again.value.fingerprint).toBe(first.value.fingerprint);
    expect(published).toHaveLength(1);
    now += 310 * 86_400_000;
    const renewed = await manager(options).ensureOwnKey();
    if (!renewed.ok) throw new Error(renewed.error.message);
    expect(renewed.value.fingerprint).toBe(first.value.fingerprint);
    expect(renewed.value.expires).toBeGreaterThan(now + 364 * 86_400_000);
    expect(published).toHaveLength(2);
    expect(await store.listOwnKeys('alice@alpha.test')).toHaveLength(1);
  });

  it('retries publication that failed, and never lets another key stand in for the own one', async () => {
    const store = new MemoryKeyStore();
    let up = false;
    const km = manager({
      store,
      publish: async () => {
        if (!up) throw new Error('provider down');
      },
    });
    const first = await km.ensureOwnKey();
    expect(first.ok && first.value.publishedAt).toBeNull();
    up = true;
    const second = await km.ensureOwnKey();
    expect(second.ok && second.value.publishedAt).not.toBeNull();
    const spoof = await generateOwnKey({ address: 'alice@alpha.test' });
    const [outcome] = await km.learn([
      {
        source: 'autocrypt',
        address: 'alice@alpha.test',
        fingerprint: spoof.fingerprint,
        armored: spoof.publicArmored,
        preferEncrypt: null,
      },
    ]);
    expect(outcome).toMatchObject({ accepted: false });
    expect((await km.listContacts()).map((c) => c.address)).not.toContain('alice@alpha.test');
    const own = await km.lookup('alice@alpha.test');
    expect(own.ok && own.value!.fingerprint).toBe(first.ok && first.value.fingerprint);
    expect(await km.decryptionKeys()).toEqual([first.ok && first.value.privateArmored]);
  });
});
