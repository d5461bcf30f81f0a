/**
 * MX throughput: messages/s accepted, encrypted to the recipient's key and delivered into
 * Dovecot, for 1 KB and 100 KB messages, against the same MX with encryption switched off
 * (anchor), run side by side. Prints the ratios. Bounded: about 35 s in total.
 *
 *   npx tsx bench/provider-mx.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import * as openpgp from 'openpgp';
import * as srp from 'secure-remote-password/client.js';
import { request } from 'node:https';
import { startProvider, type RunningProvider } from '../provider/src/index.js';

const SECONDS_PER_RUN = 2;
// Plain and encrypting runs alternate, so load from other processes hits both alike.
const ROUNDS = 3;
const CONCURRENCY = 4;

function call(
  p: RunningProvider,
  method: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<Record<string, string>> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: p.host,
        port: p.ports.api,
        method,
        path,
        ca: p.caCertPem,
        servername: p.domain,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
          ...(token ? { authorization: `Token token="${token}"` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString() || '{}')));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

/** Signs up `bench`, logs in, uploads a key; returns the address. */
async function prepareUser(p: RunningProvider): Promise<string> {
  const login = 'bench';
  const password = 'bench password';
  const salt = srp.generateSalt();
  await call(p, 'POST', '/1/users', {
    user: {
      login,
      password_salt: salt,
      password_verifier: srp.deriveVerifier(srp.derivePrivateKey(salt, login, password)),
    },
  });
  const eph = srp.generateEphemeral();
  const hello = await call(p, 'POST', '/1/sessions', { login, A: eph.public });
  const B = String(hello['B']);
  const userSalt = String(hello['salt']);
  const session = srp.deriveSession(
    eph.secret,
    B,
    userSalt,
    login,
    srp.derivePrivateKey(userSalt, login, password),
  );
  const proof = await call(p, 'PUT', `/1/sessions/${login}`, {
    client_auth: session.proof,
    A: eph.public,
  });
  const address = `${login}@${p.domain}`;
  const { publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ email: address }],
  });
  await call(
    p,
    'PUT',
    `/1/users/${proof['id']}`,
    { user: { public_key: publicKey } },
    proof['token'],
  );
  return address;
}

function message(to: string, bytes: number): Buffer {
  const header = `From: sender@elsewhere.example\r\nTo: ${to}\r\nSubject: bench\r\nMessage-ID: <bench@elsewhere.example>\r\nDate: ${new Date().toUTCString()}\r\n\r\n`;
  const line =
    'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n';
  return Buffer.from(header + line.repeat(Math.ceil((bytes - header.length) / line.length)));
}

/** Sends for `seconds` over CONCURRENCY pooled connections; returns messages/s. */
async function run(
  p: RunningProvider,
  to: string,
  raw: Buffer,
  seconds = SECONDS_PER_RUN,
): Promise<number> {
  const transport = nodemailer.createTransport({
    host: p.host,
    port: p.ports.mx,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: CONCURRENCY,
    maxMessages: Infinity,
  });
  const end = Date.now() + seconds * 1000;
  let sent = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        await transport.sendMail({ envelope: { from: 'sender@elsewhere.example', to: [to] }, raw });
        sent++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  transport.close();
  return sent / elapsed;
}

async function main(): Promise<void> {
  const dirs = [
    mkdtempSync(join(tmpdir(), 'bench-plain-')),
    mkdtempSync(join(tmpdir(), 'bench-enc-')),
  ];
  const plain = await startProvider({
    domain: 'plain.test',
    dataDir: dirs[0] as string,
    encryptIncoming: false,
  });
  const encrypted = await startProvider({
    domain: 'enc.test',
    dataDir: dirs[1] as string,
    encryptIncoming: true,
  });
  try {
    const plainTo = await prepareUser(plain);
    const encTo = await prepareUser(encrypted);
    console.log(
      `MX throughput, ${ROUNDS} alternating rounds of ${SECONDS_PER_RUN} s, ${CONCURRENCY} connections, delivery into Dovecot over LMTP`,
    );
    console.log('size    | plain MX (msg/s) | encrypting MX (msg/s) | encrypting / plain');
    for (const size of [1024, 100 * 1024]) {
      // Warm-up (JIT, Dovecot processes, key cache), then the measured runs side by side.
      await run(plain, plainTo, message(plainTo, size), 1);
      await run(encrypted, encTo, message(encTo, size), 1);
      let base = 0;
      let enc = 0;
      for (let round = 0; round < ROUNDS; round++) {
        base += (await run(plain, plainTo, message(plainTo, size))) / ROUNDS;
        enc += (await run(encrypted, encTo, message(encTo, size))) / ROUNDS;
      }
      const label = size >= 1024 * 100 ? '100 KB ' : '1 KB   ';
      console.log(
        `${label} | ${base.toFixed(1).padStart(16)} | ${enc.toFixed(1).padStart(21)} | ${(enc / base).toFixed(2).padStart(18)}`,
      );
    }
  } finally {
    await plain.stop();
    await encrypted.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
