/**
 * The provider's API as several processes behind a real HAProxy (round robin), on one
 * PostgreSQL database: HAProxy terminates TLS with the provider's own certificate,
 * re-encrypts to each process (checking it against the provider's CA) and names the client
 * in X-Forwarded-For, which the processes believe from HAProxy only. Each answer says which
 * process served it. (PostgreSQL only: the sqlite project leaves this file out.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProvider, type RunningProvider } from '../../provider/src/index.js';
import { testDatabase } from '../helpers/test-store.js';
import { waitFor } from '../helpers/wait.js';
import { api, logIn, signUp, type TestProvider } from './helpers.js';
import { freePort } from '../../provider/src/net/index.js';

const DOMAIN = 'alpha.test';

describe('three API processes behind HAProxy', () => {
  const dirs: string[] = [];
  const processes: RunningProvider[] = [];
  let haproxy: ChildProcess;
  /** The balancer, addressed as the provider. */
  let front: TestProvider;

  beforeAll(async () => {
    const database = await testDatabase();
    const shared = {
      domain: DOMAIN,
      host: '127.0.0.1',
      database,
      secret: randomBytes(32).toString('hex'),
      limits: { trustedProxies: ['127.0.0.1'], loginFailuresFree: 1, clientFailuresFree: 1 },
    };
    for (let i = 0; i < 3; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), `provider-lb-${i}-`));
      dirs.push(dataDir);
      // One provider: every process has the first one's CA and server certificate.
      if (i > 0) cpSync(join(dirs[0]!, 'ca'), join(dataDir, 'ca'), { recursive: true });
      processes.push(await startProvider({ ...shared, dataDir }));
    }
    const dir = mkdtempSync(join(tmpdir(), 'haproxy-'));
    dirs.push(dir);
    const ca = join(dirs[0]!, 'ca');
    const pem = join(dir, 'server.pem');
    writeFileSync(
      pem,
      readFileSync(join(ca, 'server.crt'), 'utf8') + readFileSync(join(ca, 'server.key'), 'utf8'),
      { mode: 0o600 },
    );
    const port = await freePort('127.0.0.1');
    const servers = processes.map(
      (p, i) =>
        `  server p${i} 127.0.0.1:${p.ports.api} ssl verify required ca-file ${join(ca, 'ca.crt')} sni str(${DOMAIN}) check inter 1s fall 3 rise 2`,
    );
    const config = [
      'global',
      `  pidfile ${join(dir, 'haproxy.pid')}`,
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 1h',
      '  timeout server 1h',
      '  retries 3',
      // A refused connection (a stopped process) is retried on another one at once; the
      // health checks only keep later requests away, and are lenient on a loaded machine.
      '  option redispatch 1',
      '  timeout check 10s',
      'frontend api',
      `  bind 127.0.0.1:${port} ssl crt ${pem}`,
      '  option forwardfor',
      '  default_backend processes',
      'backend processes',
      '  balance roundrobin',
      '  http-response set-header X-Served-By %s',
      ...servers,
      '',
    ].join('\n');
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(cfg, config);
    // -db: foreground, so the PID is HAProxy's and stopping it is ours.
    haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    const p0 = processes[0]!;
    front = {
      ...p0,
      ports: { ...p0.ports, api: port },
      apiUrl: `https://127.0.0.1:${port}`,
      dataDir: dirs[0]!,
      cleanup: async () => undefined,
    };
    await waitFor('HAProxy to answer', async () => {
      const res = await api(front, 'GET', '/provider.json').catch(() => null);
      return res?.status === 200;
    });
  });

  afterAll(async () => {
    haproxy?.kill('SIGTERM');
    for (const p of processes) await p.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('spreads requests over all processes; a login whose steps land on different ones works', async () => {
    const servedBy = new Set<string>();
    const note = (res: { headers: Record<string, unknown> }) =>
      servedBy.add(String(res.headers['x-served-by']));
    note(await signUp(front, 'hana', 'pw-hana'));
    for (let i = 0; i < 3; i++) {
      const login = await logIn(front, 'hana', 'pw-hana');
      expect(login.status).toBe(200);
      expect(login.serverProofError).toBeUndefined();
      login.responses.forEach(note);
      const [hello, proof] = login.responses;
      expect(hello!.headers['x-served-by']).not.toBe(proof!.headers['x-served-by']);
    }
    expect([...servedBy].sort()).toEqual(['p0', 'p1', 'p2']);
  });

  it('counts failed logins by the client HAProxy names, not by HAProxy', async () => {
    expect((await signUp(front, 'ivan', 'pw-ivan')).status).toBe(201);
    // The guesser at 127.0.0.2 earns himself a delay...
    for (let i = 0; i < 2; i++)
      expect((await logIn(front, 'ivan', 'guess', { from: '127.0.0.2' })).status).toBe(422);
    expect((await logIn(front, 'ivan', 'guess', { from: '127.0.0.2' })).status).toBe(429);
    // ...and ivan, at 127.0.0.3 and through the same HAProxy, logs in at once.
    expect((await logIn(front, 'ivan', 'pw-ivan', { from: '127.0.0.3' })).status).toBe(200);
  });

  it('keeps clients working through the others when a process stops', async () => {
    expect((await signUp(front, 'jon', 'pw-jon')).status).toBe(201);
    const before = await logIn(front, 'jon', 'pw-jon');
    expect(before.status).toBe(200);
    await processes[1]!.stop();
    const served = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const login = await logIn(front, 'jon', 'pw-jon');
      expect(login.status).toBe(200);
      login.responses.forEach((r) => served.add(String(r.headers['x-served-by'])));
      // The session from before the stop is still good wherever it lands.
      const config = await api(front, 'GET', '/1/configs/smtp-service.json', {
        token: before.token,
      });
      expect(config.status).toBe(200);
    }
    expect(served.has('p1')).toBe(false);
  });
});
