/**
 * Test helpers: a provider in a fresh temporary directory, an HTTPS client that trusts only
 * that provider's CA, and a minimal SRP client built on the same package as the server.
 */
import { parsePasswordKdf } from '../../shared/src/password-kdf.js';
import { keyForOffer } from '../../native-host/src/provider/srp-key.js';
import { request } from 'node:https';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import * as openpgp from 'openpgp';
import * as srp from 'secure-remote-password/client.js';
import {
  startProvider,
  type ProviderOptions,
  type RunningProvider,
} from '../../provider/src/index.js';
import { testDatabase } from '../helpers/test-store.js';

export interface TestProvider extends RunningProvider {
  dataDir: string;
  cleanup(): Promise<void>;
}

export async function startTestProvider(
  domain: string,
  host = '127.0.0.1',
  options: Partial<ProviderOptions> = {},
): Promise<TestProvider> {
  const dataDir = mkdtempSync(join(tmpdir(), `provider-${domain}-`));
  // SQLite in the data directory, or (the postgres project) a database of its own.
  const database = options.database ?? (await testDatabase());
  const provider = await startProvider({ domain, dataDir, host, ...options, database });
  return {
    ...provider,
    dataDir,
    cleanup: async () => {
      await provider.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Every request this helper sent (method, path, headers and body): all the API ever saw. */
export const sentRequests: string[] = [];

/** One HTTPS request to the provider, trusting only its CA, servername = its domain. */
export function api(
  p: Pick<RunningProvider, 'host' | 'ports' | 'caCertPem' | 'domain'>,
  method: string,
  path: string,
  options: {
    json?: unknown;
    raw?: string | Buffer;
    token?: string;
    headers?: Record<string, string>;
    /** Local address to connect from (127.0.0.2, …): another client, as the provider sees it. */
    from?: string;
  } = {},
): Promise<ApiResponse> {
  const body =
    options.raw !== undefined
      ? options.raw
      : options.json !== undefined
        ? JSON.stringify(options.json)
        : undefined;
  const headers = {
    ...(body !== undefined
      ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
      : {}),
    ...(options.token ? { authorization: `Token token="${options.token}"` } : {}),
    ...options.headers,
  };
  sentRequests.push(`${method} ${path}\n${JSON.stringify(headers)}\n${body?.toString() ?? ''}`);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: p.host,
        port: p.ports.api,
        method,
        path,
        ca: p.caCertPem,
        servername: p.domain,
        timeout: 15_000,
        headers,
        ...(options.from ? { localAddress: options.from, agent: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          let json: unknown = undefined;
          try {
            json = JSON.parse(buf.toString('utf8'));
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export async function signUp(
  p: TestProvider,
  login: string,
  password: string,
): Promise<ApiResponse> {
  const salt = srp.generateSalt();
  const verifier = srp.deriveVerifier(srp.derivePrivateKey(salt, login, password));
  return api(p, 'POST', '/1/users', {
    json: { user: { login, password_salt: salt, password_verifier: verifier } },
  });
}

export interface LoginResult {
  status: number;
  token?: string;
  id?: string;
  /** Set when the server's proof M2 failed verification. */
  serverProofError?: Error;
  responses: ApiResponse[];
}

/** SRP login as a client does it: handshake, proof, then verification of the server's M2.
 * `from` is the local address to connect from; `token` a session the client already holds. */
export async function logIn(
  p: TestProvider,
  login: string,
  password: string,
  client: { from?: string; token?: string } = {},
): Promise<LoginResult> {
  const ephemeral = srp.generateEphemeral();
  const hello = await api(p, 'POST', '/1/sessions', {
    ...client,
    json: { login, A: ephemeral.public },
  });
  if (hello.status !== 200) return { status: hello.status, responses: [hello] };
  const { B, salt, kdf } = hello.json as { B: string; salt: string; kdf?: unknown };
  // The password key as the host derives it: scrypt'd when the account says so.
  const parsed = kdf === undefined ? null : parsePasswordKdf(kdf);
  if (parsed && 'error' in parsed) throw new Error(parsed.error);
  const key = await keyForOffer(
    { salt, kdf: parsed ? parsed.kdf : null },
    { password },
    { login, domain: p.domain, memoryHard: false },
  );
  const session = srp.deriveSession(ephemeral.secret, B, salt, login, key.x);
  const proof = await api(p, 'PUT', `/1/sessions/${login}`, {
    ...client,
    json: { client_auth: session.proof, A: ephemeral.public },
  });
  if (proof.status !== 200) return { status: proof.status, responses: [hello, proof] };
  const result: LoginResult = {
    status: 200,
    token: proof.json.token,
    id: proof.json.id,
    responses: [hello, proof],
  };
  try {
    srp.verifySession(ephemeral.public, session, proof.json.M2);
  } catch (err) {
    result.serverProofError = err as Error;
  }
  return result;
}

/** Sign-up + login; returns the session token and account id. */
export async function newAccount(p: TestProvider, login: string, password = `pw-${login}`) {
  const created = await signUp(p, login, password);
  if (created.status !== 201) throw new Error(`sign-up failed: ${created.body.toString()}`);
  const session = await logIn(p, login, password);
  if (!session.token || !session.id) throw new Error(`login failed: ${session.status}`);
  return { id: session.id, token: session.token, address: `${login}@${p.domain}` };
}

/** A v4 key GnuPG 2.2 can read (EdDSA + ECDH on Curve25519, legacy ids). */
export async function makeKey(address: string) {
  return openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ email: address }],
    format: 'armored',
  });
}

export async function uploadKey(
  p: TestProvider,
  account: { id: string; token: string },
  publicKey: string,
) {
  return api(p, 'PUT', `/1/users/${account.id}`, {
    token: account.token,
    json: { user: { public_key: publicKey } },
  });
}

export interface MailAccount {
  id: string;
  token: string;
  address: string;
}

export function imapClient(p: TestProvider, account: MailAccount): ImapFlow {
  return new ImapFlow({
    host: p.host,
    port: p.ports.imap,
    secure: true,
    tls: { ca: p.caCertPem, servername: p.domain },
    auth: { user: account.address, accessToken: account.token },
    logger: false,
  });
}

/** The raw source of every message in the account's INBOX, read over IMAP with its token;
 * waits (bounded) until at least `atLeast` are there. */
export async function inbox(
  p: TestProvider,
  account: MailAccount,
  atLeast = 0,
  timeoutMs = 10_000,
): Promise<Buffer[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const imap = imapClient(p, account);
    await imap.connect();
    try {
      const lock = await imap.getMailboxLock('INBOX');
      try {
        const sources: Buffer[] = [];
        const exists = imap.mailbox ? imap.mailbox.exists : 0;
        if (exists > 0) {
          for await (const msg of imap.fetch('1:*', { source: true }))
            if (msg.source) sources.push(msg.source);
        }
        if (sources.length >= atLeast || Date.now() > deadline) return sources;
      } finally {
        lock.release();
      }
    } finally {
      await imap.logout();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The armored OpenPGP message inside a PGP/MIME source. */
export function armoredPart(source: Buffer): string {
  const text = source.toString('utf8');
  const start = text.indexOf('-----BEGIN PGP MESSAGE-----');
  const end = text.indexOf('-----END PGP MESSAGE-----');
  if (start === -1 || end === -1) throw new Error('no PGP message in this source');
  return text.slice(start, end + '-----END PGP MESSAGE-----'.length) + '\n';
}

export async function decryptWith(privateKeyArmored: string, source: Buffer): Promise<Buffer> {
  const { data } = await openpgp.decrypt({
    message: await openpgp.readMessage({ armoredMessage: armoredPart(source) }),
    decryptionKeys: await openpgp.readPrivateKey({ armoredKey: privateKeyArmored }),
    format: 'binary',
  });
  return Buffer.from(data);
}

/** Every file under `dir`, as bytes. */
export function allFiles(dir: string): Buffer[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => readFileSync(path));
}

/** Sends a raw message to an SMTP server on loopback as an outside MTA would (no AUTH). */
export async function sendToMx(
  p: TestProvider,
  from: string,
  to: string[],
  raw: Buffer,
): Promise<void> {
  const transport = nodemailer.createTransport({
    host: p.host,
    port: p.ports.mx,
    secure: false,
    tls: { ca: p.caCertPem, servername: p.domain },
    connectionTimeout: 10_000,
  });
  try {
    await transport.sendMail({ envelope: { from, to }, raw });
  } finally {
    transport.close();
  }
}

/** A message as an outside client writes it, ending in CRLF (bytes compared after decryption). */
export async function composeMessage(fields: {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** An HTML alternative to the text (multipart/alternative), as mail clients send it. */
  html?: string;
  attachments?: { filename: string; content: string }[];
}): Promise<Buffer> {
  const built = await nodemailer
    .createTransport({ streamTransport: true, buffer: true, newline: 'windows' })
    .sendMail({ ...fields, messageId: `<${Date.now()}.${Math.random()}@test>` });
  const raw = built.message as Buffer;
  return raw.subarray(-2).toString() === '\r\n' ? raw : Buffer.concat([raw, Buffer.from('\r\n')]);
}

/** Mail from `from` to `to` through the provider's MX, as an outside sender would send it. */
export async function deliverMail(
  p: TestProvider,
  mail: { from: string; to: string; subject: string; text: string },
): Promise<void> {
  await sendToMx(p, mail.from, [mail.to], await composeMessage(mail));
}

/** The native host's configuration for trusting a test provider: its names and its CA pin. */
export function hostConfigFor(p: { domain: string; apiUrl: string; caFingerprint: string }): {
  resolver: Record<string, { origin: string }>;
  knownProviders: Record<string, string>;
} {
  return { resolver: loopbackNames(p), knownProviders: { [p.domain]: p.caFingerprint } };
}

/** Every name of a provider a client may look up, mapped to its API server on loopback. */
export function loopbackNames(p: {
  domain: string;
  apiUrl: string;
}): Record<string, { origin: string }> {
  const prefixes = ['', 'api.', 'imap.', 'smtp.', 'nicknym.', 'openpgpkey.'];
  return Object.fromEntries(
    prefixes.map((prefix) => [`${prefix}${p.domain}`, { origin: p.apiUrl }]),
  );
}
