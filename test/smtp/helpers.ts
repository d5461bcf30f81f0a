/**
 * A user's host side for the SMTP tests: an encrypted account store, a key manager with the
 * user's key, the outbox and the local submission server, all in a fresh temporary
 * directory; plus a client that submits as Thunderbird does.
 */
import { execFileSync } from 'node:child_process';
import {
  createWriteStream,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { KeyManager, MemoryKeyStore } from '../../native-host/src/keys/index.js';
import {
  Outbox,
  startSmtpServer,
  type RelayEndpoint,
  type RetryPolicy,
  type RunningSmtpServer,
} from '../../native-host/src/smtp/index.js';
import {
  generateStorageSecret,
  openAccountStore,
  type AccountStore,
} from '../../native-host/src/store/index.js';

export const LOCAL_USER = 'thunderbird';
export const LOCAL_PASSWORD = 'per-install-secret';

export interface HostOptions {
  relay: () => Promise<RelayEndpoint>;
  retry?: Partial<RetryPolicy>;
  maxMessageBytes?: number;
}

/** The account settings the server reads for each message; tests change them in place. */
export interface HostSettings {
  encryptedOnly: boolean;
  attachPublicKey: boolean;
}

export interface TestHost {
  address: string;
  dir: string;
  secret: Uint8Array;
  keys: KeyManager;
  store: AccountStore;
  outbox: Outbox;
  server: RunningSmtpServer;
  ownPublicKey: string;
  settings: HostSettings;
  /** Stops server and outbox and closes the store (the data stays). */
  stop(): Promise<void>;
  /** Opens the same data again, as a new host process would. */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startHost(address: string, options: HostOptions): Promise<TestHost> {
  const dir = mkdtempSync(join(tmpdir(), 'smtp-host-'));
  const secret = generateStorageSecret();
  const keys = new KeyManager({ store: new MemoryKeyStore(), address, vksUrl: null });
  const own = await keys.ensureOwnKey();
  if (!own.ok) throw new Error(own.error.message);
  const settings: HostSettings = { encryptedOnly: false, attachPublicKey: false };
  const open = async () => {
    const store = await openAccountStore({ dir: join(dir, 'account'), storageSecret: secret });
    const outbox = new Outbox({
      store,
      storageSecret: secret,
      dir: join(dir, 'account', 'outbox'),
      relay: options.relay,
      ...(options.retry ? { retry: options.retry } : {}),
    });
    const server = await startSmtpServer({
      authenticate: (user, pass) => user === LOCAL_USER && pass === LOCAL_PASSWORD,
      addresses: () => [address],
      keys,
      outbox,
      encryptedOnly: () => settings.encryptedOnly,
      attachPublicKey: () => settings.attachPublicKey,
      ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
    });
    outbox.start();
    return { store, outbox, server };
  };
  const host: TestHost = {
    address,
    dir,
    secret,
    keys,
    ownPublicKey: own.value.publicArmored,
    settings,
    ...(await open()),
    async stop() {
      await host.server.close();
      await host.outbox.stop();
      host.store.close();
    },
    async restart() {
      Object.assign(host, await open());
    },
    async cleanup() {
      await host.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return host;
}

/** Submits a raw message as Thunderbird does: AUTH with the local credentials, then DATA. */
export async function submit(
  host: Pick<TestHost, 'server'>,
  envelope: { from: string; to: string[] },
  raw: Buffer,
  auth = { user: LOCAL_USER, pass: LOCAL_PASSWORD },
): Promise<string> {
  const transport = nodemailer.createTransport({
    host: host.server.host,
    port: host.server.port,
    secure: false,
    ignoreTLS: true,
    auth,
    connectionTimeout: 10_000,
    socketTimeout: 60_000,
  });
  try {
    return (await transport.sendMail({ envelope, raw })).response;
  } finally {
    transport.close();
  }
}

/** Files under `dir` (recursively), without the blob store's empty tmp directory. */
export function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) =>
      statSync(join(dir, name)).isFile(),
    );
  } catch {
    return [];
  }
}

/** The raw source of every message in a local mailbox of the store. */
export async function localMessages(store: AccountStore, name: string): Promise<Buffer[]> {
  const box = await store.getMailbox(name);
  if (!box) return [];
  const snapshot = await store.openMailbox(box.id);
  const out: Buffer[] = [];
  for (const uid of snapshot.uids) {
    const chunks: Buffer[] = [];
    for await (const c of await store.readMessage(box.id, uid)) chunks.push(Buffer.from(c));
    out.push(Buffer.concat(chunks));
  }
  return out;
}

/** The value of a header field in a raw message (first occurrence, unfolded). */
export function header(raw: Buffer, name: string): string | null {
  const text = raw.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const head = (end === -1 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const line = head
    .split(/\r?\n/)
    .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line ? line.slice(name.length + 1).trim() : null;
}

/** A throw-away self-signed certificate for 127.0.0.1 (its own CA), made by openssl. */
export function selfSignedCertificate(dir: string): { key: string; cert: string } {
  const key = join(dir, 'sink.key');
  const cert = join(dir, 'sink.crt');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=sink.test',
      '-addext',
      'subjectAltName=DNS:sink.test,IP:127.0.0.1',
    ],
    { stdio: 'ignore', timeout: 20_000 },
  );
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

/**
 * A relay that takes everything and keeps only what a test asks for: each message's size
 * and first bytes, and how the client logged in. Implicit TLS by default; `starttls` offers
 * STARTTLS on a plain connection, `plaintext` offers no TLS at all. With `saveTo`, each
 * message is also written whole to a file there (streamed, so a large one costs no memory).
 */
export async function startSinkRelay(
  dir: string,
  mode: 'tls' | 'starttls' | 'plaintext' = 'tls',
  saveTo?: string,
) {
  const { key, cert } = selfSignedCertificate(dir);
  const received: { size: number; head: Buffer; to: string[]; file: string | null }[] = [];
  const logins: { user: string; password: string; overTls: boolean }[] = [];
  const server = new SMTPServer({
    secure: mode === 'tls',
    key,
    cert,
    ...(mode === 'plaintext' ? { disabledCommands: ['STARTTLS'] } : {}),
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    size: 0,
    onAuth: (auth, session, callback) => {
      logins.push({
        user: auth.username ?? '',
        password: auth.password ?? '',
        overTls: Boolean(session.secure),
      });
      callback(null, { user: 'relay' });
    },
    onData(stream, session, callback) {
      let size = 0;
      const head: Buffer[] = [];
      const file = saveTo ? join(saveTo, `received-${received.length}.eml`) : null;
      const copy = file ? createWriteStream(file) : null;
      stream.on('data', (chunk: Buffer) => {
        if (size < 64 * 1024) head.push(chunk.subarray(0, 64 * 1024 - size));
        size += chunk.length;
        copy?.write(chunk);
      });
      stream.on('end', () => {
        const done = () => {
          received.push({
            size,
            head: Buffer.concat(head),
            to: session.envelope.rcptTo.map((r) => r.address),
            file,
          });
          callback();
        };
        if (copy) copy.end(done);
        else done();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    received,
    logins,
    cert,
    endpoint: (user: string): RelayEndpoint => ({
      host: '127.0.0.1',
      port,
      secure: mode === 'tls',
      servername: 'sink.test',
      ca: cert,
      user,
      accessToken: async () => 'token',
    }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
