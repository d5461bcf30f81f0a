/**
 * The outbox against the real alpha.test relay behind a switchable TCP proxy: the relay
 * goes away and comes back, the host restarts in between, and every message goes out
 * exactly once, also when the host dies right after the relay accepted a message; what
 * cannot be delivered becomes a bounce in the local Inbox.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateOwnKey } from '../../native-host/src/crypto/index.js';
import { relayMessage, type RelayEndpoint } from '../../native-host/src/smtp/index.js';
import {
  composeMessage,
  inbox,
  newAccount,
  startTestProvider,
  uploadKey,
  type MailAccount,
  type TestProvider,
} from '../provider/helpers.js';
import { filesUnder, header, localMessages, startHost, submit, type TestHost } from './helpers.js';

/** Forwards to the relay while up; refuses connections while down. */
class Switch {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.2', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    this.server = null;
  }
}

const CRASH_CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

let alpha: TestProvider;
let alice: MailAccount;
let bob: MailAccount;
let host: TestHost;
let relay: Switch;

beforeAll(async () => {
  alpha = await startTestProvider('alpha.test', '127.0.0.2');
  alice = await newAccount(alpha, 'alice');
  bob = await newAccount(alpha, 'bob');
  const bobKey = await generateOwnKey({ address: bob.address });
  expect((await uploadKey(alpha, bob, bobKey.publicArmored)).status).toBe(200);
  relay = new Switch({ host: alpha.host, port: alpha.ports.submission });
  await relay.up();
  host = await startHost(alice.address, {
    relay: async () => ({ ...throughSwitch(alice), accessToken: async () => alice.token }),
    retry: { firstDelayMs: 100, maxDelayMs: 400 },
  });
  expect((await host.keys.consider(bob.address, bobKey.publicArmored, 'manual')).accepted).toBe(
    true,
  );
}, 60_000);

/** The provider's relay behind the switch the tests turn off and on (no token: serialisable). */
function throughSwitch(account: MailAccount) {
  return {
    host: '127.0.0.2',
    port: relay.port,
    secure: true,
    servername: alpha.domain,
    ca: alpha.caCertPem,
    user: account.address,
  };
}

afterAll(async () => {
  await host?.cleanup();
  await relay?.down();
  await alpha?.cleanup();
});

it('keeps messages while the relay is down, across a restart, and sends each once when it is back', async () => {
  await relay.down();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const raw = await composeMessage({
      from: alice.address,
      to: bob.address,
      subject: `Queued ${i}`,
      text: `Message number ${i}.`,
    });
    ids.push(header(raw, 'message-id')!);
    expect(await submit(host, { from: alice.address, to: [bob.address] }, raw)).toContain('250');
  }
  await host.outbox.flush();
  const waiting = host.outbox.list();
  expect(waiting).toHaveLength(3);
  for (const m of waiting) {
    expect(m.deliveries[0]!.state).toBe('pending');
    expect(m.deliveries[0]!.attempts).toBeGreaterThanOrEqual(1);
    expect(m.deliveries[0]!.lastError).toMatch(/ECONNREFUSED|connect/i);
  }

  // The host goes away (store closed) and comes back on the same data.
  await host.stop();
  await host.restart();
  expect(host.outbox.list().map((m) => m.id)).toEqual(waiting.map((m) => m.id));

  await relay.up();
  await host.outbox.retryNow();
  expect(host.outbox.list()).toEqual([]);
  // More rounds (the timer's, a manual one) find nothing left to send.
  await host.outbox.retryNow();

  const arrived = await inbox(alpha, bob, 3);
  expect(arrived).toHaveLength(3);
  const sent = await localMessages(host.store, 'Sent');
  expect(sent.map((m) => header(m, 'message-id')).sort()).toEqual([...ids].sort());
  expect(filesUnder(`${host.dir}/account/outbox`)).toEqual([]);
});

it('puts a clear bounce into the local Inbox when the relay refuses a recipient', async () => {
  const raw = await composeMessage({
    from: alice.address,
    to: 'nobody@alpha.test',
    subject: 'Hello stranger',
    text: 'Are you there?',
  });
  await submit(host, { from: alice.address, to: ['nobody@alpha.test'] }, raw);
  await host.outbox.flush();
  expect(host.outbox.list()).toEqual([]);
  const bounces = await localMessages(host.store, 'INBOX');
  expect(bounces).toHaveLength(1);
  const bounce = bounces[0]!.toString();
  expect(header(bounces[0]!, 'subject')).toBe('Undelivered: Hello stranger');
  expect(bounce).toContain('could not be delivered to:');
  expect(bounce).toMatch(/nobody@alpha\.test: .*5\.1\.1|nobody@alpha\.test: .*550/);
  expect(bounce).toContain('Are you there?');
  // The bounce stays on this machine; only the Sent copies were queued for upload.
  const uploads = host.store.queue.pending().filter((c) => c.kind === 'append');
  expect(uploads.every((c) => (c.payload as { mailbox: string }).mailbox === 'Sent')).toBe(true);
  expect((await localMessages(host.store, 'Sent')).length).toBe(3);
});

it('gives up after the retry period and says so in the Inbox', async () => {
  const lonely = await startHost(alice.address, {
    relay: async () => ({
      host: '127.0.0.2',
      port: 1,
      secure: true,
      user: alice.address,
      accessToken: async () => alice.token,
    }),
    retry: { firstDelayMs: 10, maxDelayMs: 10, giveUpAfterMs: 0 },
  });
  try {
    const raw = await composeMessage({
      from: alice.address,
      to: bob.address,
      subject: 'Into the void',
      text: 'Nobody will carry this.',
    });
    await submit(lonely, { from: alice.address, to: [bob.address] }, raw);
    await lonely.outbox.flush();
    expect(lonely.outbox.list()).toEqual([]);
    const [bounce] = await localMessages(lonely.store, 'INBOX');
    expect(header(bounce!, 'subject')).toBe('Undelivered: Into the void');
    expect(bounce!.toString()).toContain(`${bob.address}: `);
    expect(await localMessages(lonely.store, 'Sent')).toEqual([]);
  } finally {
    await lonely.cleanup();
  }
});

it('delivers once when the host dies after the relay accepted and before the outbox recorded it', async () => {
  const endpoint = throughSwitch(alice);
  const dying = await startHost(alice.address, {
    relay: async () => ({ ...endpoint, accessToken: async () => alice.token }),
    retry: { firstDelayMs: 100, maxDelayMs: 400 },
  });
  try {
    // Queued while the relay is away, so that the process below is the one to send it.
    await relay.down();
    const raw = await composeMessage({
      from: alice.address,
      to: bob.address,
      subject: 'Exactly once',
      text: 'One copy of me, please.',
    });
    const id = header(raw, 'message-id');
    expect(await submit(dying, { from: alice.address, to: [bob.address] }, raw)).toContain('250');
    await dying.outbox.flush();
    await dying.stop();
    await relay.up();

    const child = spawn(process.execPath, ['--import', 'tsx', CRASH_CHILD], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.end(
      JSON.stringify({
        dir: dying.dir,
        secret: Buffer.from(dying.secret).toString('hex'),
        endpoint: { ...endpoint, token: alice.token },
      }),
    );
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (_code, s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
    expect(err.replace(/npm warn.*\n?/g, '')).toBe('');
    expect(signal).toBe('SIGKILL');

    const copies = async () =>
      (await inbox(alpha, bob)).filter((m) => header(m, 'message-id') === id).length;
    expect(await copies()).toBe(1);
    // The host comes back on the same data: for its outbox the delivery is still to be done.
    await dying.restart();
    expect(dying.outbox.list()[0]?.deliveries[0]?.state).toBe('pending');
    await dying.outbox.retryNow();
    expect(dying.outbox.list()).toEqual([]);
    expect(await copies()).toBe(1);
    const sent = await localMessages(dying.store, 'Sent');
    expect(sent.filter((m) => header(m, 'message-id') === id)).toHaveLength(1);
    // The relay said why it did not send again.
    const log = readFileSync(join(alpha.dataDir, 'provider.log'), 'utf8');
    expect(log).toContain('relay_repeat_not_sent');
  } finally {
    await dying.cleanup();
  }
}, 90_000);

it('the relay sends a repeated envelope id once per user, and never confuses users', async () => {
  const relayAs = (account: MailAccount): RelayEndpoint => ({
    host: alpha.host,
    port: alpha.ports.submission,
    secure: true,
    servername: alpha.domain,
    ca: alpha.caCertPem,
    user: account.address,
    accessToken: async () => account.token,
  });
  const mail = async (from: MailAccount) =>
    Readable.from([
      await composeMessage({ from: from.address, to: bob.address, subject: 'Once', text: 'x' }),
    ]);
  const id = `test-${randomUUID()}`;
  const send = async (from: MailAccount) =>
    (
      await relayMessage(
        relayAs(from),
        { from: from.address, to: [bob.address], id },
        await mail(from),
      )
    ).ok;
  const before = (await inbox(alpha, bob)).length;
  expect(await send(alice)).toBe(true);
  expect(await send(alice)).toBe(true);
  expect(await inbox(alpha, bob)).toHaveLength(before + 1);
  // Bob's transaction with the same id is his own, not a repeat of Alice's.
  expect(await send(bob)).toBe(true);
  expect(await inbox(alpha, bob)).toHaveLength(before + 2);
});
