/**
 * Loopback HTTPS for key discovery tests: one server with a test CA whose certificate
 * names every host a test needs; requests are routed by Host header and recorded, so a
 * test can say which "server" saw what. A resolver sends every other host to a closed
 * port, so nothing ever leaves the machine (no DNS either).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AddressInfo } from 'node:net';
import type { Endpoint, Resolver } from '../../native-host/src/keys/index.js';

const run = promisify(execFile);

export interface TestCa {
  caPem: string;
  keyPem: string;
  certPem: string;
}

/** A CA and a server certificate for `names` (and 127.0.0.1), made by openssl. */
export async function makeCertificates(names: string[]): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'keys-tls-'));
  try {
    const opts = { cwd: dir, timeout: 30_000 };
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    await run(
      'openssl',
      [
        'req',
        '-x509',
        ...ec,
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
        '-subj',
        '/CN=Keys Test CA',
        '-days',
        '2',
      ],
      opts,
    );
    await run(
      'openssl',
      ['req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=keys-test'],
      opts,
    );
    const san = ['IP:127.0.0.1', ...names.map((n) => `DNS:${n}`)].join(',');
    await writeFile(join(dir, 'ext.cnf'), `subjectAltName=${san}\n`);
    await run(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        'srv.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        'srv.crt',
        '-days',
        '2',
        '-extfile',
        'ext.cnf',
      ],
      opts,
    );
    const [caPem, keyPem, certPem] = await Promise.all(
      ['ca.crt', 'srv.key', 'srv.crt'].map((f) => readFile(join(dir, f), 'utf8')),
    );
    return { caPem: caPem!, keyPem: keyPem!, certPem: certPem! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface SeenRequest {
  host: string;
  path: string;
}

export type Route = (
  path: string,
  url: URL,
) => { status: number; body: string | Uint8Array; type?: string; location?: string } | undefined;

export interface FakeWeb {
  origin: string;
  caPem: string;
  seen: SeenRequest[];
  /** Routes by host name; replace entries at will during a test. */
  routes: Map<string, Route>;
  resolver: Resolver;
  close(): Promise<void>;
}

export async function startFakeWeb(tls: TestCa, hosts: string[]): Promise<FakeWeb> {
  const seen: SeenRequest[] = [];
  const routes = new Map<string, Route>();
  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    const host = String(req.headers.host ?? '')
      .replace(/:\d+$/, '')
      .toLowerCase();
    const url = new URL(req.url ?? '/', `https://${host}`);
    seen.push({ host, path: req.url ?? '' });
    const answer = routes.get(host)?.(url.pathname, url);
    res.writeHead(answer?.status ?? 404, {
      'content-type': answer?.type ?? 'text/plain',
      ...(answer?.location ? { location: answer.location } : {}),
    });
    res.end(answer ? answer.body : 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const known = new Set(hosts.map((h) => h.toLowerCase()));
  // Port 1 on loopback refuses at once: "this host does not exist" without DNS.
  const refused: Endpoint = { origin: 'https://127.0.0.1:1' };
  const resolver: Resolver = (host) =>
    known.has(host.toLowerCase()) ? { origin, ca: tls.caPem } : refused;
  return {
    origin,
    caPem: tls.caPem,
    seen,
    routes,
    resolver,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
