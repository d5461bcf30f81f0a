/**
 * Key discovery against the real reference provider: two providers on loopback, alpha.test
 * (the user's own) and beta.test. A counting TCP relay in front of alpha's API records every
 * connection alpha receives, so the test can show that looking up beta.test addresses never
 * reaches it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateOwnKey, type OwnKey } from '../../native-host/src/crypto/index.js';
import {
  KeyManager,
  leapProviderFor,
  MemoryKeyStore,
  nicknymLookup,
  wkdHash,
  type Resolver,
} from '../../native-host/src/keys/index.js';
import { startProvider, type RunningProvider } from '../../provider/src/index.js';

let alpha: RunningProvider;
let beta: RunningProvider;
let relay: Server;
let relayOrigin: string;
let alphaConnections = 0;
const dirs: string[] = [];
const keys: Record<string, OwnKey> = {};

async function provider(domain: string): Promise<RunningProvider> {
  const dir = await mkdtemp(join(tmpdir(), `keys-${domain}-`));
  dirs.push(dir);
  return startProvider({ domain, dataDir: dir });
}

async function addUser(p: RunningProvider, login: string, key: OwnKey): Promise<void> {
  const user = await p.store.createUser({
    id: `${login}-id`,
    login,
    address: `${login}@${p.domain}`,
    salt: '00',
    verifier: '00',
    wkdHash: wkdHash(login),
  });
  await p.store.setPublicKey(user.id, key.publicArmored, key.fingerprint.toLowerCase());
}

beforeAll(async () => {
  [alpha, beta] = [await provider('alpha.test'), await provider('beta.test')];
  for (const a of ['alice@alpha.test', 'alice2@alpha.test', 'bob@beta.test']) {
    keys[a] = await generateOwnKey({ address: a });
  }
  await addUser(alpha, 'alice2', keys['alice2@alpha.test']!);
  await addUser(beta, 'bob', keys['bob@beta.test']!);
  relay = createServer((socket) => {
    alphaConnections++;
    const upstream = createConnection({ host: alpha.host, port: alpha.ports.api });
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  relayOrigin = `https://127.0.0.1:${(relay.address() as AddressInfo).port}`;
});

afterAll(async () => {
  relay?.close();
  await alpha?.stop();
  await beta?.stop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function resolver(): Resolver {
  const map: Record<string, { origin: string; ca: string }> = {};
  for (const name of ['alpha.test', 'api.alpha.test', 'openpgpkey.alpha.test']) {
    map[name] = { origin: relayOrigin, ca: alpha.caCertPem };
  }
  for (const name of ['beta.test', 'api.beta.test', 'openpgpkey.beta.test']) {
    map[name] = { origin: beta.apiUrl, ca: beta.caCertPem };
  }
  return (host) => map[host] ?? { origin: 'https://127.0.0.1:1' };
}

describe('discovery across two reference providers', () => {
  it("finds an own-domain key at the own provider and a foreign one at that address's own LEAP provider, without telling alpha", async () => {
    const km = new KeyManager({
      store: new MemoryKeyStore(),
      address: 'alice@alpha.test',
      ownProvider: { apiUri: `https://api.alpha.test:${alpha.ports.api}`, caPem: alpha.caCertPem },
      resolver: resolver(),
      vksUrl: null,
    });
    const before = alphaConnections;
    const bob = await km.lookup('bob@beta.test');
    // Beta is a LEAP provider: its nicknym is authoritative and asked before WKD.
    expect(bob.ok && bob.value).toMatchObject({
      source: 'provider-nicknym',
      fingerprint: keys['bob@beta.test']!.fingerprint,
    });
    const nobody = await km.lookup('nobody@beta.test');
    expect(nobody.ok && nobody.value).toBeNull();
    expect(alphaConnections).toBe(before);

    const alice2 = await km.lookup('alice2@alpha.test');
    expect(alice2.ok && alice2.value).toMatchObject({
      source: 'own-nicknym',
      validation: 'Provider_Trust',
      fingerprint: keys['alice2@alpha.test']!.fingerprint,
    });
    expect(alphaConnections).toBeGreaterThan(before);
  });

  it("reads beta's provider.json, checks its CA and asks its nicknym", async () => {
    const target = await leapProviderFor('beta.test', resolver());
    if (!target.ok || !target.value)
      throw new Error('beta.test was not recognised as a LEAP provider');
    expect(target.value.caPem.trim()).toBe(beta.caCertPem.trim());
    const found = await nicknymLookup('bob@beta.test', target.value, resolver());
    expect(found.ok && typeof found.value === 'string' && found.value).toContain(
      'BEGIN PGP PUBLIC KEY BLOCK',
    );
    const missing = await nicknymLookup('nobody@beta.test', target.value, resolver());
    expect(missing).toEqual({ ok: true, value: null });
    // Alpha's CA does not vouch for beta: the pinned CA is what counts.
    const wrongCa = await nicknymLookup(
      'bob@beta.test',
      { ...target.value, caPem: alpha.caCertPem },
      resolver(),
    );
    expect(!wrongCa.ok && wrongCa.error.code).toBe('network');
  });
});
