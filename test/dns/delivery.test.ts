/**
 * Mail between providers found in DNS, with DNSSEC validated by a real unbound from a test
 * root served by a real knotd: DANE between two LEAP providers, the attacks it defeats
 * (STARTTLS stripped, a certificate that does not match TLSA, a bogus zone), MTA-STS for a
 * domain without DANE, opportunistic TLS for a domain with neither, and a LEAP peer
 * without validated TLS. Every refusal is a 451 to the sender (its outbox retries), and the
 * same message goes out once the fault is gone.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttps, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCa } from '../../provider/src/ca/index.js';
import * as openpgp from 'openpgp';
import { startProvider } from '../../provider/src/index.js';
import { wkdHash } from '../../provider/src/keys/index.js';
import { dnsRecords } from '../../provider/src/publish/index.js';
import { freePort } from '../../provider/src/net/index.js';
import { tlsaFor } from '../../provider/src/dns/index.js';
import {
  api,
  composeMessage,
  decryptWith,
  inbox,
  makeKey,
  newAccount,
  uploadKey,
  type MailAccount,
  type TestProvider,
} from '../provider/helpers.js';
import { startHost, submit as submitLocally, type TestHost } from '../smtp/helpers.js';
import { startNetworkPath, startSink, type NetworkPath, type Sink } from './network.js';
import { startDnsWorld, type DnsWorld, type ZoneSpec } from './world.js';

const IP = {
  alpha: '127.19.0.2',
  beta: '127.19.0.3',
  gamma: '127.19.0.10',
  delta: '127.19.0.11',
  epsilon: '127.19.0.12',
  theta: '127.19.0.13',
  eta: '127.19.0.14',
  path: '127.19.0.66',
  impostor: '127.19.0.67',
};

let world: DnsWorld;
let mxPort: number;
/** HTTPS port of the providers' APIs and of gamma's MTA-STS policy server. */
let httpsPort: number;
let alpha: TestProvider;
let beta: TestProvider;
let alice: MailAccount & { privateKey: string };
let bob: MailAccount & { privateKey: string; publicKey: string };
let aliceHost: TestHost;
let path: NetworkPath;
let impostor: Sink;
let gammaSink: Sink;
let deltaSink: Sink;
let epsilonSink: Sink;
let thetaSink: Sink;
let etaSink: Sink;
let etaStsServer: Server;
const wkdServers: Server[] = [];
let stsServer: Server;
/** gamma's real MX certificate, switched in by the MTA-STS test. */
let gammaTls: { key: string; cert: string };
const dirs: string[] = [];

function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `dane-${name}-`));
  dirs.push(dir);
  return dir;
}

/** TLSA `3 1 1` for the provider's certificate at `_<port>._tcp.<host>`. */
function tlsaLine(certPem: string, port: number, host: string): string {
  const t = tlsaFor(certPem);
  return `_${port}._tcp.${host} TLSA ${t.usage} ${t.selector} ${t.matchingType} ${t.data.toString('hex')}`;
}

let zones: (opts?: { betaBogus?: boolean }) => ZoneSpec[];

async function provider(name: 'alpha' | 'beta', dataDir: string, trustedCa: string[]) {
  const p = await startProvider({
    domain: `${name}.test`,
    dataDir,
    host: IP[name],
    ports: { mx: mxPort, api: httpsPort },
    dns: {
      resolver: world.resolver,
      smtpPort: mxPort,
      httpsPort,
      trustedCa,
      timeoutMs: 5000,
    },
  });
  return { ...p, dataDir, cleanup: () => p.stop() } as TestProvider;
}

async function account(p: TestProvider, login: string) {
  const a = await newAccount(p, login);
  const key = await makeKey(a.address);
  expect((await uploadKey(p, a, key.publicKey)).status).toBe(200);
  return { ...a, privateKey: key.privateKey, publicKey: key.publicKey };
}

/** Submits as a client does; resolves to the relay's reply code (250 or the error's). */
async function submit(
  p: TestProvider,
  user: MailAccount,
  to: string,
  raw: Buffer,
): Promise<number> {
  const relay = nodemailer.createTransport({
    host: p.host,
    port: p.ports.submission,
    secure: true,
    tls: { ca: p.caCertPem, servername: p.domain },
    auth: { user: user.address, pass: user.token },
    connectionTimeout: 10_000,
  });
  try {
    await relay.sendMail({ envelope: { from: user.address, to: [to] }, raw });
    return 250;
  } catch (err) {
    return (err as { responseCode?: number }).responseCode ?? 0;
  } finally {
    relay.close();
  }
}

function relayLog(p: TestProvider): Record<string, unknown>[] {
  return readFileSync(join(p.dataDir, 'provider.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => String(e.event ?? e.msg ?? '').startsWith('relay_'));
}

function lastDelivery(p: TestProvider, domain: string) {
  return relayLog(p)
    .filter((e) => (e.event ?? e.msg) === 'relay_delivered' && e.domain === domain)
    .at(-1);
}

beforeAll(async () => {
  mxPort = await freePort(IP.alpha);
  httpsPort = await freePort(IP.alpha);
  const alphaDir = tempDir('alpha');
  const betaDir = tempDir('beta');
  // The providers' certificates exist before DNS, so the zones carry their TLSA records.
  const alphaCa = await ensureCa(alphaDir, 'alpha.test', [IP.alpha]);
  const betaCa = await ensureCa(betaDir, 'beta.test', [IP.beta]);
  // gamma.test is an ordinary domain whose certificates come from a "public" CA the relay
  // is configured to trust; mallory's certificate comes from a CA nobody trusts.
  const gammaCa = await ensureCa(tempDir('gamma'), 'gamma.test', [IP.gamma]);
  const deltaCa = await ensureCa(tempDir('delta'), 'delta.test', [IP.delta]);
  const etaCa = await ensureCa(tempDir('eta'), 'eta.test', [IP.eta]);
  const malloryCa = await ensureCa(tempDir('mallory'), 'mallory.test', [IP.impostor]);

  zones = (opts = {}) => [
    {
      // Exactly what `npm run provider -- records` prints for alpha.
      name: 'alpha.test',
      records: dnsRecords({
        domain: 'alpha.test',
        certPem: alphaCa.serverCertPem,
        ipv4: [IP.alpha],
        smtpPort: mxPort,
        httpsPort,
      }),
    },
    {
      name: 'beta.test',
      // beta's MX is reached through a network path the attacker may control.
      records: [
        '@ MX 10 mx',
        `mx A ${IP.path}`,
        // beta names its CA (DANE-TA), alpha its server key (DANE-EE): both kinds are used.
        `_${mxPort}._tcp.mx TLSA 2 0 1 ${tlsaFor(betaCa.caCertPem, 2, 0, 1).data.toString('hex')}`,
        tlsaLine(betaCa.serverCertPem, httpsPort, 'api'),
        `api A ${IP.beta}`,
        '_leap TXT "v=LEAP1; api=api.beta.test"',
      ],
      bogus: opts.betaBogus ?? false,
    },
    {
      name: 'gamma.test',
      records: [
        '@ MX 10 mx',
        `mx A ${IP.gamma}`,
        `mta-sts A ${IP.gamma}`,
        '_mta-sts TXT "v=STSv1; id=20261206"',
      ],
    },
    // Ordinary domains; their apex addresses serve WKD (delta with a trusted certificate).
    { name: 'delta.test', records: ['@ MX 10 mx', `mx A ${IP.delta}`, `@ A ${IP.delta}`] },
    {
      name: 'epsilon.test',
      // Its API's address answers with alpha's certificate, its TLSA names beta's.
      records: [
        '@ MX 10 mx',
        `mx A ${IP.epsilon}`,
        '_leap TXT "v=LEAP1; api=api.epsilon.test"',
        `api A ${IP.alpha}`,
        tlsaLine(betaCa.serverCertPem, httpsPort, 'api'),
      ],
    },
    // A LEAP provider that publishes no TLSA for its API.
    { name: 'zeta.test', records: ['_leap TXT "v=LEAP1"', `api A ${IP.beta}`] },
    {
      name: 'eta.test',
      records: [
        '@ MX 10 mx',
        `mx A ${IP.eta}`,
        `mta-sts A ${IP.eta}`,
        '_mta-sts TXT "v=STSv1; id=1"',
      ],
    },
    {
      // Only a PKIX-EE record, which SMTP cannot use (RFC 7672 section 3.1.3): TLS mandatory.
      name: 'iota.test',
      records: [
        '@ MX 10 mx',
        `mx A ${IP.theta}`,
        `_${mxPort}._tcp.mx TLSA 1 1 1 ${'ab'.repeat(32)}`,
      ],
    },
    {
      // A LEAP peer whose announcement an attacker makes bogus, the rest of the zone intact.
      name: 'kappa.test',
      records: ['@ MX 10 mx', `mx A ${IP.theta}`, '_leap TXT "v=LEAP1"'],
      bogus: ['_leap'],
    },
    { name: 'theta.test', records: ['@ MX 10 mx', `mx A ${IP.theta}`, `@ A ${IP.theta}`] },
    { name: 'nomail.test', records: ['@ MX 0 .'] },
    // No MX: the domain itself is the mail host (implicit MX, RFC 5321 section 5.1).
    { name: 'lambda.test', records: [`@ A ${IP.theta}`] },
  ];
  world = await startDnsWorld(zones());

  alpha = await provider('alpha', alphaDir, [
    gammaCa.caCertPem,
    etaCa.caCertPem,
    deltaCa.caCertPem,
  ]);
  beta = await provider('beta', betaDir, []);
  alice = await account(alpha, 'alice');
  bob = await account(beta, 'bob');
  // Alice's own machine: her outbox relays through alpha, as the host does.
  aliceHost = await startHost(alice.address, {
    relay: async () => ({
      host: alpha.host,
      port: alpha.ports.submission,
      secure: true,
      servername: alpha.domain,
      ca: alpha.caCertPem,
      user: alice.address,
      accessToken: async () => alice.token,
    }),
  });
  expect((await aliceHost.keys.consider(bob.address, bob.publicKey, 'manual')).accepted).toBe(true);

  impostor = await startSink({
    host: IP.impostor,
    port: 0,
    tls: { key: malloryCa.serverKeyPem, cert: malloryCa.serverCertPem },
  });
  path = await startNetworkPath({
    host: IP.path,
    port: mxPort,
    upstream: { host: IP.beta, port: mxPort },
    impostor: { host: IP.impostor, port: impostor.port },
  });
  // gamma's MX starts with a certificate the policy does not allow (mallory's).
  gammaSink = await startSink({
    host: IP.gamma,
    port: mxPort,
    tls: { key: malloryCa.serverKeyPem, cert: malloryCa.serverCertPem },
  });
  stsServer = createHttps(
    { key: gammaCa.serverKeyPem, cert: gammaCa.serverCertPem },
    (req, res) => {
      if (req.url !== '/.well-known/mta-sts.txt') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('version: STSv1\nmode: enforce\nmx: mx.gamma.test\nmax_age: 86400\n');
    },
  );
  await new Promise<void>((resolve) => stsServer.listen(httpsPort, IP.gamma, () => resolve()));
  deltaSink = await startSink({
    host: IP.delta,
    port: mxPort,
    tls: { key: malloryCa.serverKeyPem, cert: malloryCa.serverCertPem },
  });
  epsilonSink = await startSink({ host: IP.epsilon, port: mxPort });
  thetaSink = await startSink({ host: IP.theta, port: mxPort });
  // WKD (direct method) for dave at delta and at theta, whose web server's certificate no
  // trusted CA issued.
  for (const [domain, ip, tls] of [
    ['delta.test', IP.delta, deltaCa],
    ['theta.test', IP.theta, malloryCa],
  ] as const) {
    const key = await makeKey(`dave@${domain}`);
    const daveBinary = (await openpgp.readKey({ armoredKey: key.publicKey })).write();
    const server = createHttps({ key: tls.serverKeyPem, cert: tls.serverCertPem }, (req, res) => {
      if (req.url?.startsWith(`/.well-known/openpgpkey/hu/${wkdHash('dave')}`)) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.from(daveBinary));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(httpsPort, ip, () => resolve()));
    wkdServers.push(server);
  }
  // eta.test tries MTA-STS in testing mode while its MX still has a certificate that fails.
  etaSink = await startSink({
    host: IP.eta,
    port: mxPort,
    tls: { key: malloryCa.serverKeyPem, cert: malloryCa.serverCertPem },
  });
  etaStsServer = createHttps(
    { key: etaCa.serverKeyPem, cert: etaCa.serverCertPem },
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('version: STSv1\nmode: testing\nmx: mx.eta.test\nmax_age: 86400\n');
    },
  );
  await new Promise<void>((resolve) => etaStsServer.listen(httpsPort, IP.eta, () => resolve()));
  gammaTls = { key: gammaCa.serverKeyPem, cert: gammaCa.serverCertPem };
});

afterAll(async () => {
  await aliceHost?.cleanup();
  for (const s of [path, impostor, gammaSink, deltaSink, epsilonSink, thetaSink, etaSink])
    await s?.close();
  for (const server of [stsServer, etaStsServer, ...wkdServers])
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await alpha?.cleanup();
  await beta?.cleanup();
  await world?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function mail(from: MailAccount, to: string, subject: string) {
  return composeMessage({ from: from.address, to, subject, text: `body of ${subject}` });
}

describe('between two LEAP providers with DANE', () => {
  it('delivers both ways, encrypted on receipt, and the relay logs DANE', async () => {
    const toAlice = await mail(bob, alice.address, 'dane-to-alpha heron-7731');
    expect(await submit(beta, bob, alice.address, toAlice)).toBe(250);
    const [stored] = await inbox(alpha, alice, 1);
    expect((await decryptWith(alice.privateKey, stored as Buffer)).equals(toAlice)).toBe(true);
    expect(lastDelivery(beta, 'alpha.test')).toMatchObject({
      mx: 'mx.alpha.test',
      protection: 'dane',
    });

    const toBob = await mail(alice, bob.address, 'dane-to-beta');
    expect(await submit(alpha, alice, bob.address, toBob)).toBe(250);
    expect((await inbox(beta, bob, 1)).length).toBe(1);
    expect(lastDelivery(alpha, 'beta.test')).toMatchObject({
      mx: 'mx.beta.test',
      protection: 'dane',
    });
  });

  it("finds each other's keys through the peer's nicknym, found in DNS and reached over DANE", async () => {
    const fromBeta = await api(beta, 'GET', `/nicknym?address=${alice.address}`);
    expect(fromBeta.status).toBe(200);
    expect(fromBeta.json.address).toBe(alice.address);
    expect((await api(alpha, 'GET', `/nicknym?address=${bob.address}`)).json.address).toBe(
      bob.address,
    );
    expect((await api(beta, 'GET', '/nicknym?address=nobody@alpha.test')).status).toBe(404);
    // A LEAP peer whose API certificate does not match its TLSA, or that has none, is not asked.
    const epsilon = await api(alpha, 'GET', '/nicknym?address=erin@epsilon.test');
    expect(epsilon.status).toBe(502);
    expect(epsilon.json.error).toMatchObject({ code: 'peer_untrusted' });
    expect(epsilon.json.error.message).toMatch(/TLSA/);
    const zeta = await api(alpha, 'GET', '/nicknym?address=zed@zeta.test');
    expect(zeta.status).toBe(502);
    expect(zeta.json.error.message).toMatch(/no validated TLSA/);
  });

  it('sends nothing when an attacker strips STARTTLS, and delivers once the path is clean', async () => {
    const before = (await inbox(beta, bob)).length;
    const raw = await mail(alice, bob.address, 'stripped kestrel-1207');
    path.mode = 'strip-starttls';
    try {
      const seen = path.fromClient().length;
      expect(await submit(alpha, alice, bob.address, raw)).toBe(451);
      const sent = path.fromClient().slice(seen);
      expect(sent).toContain('EHLO');
      expect(sent).not.toMatch(/MAIL FROM|RCPT TO|kestrel-1207/);
      expect(relayLog(alpha).at(-1)).toMatchObject({ event: 'relay_failed', required: 'dane' });
    } finally {
      path.mode = 'pass';
    }
    expect(await submit(alpha, alice, bob.address, raw)).toBe(250);
    expect((await inbox(beta, bob, before + 1)).length).toBe(before + 1);
  });

  it("keeps the message in the sender's outbox while STARTTLS is stripped, and sends it when the path is clean", async () => {
    const before = (await inbox(beta, bob)).length;
    const raw = await mail(alice, bob.address, 'outbox grebe-5150');
    path.mode = 'strip-starttls';
    try {
      const seen = path.fromClient().length;
      expect(
        await submitLocally(aliceHost, { from: alice.address, to: [bob.address] }, raw),
      ).toContain('250');
      await aliceHost.outbox.flush();
      const [waiting] = aliceHost.outbox.list();
      expect(waiting?.deliveries[0]).toMatchObject({ state: 'pending' });
      expect(waiting?.deliveries[0]?.lastError).toMatch(/451|STARTTLS/);
      expect(path.fromClient().slice(seen)).not.toMatch(/MAIL FROM|RCPT TO/);
    } finally {
      path.mode = 'pass';
    }
    await aliceHost.outbox.retryNow();
    expect(aliceHost.outbox.list()).toEqual([]);
    expect((await inbox(beta, bob, before + 1)).length).toBe(before + 1);
    expect(lastDelivery(alpha, 'beta.test')).toMatchObject({ protection: 'dane' });
  });

  it('sends nothing to a server whose certificate does not match TLSA, and delivers once it is gone', async () => {
    const before = (await inbox(beta, bob)).length;
    const raw = await mail(alice, bob.address, 'impostor plover-3390');
    path.mode = 'impostor';
    try {
      const seen = path.fromClient().length;
      expect(await submit(alpha, alice, bob.address, raw)).toBe(451);
      expect(impostor.received).toEqual([]);
      expect(path.fromClient().slice(seen)).not.toMatch(/plover-3390/);
      expect(relayLog(alpha).at(-1)).toMatchObject({ event: 'relay_failed', required: 'dane' });
      expect(String(relayLog(alpha).at(-1)?.reason)).toMatch(/TLSA/);
    } finally {
      path.mode = 'pass';
    }
    expect(await submit(alpha, alice, bob.address, raw)).toBe(250);
    expect((await inbox(beta, bob, before + 1)).length).toBe(before + 1);
  });

  it('sends nothing while the zone is bogus, and delivers once it validates again', async () => {
    const before = (await inbox(beta, bob)).length;
    const raw = await mail(alice, bob.address, 'bogus zone');
    await world.setZones(zones({ betaBogus: true }));
    const seen = path.fromClient().length;
    try {
      expect(await submit(alpha, alice, bob.address, raw)).toBe(451);
      expect(path.fromClient().slice(seen)).toBe('');
    } finally {
      await world.setZones(zones());
    }
    expect(await submit(alpha, alice, bob.address, raw)).toBe(250);
    expect((await inbox(beta, bob, before + 1)).length).toBe(before + 1);
  });
});

describe('domains without DANE', () => {
  it('MTA-STS enforce: refuses a certificate the policy does not allow, delivers with a valid one', async () => {
    const raw = await mail(alice, 'carol@gamma.test', 'sts wren-4410');
    expect(await submit(alpha, alice, 'carol@gamma.test', raw)).toBe(451);
    expect(gammaSink.received).toEqual([]);
    expect(relayLog(alpha).at(-1)).toMatchObject({ event: 'relay_failed', required: 'mta-sts' });

    await gammaSink.close();
    gammaSink = await startSink({
      host: IP.gamma,
      port: mxPort,
      tls: gammaTls,
    });
    expect(await submit(alpha, alice, 'carol@gamma.test', raw)).toBe(250);
    expect(gammaSink.received).toHaveLength(1);
    expect(gammaSink.received[0]?.secure).toBe(true);
    expect(lastDelivery(alpha, 'gamma.test')).toMatchObject({ protection: 'mta-sts' });
  });

  it('MTA-STS testing: delivered, and what enforce would refuse is logged', async () => {
    const raw = await mail(alice, 'ed@eta.test', 'sts testing');
    expect(await submit(alpha, alice, 'ed@eta.test', raw)).toBe(250);
    expect(etaSink.received).toHaveLength(1);
    const log = readFileSync(join(alpha.dataDir, 'provider.log'), 'utf8');
    expect(log).toMatch(/"event":"mta_sts_testing_failure","domain":"eta.test"/);
    expect(lastDelivery(alpha, 'eta.test')).toMatchObject({ protection: 'opportunistic' });
  });

  it('neither DANE nor MTA-STS: opportunistic TLS, whatever the certificate', async () => {
    const raw = await mail(alice, 'dave@delta.test', 'plain domain');
    expect(await submit(alpha, alice, 'dave@delta.test', raw)).toBe(250);
    expect(deltaSink.received).toHaveLength(1);
    expect(deltaSink.received[0]?.secure).toBe(true);
    expect(lastDelivery(alpha, 'delta.test')).toMatchObject({ protection: 'opportunistic' });
  });

  it('neither, and no STARTTLS offered: delivered in plaintext, logged as none', async () => {
    const raw = await mail(alice, 'tom@theta.test', 'no tls at all');
    expect(await submit(alpha, alice, 'tom@theta.test', raw)).toBe(250);
    expect(thetaSink.received).toHaveLength(1);
    expect(thetaSink.received[0]?.secure).toBe(false);
    expect(lastDelivery(alpha, 'theta.test')).toMatchObject({ protection: 'none' });

    // The same server behind only unusable TLSA records: TLS is mandatory, nothing is sent.
    const iota = await mail(alice, 'ian@iota.test', 'unusable tlsa');
    expect(await submit(alpha, alice, 'ian@iota.test', iota)).toBe(451);
    expect(thetaSink.received).toHaveLength(1);
  });

  it('a LEAP peer without validated TLS gets nothing', async () => {
    const raw = await mail(alice, 'erin@epsilon.test', 'leap without tls');
    expect(await submit(alpha, alice, 'erin@epsilon.test', raw)).toBe(451);
    expect(epsilonSink.received).toEqual([]);
    expect(relayLog(alpha).at(-1)).toMatchObject({
      event: 'relay_refused',
      domain: 'epsilon.test',
    });

    // Its announcement made bogus does not make it an ordinary domain.
    const before = thetaSink.received.length;
    const kappa = await mail(alice, 'kim@kappa.test', 'leap bogus');
    expect(await submit(alpha, alice, 'kim@kappa.test', kappa)).toBe(451);
    expect(thetaSink.received).toHaveLength(before);
    expect(relayLog(alpha).at(-1)).toMatchObject({ event: 'relay_refused', domain: 'kappa.test' });
  });

  it("finds an ordinary domain's keys by WKD at the domain, over HTTPS checked against the CAs", async () => {
    const found = await api(alpha, 'GET', '/nicknym?address=dave@delta.test');
    expect(found.status).toBe(200);
    expect(found.json.address).toBe('dave@delta.test');
    expect((await api(alpha, 'GET', '/nicknym?address=nobody@delta.test')).status).toBe(404);
    // The same key behind a certificate no trusted CA issued is not taken.
    const untrusted = await api(alpha, 'GET', '/nicknym?address=dave@theta.test');
    expect(untrusted.status).toBe(502);
    expect(untrusted.json.error.code).toBe('peer_unavailable');
    expect(untrusted.json.error.message).toMatch(/certificate/);
  });

  it('a null MX and a domain that does not exist are permanent failures; no MX means the domain itself', async () => {
    const raw = await mail(alice, 'x@nomail.test', 'null mx');
    expect(await submit(alpha, alice, 'x@nomail.test', raw)).toBe(556);
    expect(await submit(alpha, alice, 'x@nowhere.alpha.test', raw)).toBe(550);

    const before = thetaSink.received.length;
    expect(await submit(alpha, alice, 'lou@lambda.test', raw)).toBe(250);
    expect(thetaSink.received.at(before)?.to).toEqual(['lou@lambda.test']);
    expect(lastDelivery(alpha, 'lambda.test')).toMatchObject({ mx: 'lambda.test' });
  });
});
