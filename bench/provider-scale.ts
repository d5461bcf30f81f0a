/**
 * The provider at scale: one process against three, each time behind the same HAProxy
 * (round robin; TLS terminated for the API, TCP for the MX) on one private PostgreSQL
 * cluster. Measures sign-ups + logins per second (SRP, the client side in this process too)
 * and MX messages per second (1 KB, encrypted to the recipient's key, delivered into
 * Dovecot over LMTP), counts the messages in Dovecot (lost = accepted - stored), and prints
 * both side by side with the ratio. About a minute and a half.
 *
 *   npx tsx bench/provider-scale.ts
 *
 * Each process runs its own Dovecot, so a user's mail is spread over three mail folders
 * (no Dovecot proxy yet); the count adds them up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import * as openpgp from 'openpgp';
import * as srp from 'secure-remote-password/client.js';
import { startProvider, type RunningProvider } from '../provider/src/index.js';
import { startPostgresCluster, type PostgresCluster } from '../test/helpers/postgres.js';
import { freePort } from '../provider/src/net/index.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 6);
const LOGIN_CONCURRENCY = 6;
const MX_CONCURRENCY = 6;
const DOMAIN = 'scale.test';

interface Front {
  host: string;
  apiPort: number;
  mxPort: number;
  caCertPem: string;
}

function call(
  f: Front,
  method: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; json: Record<string, string> }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: f.host,
        port: f.apiPort,
        method,
        path,
        ca: f.caCertPem,
        servername: DOMAIN,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          ...(token ? { authorization: `Token token="${token}"` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(Buffer.concat(chunks).toString() || '{}'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** Sign-up and login of a new account; its id and token. */
async function signUpAndLogIn(f: Front, login: string): Promise<{ id: string; token: string }> {
  const password = `pw ${login}`;
  const salt = srp.generateSalt();
  const made = await call(f, 'POST', '/1/users', {
    user: {
      login,
      password_salt: salt,
      password_verifier: srp.deriveVerifier(srp.derivePrivateKey(salt, login, password)),
    },
  });
  if (made.status !== 201) throw new Error(`sign-up: ${made.status}`);
  const eph = srp.generateEphemeral();
  const hello = await call(f, 'POST', '/1/sessions', { login, A: eph.public });
  if (hello.status !== 200)
    throw new Error(`handshake: ${hello.status} ${JSON.stringify(hello.json)}`);
  const session = srp.deriveSession(
    eph.secret,
    String(hello.json['B']),
    String(hello.json['salt']),
    login,
    srp.derivePrivateKey(String(hello.json['salt']), login, password),
  );
  const proof = await call(f, 'PUT', `/1/sessions/${login}`, {
    client_auth: session.proof,
    A: eph.public,
  });
  if (proof.status !== 200) throw new Error(`login: ${proof.status} ${JSON.stringify(proof.json)}`);
  return { id: proof.json['id']!, token: proof.json['token']! };
}

async function startHaproxy(dir: string, processes: RunningProvider[], ca: string) {
  const pem = join(dir, 'server.pem');
  writeFileSync(
    pem,
    readFileSync(join(ca, 'server.crt'), 'utf8') + readFileSync(join(ca, 'server.key'), 'utf8'),
    { mode: 0o600 },
  );
  const apiPort = await freePort('127.0.0.1');
  const mxPort = await freePort('127.0.0.1');
  const config = [
    'global',
    '  maxconn 2000',
    'defaults',
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    'frontend api',
    '  mode http',
    `  bind 127.0.0.1:${apiPort} ssl crt ${pem}`,
    '  option forwardfor',
    '  default_backend api',
    'backend api',
    '  mode http',
    '  balance roundrobin',
    ...processes.map(
      (p, i) =>
        `  server p${i} 127.0.0.1:${p.ports.api} ssl verify required ca-file ${join(ca, 'ca.crt')} sni str(${DOMAIN})`,
    ),
    'frontend mx',
    '  mode tcp',
    `  bind 127.0.0.1:${mxPort}`,
    '  default_backend mx',
    'backend mx',
    '  mode tcp',
    '  balance roundrobin',
    ...processes.map((p, i) => `  server m${i} 127.0.0.1:${p.ports.mx}`),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'haproxy.cfg'), config);
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port: apiPort, path: '/provider.json', rejectUnauthorized: false },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on('error', () => resolve(false));
      req.end();
    });
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { apiPort, mxPort, stop: () => child.kill('SIGTERM') };
}

function message(to: string, n: number): Buffer {
  const header = `From: sender@elsewhere.example\r\nTo: ${to}\r\nSubject: bench ${n}\r\nMessage-ID: <bench-${n}@elsewhere.example>\r\nDate: ${new Date().toUTCString()}\r\n\r\n`;
  const line =
    'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n';
  return Buffer.from(header + line.repeat(12));
}

/** Runs `op` from `concurrency` loops for SECONDS; operations per second. */
async function rate(concurrency: number, op: (n: number) => Promise<void>): Promise<number> {
  const end = Date.now() + SECONDS * 1000;
  let done = 0;
  let n = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        await op(n++);
        done++;
      }
    }),
  );
  return done / (Number(process.hrtime.bigint() - start) / 1e9);
}

function countMail(dirs: string[], login: string): number {
  let count = 0;
  for (const d of dirs) {
    for (const sub of ['new', 'cur']) {
      const folder = join(d, 'mail', DOMAIN, login, 'Maildir', sub);
      if (existsSync(folder)) count += readdirSync(folder).length;
    }
  }
  return count;
}

async function scenario(cluster: PostgresCluster, count: number) {
  const database = await cluster.createDatabase();
  const secret = randomBytes(32).toString('hex');
  const dirs: string[] = [];
  const processes: RunningProvider[] = [];
  const work = mkdtempSync(join(tmpdir(), `bench-scale-${count}-`));
  // Dovecot's mail processes (nobody, when run as root) must reach the mail folders.
  chmodSync(work, 0o711);
  try {
    for (let i = 0; i < count; i++) {
      const dataDir = join(work, `p${i}`);
      if (i > 0) cpSync(join(dirs[0]!, 'ca'), join(dataDir, 'ca'), { recursive: true });
      dirs.push(dataDir);
      processes.push(
        await startProvider({
          domain: DOMAIN,
          dataDir,
          database,
          secret,
          limits: {
            trustedProxies: ['127.0.0.1'],
            handshakesPerClientPerMinute: 1_000_000,
          },
        }),
      );
    }
    const lb = await startHaproxy(work, processes, join(dirs[0]!, 'ca'));
    const front: Front = {
      host: '127.0.0.1',
      apiPort: lb.apiPort,
      mxPort: lb.mxPort,
      caCertPem: processes[0]!.caCertPem,
    };
    try {
      const logins = await rate(LOGIN_CONCURRENCY, async (n) => {
        await signUpAndLogIn(front, `u${n}`);
      });
      // The MX's recipient, with a key: mail is encrypted to it on arrival.
      const login = 'reader';
      const address = `${login}@${DOMAIN}`;
      const reader = await signUpAndLogIn(front, login);
      const { publicKey } = await openpgp.generateKey({
        type: 'ecc',
        curve: 'curve25519Legacy',
        userIDs: [{ email: address }],
      });
      await call(
        front,
        'PUT',
        `/1/users/${reader.id}`,
        { user: { public_key: publicKey } },
        reader.token,
      );
      const transport = nodemailer.createTransport({
        host: front.host,
        port: front.mxPort,
        secure: false,
        ignoreTLS: true,
        pool: true,
        maxConnections: MX_CONCURRENCY,
        maxMessages: Infinity,
      });
      let accepted = 0;
      const mx = await rate(MX_CONCURRENCY, async (n) => {
        await transport.sendMail({
          envelope: { from: 'sender@elsewhere.example', to: [address] },
          raw: message(address, n),
        });
        accepted++;
      });
      transport.close();
      const stored = countMail(dirs, login);
      return { logins, mx, accepted, stored };
    } finally {
      lb.stop();
    }
  } finally {
    for (const p of processes) await p.stop();
    if (process.env['KEEP']) console.error('kept', work);
    else rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const cluster = await startPostgresCluster();
  try {
    const one = await scenario(cluster, 1);
    const three = await scenario(cluster, 3);
    console.log(
      `Provider behind HAProxy on PostgreSQL, ${SECONDS} s per measurement; sign-up + login with ${LOGIN_CONCURRENCY} clients, MX 1 KB messages over ${MX_CONCURRENCY} connections (encrypted, into Dovecot)`,
    );
    console.log('                          | 1 process | 3 processes | 3 / 1');
    const row = (label: string, a: number, b: number) =>
      console.log(
        `${label.padEnd(25)} | ${a.toFixed(1).padStart(9)} | ${b.toFixed(1).padStart(11)} | ${(b / a).toFixed(2).padStart(5)}`,
      );
    row('sign-ups + logins / s', one.logins, three.logins);
    row('MX messages / s', one.mx, three.mx);
    for (const [label, r] of [
      ['1 process', one],
      ['3 processes', three],
    ] as const)
      console.log(
        `${label}: ${r.accepted} accepted, ${r.stored} in Dovecot, ${r.accepted - r.stored} lost`,
      );
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
