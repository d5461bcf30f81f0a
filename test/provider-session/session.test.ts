/**
 * The host's provider client against the real reference provider on loopback: bootstrap
 * with CA pinning, SRP sign-up and login, token renewal, and the attacks a user must be
 * protected from (another CA, a forged server proof, a wrong pin).
 */
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapResolver, type Resolver } from '../../native-host/src/net/index.js';
import {
  bootstrapProvider,
  ProviderSession,
  type ProviderInfo,
} from '../../native-host/src/provider/index.js';
import srp from 'secure-remote-password/client.js';
import { signUp, startTestProvider, type TestProvider } from '../provider/helpers.js';

function resolverFor(p: { domain: string; apiUrl: string }, origin = p.apiUrl): Resolver {
  const names = ['', 'api.', 'imap.', 'smtp.', 'nicknym.'].map((prefix) => `${prefix}${p.domain}`);
  return mapResolver(Object.fromEntries(names.map((n) => [n, { origin }])));
}

describe('provider session', () => {
  let alpha: TestProvider;
  let impostor: TestProvider;
  let info: ProviderInfo;
  let resolver: Resolver;

  beforeAll(async () => {
    alpha = await startTestProvider('alpha.test', '127.0.0.1', { limits: { tokenIdleMs: 1500 } });
    impostor = await startTestProvider('alpha.test'); // same name, its own CA
    resolver = resolverFor(alpha);
    info = await bootstrapProvider('alpha.test', {
      resolver,
      pinnedFingerprint: alpha.caFingerprint,
    });
  });

  afterAll(async () => {
    await alpha?.cleanup();
    await impostor?.cleanup();
  });

  it('bootstraps a provider: its name, whether it takes sign-ups, and its CA pinned', () => {
    expect(info.domain).toBe('alpha.test');
    expect(info.allowRegistration).toBe(true);
    expect(info.offersMail).toBe(true);
    expect(info.caFingerprint).toBe(alpha.caFingerprint);
    expect(info.caCertPem).toBe(alpha.caCertPem);
  });

  it('refuses a provider whose CA does not match the pinned fingerprint', async () => {
    await expect(
      bootstrapProvider('alpha.test', {
        resolver: resolverFor(impostor),
        pinnedFingerprint: alpha.caFingerprint,
      }),
    ).rejects.toMatchObject({
      code: 'fingerprint_mismatch',
      message: expect.stringContaining('intercepting'),
    });
  });

  it('says clearly when a provider cannot be reached or the domain is not one', async () => {
    await expect(
      bootstrapProvider('alpha.test', {
        resolver: mapResolver({ 'alpha.test': { origin: 'https://127.0.0.1:1' } }),
      }),
    ).rejects.toMatchObject({
      code: 'unreachable',
    });
    await expect(bootstrapProvider('not a domain')).rejects.toMatchObject({
      code: 'invalid_provider',
    });
  });

  it('signs up and logs in over SRP, and refuses a wrong password and a taken name', async () => {
    const session = await ProviderSession.signUp(info, 'carol', 'correct horse battery', {
      resolver,
    });
    expect(session.address).toBe('carol@alpha.test');
    expect(await session.token()).toMatch(/\S{16,}/);

    const again = await ProviderSession.logIn(info, 'Carol', 'correct horse battery', { resolver });
    expect(again.userId).toBe(session.userId);

    await expect(
      ProviderSession.logIn(info, 'carol', 'wrong horse', { resolver }),
    ).rejects.toMatchObject({
      code: 'wrong_password',
      message: 'The user name or password is wrong.',
    });
    await expect(
      ProviderSession.logIn(info, 'nobody-here', 'whatever', { resolver }),
    ).rejects.toMatchObject({
      code: 'wrong_password',
    });
    await expect(
      ProviderSession.signUp(info, 'carol', 'another', { resolver }),
    ).rejects.toMatchObject({
      code: 'username_taken',
    });
    await expect(ProviderSession.signUp(info, '9 bad', 'x', { resolver })).rejects.toMatchObject({
      code: 'invalid_username',
    });
  });

  it('refuses to talk to a server presenting another certificate after bootstrap', async () => {
    await ProviderSession.signUp(info, 'dave', 'pw-dave-123', { resolver });
    await expect(
      ProviderSession.logIn(info, 'dave', 'pw-dave-123', { resolver: resolverFor(impostor) }),
    ).rejects.toMatchObject({
      code: 'certificate_mismatch',
      message: expect.stringContaining('intercepting'),
    });
  });

  it('finds the IMAP and submission servers from the service configuration', async () => {
    const session = await ProviderSession.signUp(info, 'gina', 'pw-gina-123', { resolver });
    await expect(session.serviceEndpoint('imap')).resolves.toEqual({
      host: '127.0.0.1',
      port: alpha.ports.imap,
      servername: 'imap.alpha.test',
      ca: alpha.caCertPem,
    });
    await expect(session.serviceEndpoint('smtp')).resolves.toMatchObject({
      port: alpha.ports.submission,
      servername: 'smtp.alpha.test',
    });
  });

  it('renews an expired token by logging in again, without the password', async () => {
    const session = await ProviderSession.signUp(info, 'erin', 'pw-erin-123', { resolver });
    const first = await session.token();
    await new Promise((r) => setTimeout(r, 2000)); // the provider forgets idle tokens after 1.5 s
    const endpoint = await session.serviceEndpoint('imap');
    expect(endpoint).toMatchObject({
      servername: 'imap.alpha.test',
      port: alpha.ports.imap,
      ca: alpha.caCertPem,
    });
    const renewed = await session.token();
    expect(renewed).not.toBe(first);
  });

  it('detects a server that cannot prove it knows the account, and never sends the password', async () => {
    await ProviderSession.signUp(info, 'frank', 'pw-frank-secret', { resolver });
    // A man in the middle holding a certificate from the pinned CA (the worst case):
    // it relays everything but forges the server's proof M2.
    const seen: string[] = [];
    const mitm = await startForgingProxy(alpha, seen);
    const viaMitm = resolverFor(alpha, `https://127.0.0.1:${(mitm.address() as AddressInfo).port}`);
    try {
      await expect(
        ProviderSession.logIn(info, 'frank', 'pw-frank-secret', { resolver: viaMitm }),
      ).rejects.toMatchObject({
        code: 'server_proof_invalid',
      });
    } finally {
      mitm.close();
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.join('\n')).not.toContain('pw-frank-secret');
  });

  it('moves a fast-hash account to scrypt at login; a device that kept the old x follows', async () => {
    const made = await signUp(alpha, 'ivy', 'pw-ivy-secret'); // an older client
    expect(made.status, made.body.toString()).toBe(201);
    const legacySalt = (await alpha.store.userByLogin('ivy'))!.salt;
    const oldX = srp.derivePrivateKey(legacySalt, 'ivy', 'pw-ivy-secret');
    const moved: unknown[] = [];
    const session = await ProviderSession.logIn(info, 'ivy', 'pw-ivy-secret', {
      resolver,
      onLoginKey: (key) => void moved.push(key),
    });
    expect(session.upgradeError).toBeNull();
    expect((await alpha.store.userByLogin('ivy'))!.kdf?.prehash?.salt).toBe(legacySalt);
    expect(moved).toEqual([session.loginKeyInfo]);
    expect(session.loginKey).not.toBe(oldX);

    // Another device kept only the old x (as every device did between restarts, salt unknown).
    const followed: unknown[] = [];
    const other = await ProviderSession.resume(
      info,
      'ivy',
      { x: oldX, kdf: null },
      { resolver, onLoginKey: (key) => void followed.push(key) },
    );
    expect(other.loginKey).toBe(session.loginKey);
    expect(followed).toEqual([other.loginKeyInfo]);
    // And the password still logs in on a new device.
    const fresh = await ProviderSession.logIn(info, 'ivy', 'pw-ivy-secret', { resolver });
    expect(fresh.loginKey).toBe(session.loginKey);
  });

  it('changes the password to a new scrypt key: the old password stops working', async () => {
    const session = await ProviderSession.signUp(info, 'hugo', 'pw-hugo-old', { resolver });
    const before = (await alpha.store.userByLogin('hugo'))!;
    await session.changePassword('pw-hugo-new');
    const after = (await alpha.store.userByLogin('hugo'))!;
    expect(after.salt).not.toBe(before.salt);
    expect(after.kdf).toEqual({ algorithm: 'scrypt', N: 2 ** 17, r: 8, p: 1 });
    // Not the fast hash: its verifier for the new password is not the one stored.
    const fast = srp.deriveVerifier(srp.derivePrivateKey(after.salt, 'hugo', 'pw-hugo-new'));
    expect(after.verifier).not.toBe(fast);
    await expect(
      ProviderSession.logIn(info, 'hugo', 'pw-hugo-old', { resolver }),
    ).rejects.toMatchObject({ code: 'wrong_password' });
    await ProviderSession.logIn(info, 'hugo', 'pw-hugo-new', { resolver });
  });
});

/** An HTTPS relay to the provider that records request bodies and replaces M2. */
async function startForgingProxy(target: TestProvider, seen: string[]): Promise<Server> {
  const server = createServer(
    {
      cert: readFileSync(join(target.dataDir, 'ca', 'server.crt')),
      key: readFileSync(join(target.dataDir, 'ca', 'server.key')),
    },
    (req, res) => {
      const body: Buffer[] = [];
      req.on('data', (c: Buffer) => body.push(c));
      req.on('end', () => {
        const payload = Buffer.concat(body);
        seen.push(`${req.method} ${req.url} ${payload.toString('utf8')}`);
        const api = new URL(target.apiUrl);
        const upstream = request(
          {
            host: api.hostname,
            port: api.port,
            path: req.url,
            method: req.method,
            headers: req.headers,
            servername: target.domain,
            ca: target.caCertPem,
          },
          (up) => {
            const chunks: Buffer[] = [];
            up.on('data', (c: Buffer) => chunks.push(c));
            up.on('end', () => {
              let text = Buffer.concat(chunks).toString('utf8');
              if (req.method === 'PUT' && text.includes('"M2"'))
                text = text.replace(/"M2":"[0-9a-f]+"/, `"M2":"${'ab'.repeat(32)}"`);
              res.writeHead(up.statusCode ?? 502, { 'content-type': 'application/json' });
              res.end(text);
            });
          },
        );
        upstream.end(payload);
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return server;
}
