/**
 * The network attacker: someone on the path between the host and a legacy provider, who can
 * rewrite the cleartext part of a STARTTLS connection (the greeting and the capability list)
 * and answer HTTP for the provider's domain. Played against the real host (AccountService)
 * and a real Dovecot that offers STARTTLS, with the attacker as a TCP proxy in front of it.
 * What must hold: the password never crosses the wire outside TLS, and the person is told why
 * setup or sync stopped.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCa } from '../../provider/src/ca/index.js';
import { startDovecot, type DovecotInstance } from '../../provider/src/dovecot/index.js';
import { AccountService } from '../../native-host/src/account/index.js';
import { createFileLogger } from '../../native-host/src/log/index.js';
import { mapResolver, type Resolver } from '../../native-host/src/net/index.js';
import { relayMessage } from '../../native-host/src/smtp/index.js';
import { startSinkRelay } from '../smtp/helpers.js';
import { waitFor } from '../helpers/wait.js';

const EMAIL = 'nina@legacy.test';

/**
 * A man in the middle in front of Dovecot's STARTTLS port. Passing, it forwards bytes as they
 * are; stripping, it removes STARTTLS from everything the server says, as a downgrade attack
 * does. Either way it keeps every byte the client sent, which is what the attacker can read.
 */
async function startStrippingProxy(upstreamPort: number) {
  let stripping = false;
  let connections = 0;
  const seen: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(upstreamPort, '127.0.0.1');
    const strip = stripping;
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk: Buffer) => {
      seen.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) =>
      client.write(
        strip ? Buffer.from(chunk.toString('latin1').replace(/ STARTTLS/gi, ''), 'latin1') : chunk,
      ),
    );
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    strip: (on: boolean) => (stripping = on),
    /** What the client sent, as the attacker reads it. */
    cleartext: () => Buffer.concat(seen).toString('latin1'),
    connections: () => connections,
    reset: () => {
      seen.length = 0;
      connections = 0;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Whether the password is in what the attacker read, as LOGIN or SASL PLAIN would send it. */
function leaks(cleartext: string, password: string): boolean {
  const plain = Buffer.from(`\0${EMAIL}\0${password}`).toString('base64');
  return cleartext.includes(password) || cleartext.includes(plain);
}

describe('a network attacker', () => {
  const password = `net-${randomBytes(8).toString('hex')}`;
  let scratch: string;
  let dovecot: DovecotInstance;
  let proxy: Awaited<ReturnType<typeof startStrippingProxy>>;
  let resolver: Resolver;
  let caPem: string;
  const services: AccountService[] = [];

  const service = (dataDir: string) => {
    const s = new AccountService({
      dataDir,
      logger: createFileLogger(join(dataDir, 'logs', 'host.log'), 'info'),
      resolver,
    });
    s.setDeviceKey(Buffer.alloc(32, 7).toString('base64'));
    services.push(s);
    return s;
  };
  const servers = () => ({
    imap: { host: 'imap.legacy.test', port: proxy.port, security: 'starttls' as const },
    // Nothing is sent in these tests; an unused port keeps the relay from reaching anything.
    smtp: { host: 'smtp.legacy.test', port: 1, security: 'starttls' as const },
  });

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'lb-netattacker-'));
    chmodSync(scratch, 0o711);
    const ca = await ensureCa(join(scratch, 'tls'), 'legacy.test', ['127.0.0.1']);
    chmodSync(join(scratch, 'tls', 'ca'), 0o755);
    chmodSync(ca.serverKeyPath, 0o644); // Dovecot reads it after dropping privileges
    caPem = ca.caCertPem;
    dovecot = await startDovecot({
      dataDir: join(scratch, 'dovecot'),
      auth: { kind: 'passwd-file', users: [{ user: EMAIL, password }] },
      tls: { certPath: ca.serverCertPath, keyPath: ca.serverKeyPath },
    });
    proxy = await startStrippingProxy(dovecot.imapPort);
    resolver = mapResolver({
      'imap.legacy.test': { origin: 'https://127.0.0.1', ca: caPem },
      'smtp.legacy.test': { origin: 'https://127.0.0.1', ca: caPem },
    });
  });

  afterAll(async () => {
    for (const s of services) await s.stopAll().catch(() => undefined);
    await proxy?.close();
    await dovecot?.stop();
    if (scratch && !process.env.LEAPBIRD_KEEP_E2E)
      rmSync(scratch, { recursive: true, force: true });
  });

  it('STARTTLS stripped during setup: no password sent, and setup says why', async () => {
    proxy.strip(true);
    proxy.reset();
    const host = service(join(scratch, 'host-setup'));
    const setup = host.setUpLegacy({ email: EMAIL, password, ...servers() });
    await expect(setup).rejects.toMatchObject({
      message: expect.stringMatching(
        /imap\.legacy\.test did not set up an encrypted connection .*STARTTLS.*did not send your password/,
      ),
    });
    await expect(setup).rejects.not.toMatchObject({ code: 'wrong_password' });
    expect(proxy.connections()).toBeGreaterThan(0);
    expect(proxy.cleartext()).not.toMatch(/LOGIN|AUTHENTICATE/i);
    expect(leaks(proxy.cleartext(), password)).toBe(false);
    expect(host.registry.list()).toEqual([]);
  });

  it(
    'STARTTLS stripped after setup: sync sends no password and says why',
    { timeout: 120_000 },
    async () => {
      // Setup over an honest path works, and the password went inside TLS.
      proxy.strip(false);
      proxy.reset();
      const dataDir = join(scratch, 'host-sync');
      const first = service(dataDir);
      await first.setUpLegacy({ email: EMAIL, password, ...servers() });
      expect(proxy.cleartext()).toContain('STARTTLS');
      expect(leaks(proxy.cleartext(), password)).toBe(false);
      await first.stopAll();

      // Then the attacker starts stripping, and the host starts again (a restart, a new
      // network): the resumed account's sync must not log in.
      proxy.strip(true);
      proxy.reset();
      const again = service(dataDir);
      await again.resumeAll();
      await waitFor(
        'the sync to give up on the server without STARTTLS',
        () => /did not send your password/.test(again.status().lastError?.message ?? ''),
        30_000,
        200,
      );
      expect(proxy.connections()).toBeGreaterThan(0);
      expect(again.status().accounts).toEqual([{ email: EMAIL, state: 'offline' }]);
      expect(again.status().lastError?.message).toMatch(/STARTTLS/);
      expect(proxy.cleartext()).not.toMatch(/LOGIN|AUTHENTICATE/i);
      expect(leaks(proxy.cleartext(), password)).toBe(false);
    },
  );

  it('STARTTLS stripped from the outgoing server: neither password nor message sent', async () => {
    const sink = await startSinkRelay(mkdtempSync(join(scratch, 'sink-')), 'plaintext');
    try {
      const outcome = await relayMessage(
        { ...sink.endpoint(EMAIL), accessToken: undefined, password: async () => password },
        { from: EMAIL, to: ['bob@example.test'] },
        Readable.from([Buffer.from(`From: ${EMAIL}\r\nSubject: secret plans\r\n\r\nhi\r\n`)]),
      );
      expect(outcome).toMatchObject({
        ok: false,
        permanent: false,
        reason: expect.stringMatching(/did not set up an encrypted connection/),
      });
      expect(sink.logins).toEqual([]);
      expect(sink.received).toEqual([]);
    } finally {
      await sink.close();
    }
  });

  it('autoconfig answered over plain HTTP: never asked, nothing offered', async () => {
    // The attacker answers HTTP for the domain with servers of its own choosing.
    let asked = 0;
    const http = createHttpServer((_req, res) => {
      asked++;
      res.end(
        `<clientConfig><emailProvider><incomingServer type="imap"><hostname>evil.test</hostname><port>993</port><socketType>SSL</socketType></incomingServer><outgoingServer type="smtp"><hostname>evil.test</hostname><port>465</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>`,
      );
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const origin = `https://127.0.0.1:${(http.address() as AddressInfo).port}`;
    try {
      const host = new AccountService({
        dataDir: join(scratch, 'host-autoconfig'),
        logger: createFileLogger(join(scratch, 'host-autoconfig', 'host.log'), 'info'),
        resolver: mapResolver({
          'legacy.test': { origin, ca: caPem },
          'autoconfig.legacy.test': { origin, ca: caPem },
        }),
      });
      expect(await host.discover(EMAIL)).toBeNull();
      expect(asked).toBe(0);
    } finally {
      http.close();
    }
  });
});
