/**
 * The local user again, this time without squatting: any account on the machine can connect
 * to the host's loopback IMAP and SMTP servers while they run. It cannot log in, but before
 * login it can announce huge literals, send endless lines and open many connections. Before
 * the fix the IMAP server accepted a 64 MiB APPEND literal from anyone (the APPEND limit was
 * applied before login), so eight such connections held 541 MiB of the host's memory.
 *
 * Played against the real host, as its own process started the way Thunderbird starts it,
 * with a real account (signed up at the reference provider) and the servers' real TLS. The
 * host's memory is read from outside, by the kernel: /proc/<pid>/status, VmRSS before the
 * attack and VmHWM (the peak resident size, reset through /proc/<pid>/clear_refs) after it.
 * What must hold: every hostile connection is answered in words and closed before it has
 * sent its payload, the peak grows by no more than the servers' limits allow, and the
 * user's own login works afterwards.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDON_ID, RPC_PROTOCOL_VERSION } from '../../shared/src/constants.js';
import { RpcPeer } from '../../shared/src/rpc-peer.js';
import type { AccountSpec } from '../../shared/src/rpc.js';
import { FrameDecoder, encodeFrame } from '../../native-host/src/messaging/index.js';
import { DEFAULT_IMAP_LIMITS } from '../../native-host/src/imap/index.js';
import { hostConfigFor, startTestProvider, type TestProvider } from '../provider/helpers.js';
import type { AddonPeer } from '../helpers/addon-side.js';
import { waitFor } from '../helpers/wait.js';

const repo = resolve(import.meta.dirname, '..', '..');
const MiB = 1024 * 1024;
/** What each hostile connection tries to make the host hold. */
const PAYLOAD = 8 * MiB;
const FILLER = Buffer.alloc(64 * 1024, 'x');

/** The host as Thunderbird runs it: its own process, framed JSON on stdin and stdout. */
async function startHostProcess(dataDir: string, config: object) {
  writeFileSync(join(dataDir, 'config.json'), JSON.stringify(config));
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--import', 'tsx', join(repo, 'native-host/src/main.ts'), '/x/manifest.json', ADDON_ID],
    { cwd: repo, env: { ...process.env, LEAPBIRD_DATA_DIR: dataDir } },
  );
  child.stderr.resume();
  const decoder = new FrameDecoder(64 * MiB);
  const addon: AddonPeer = new RpcPeer({
    send: (envelope) => child.stdin.write(encodeFrame(envelope)),
    idPrefix: 'a',
    timeoutMs: 120_000,
  });
  child.stdout.on('data', (chunk: Buffer) => {
    for (const item of decoder.push(chunk)) if (item.kind === 'message') addon.receive(item.value);
  });
  await addon.call('host.hello', {
    addonVersion: 'test',
    thunderbirdVersion: '153.0',
    protocol: RPC_PROTOCOL_VERSION,
    deviceKey: randomBytes(32).toString('base64'),
  });
  return { child, addon };
}

/** The kernel's view of a process's memory, in bytes. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 };
}
/** Starts the peak over from the current resident size ("5": reset VmHWM, proc(5)). */
const resetPeak = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5');

interface Outcome {
  /** The server closed the connection (rather than the attacker giving up). */
  closed: boolean;
  sent: number;
  received: string;
}

/**
 * One hostile connection: waits for the greeting, sends `opening`, then streams filler (as
 * lines of `line` bytes, or as one endless line when `line` is 0) until PAYLOAD bytes are
 * out or the server closes. `settled` resolves at either; the socket stays open otherwise,
 * holding whatever the server kept.
 */
function hostile(port: number, ca: string, opening: string, line = 0) {
  const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca });
  const outcome: Outcome = { closed: false, sent: 0, received: '' };
  socket.on('data', (d: Buffer) => (outcome.received += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      outcome.closed = true;
      resolve();
    }),
  );
  const chunk = line
    ? Buffer.from(`${'x'.repeat(line - 2)}\r\n`.repeat(Math.ceil(FILLER.length / line)))
    : FILLER;
  const settled = (async () => {
    await Promise.race([waitFor('greeting', () => outcome.received.includes('\r\n')), closed]);
    if (outcome.closed) return;
    socket.write(opening);
    outcome.sent += opening.length;
    while (outcome.sent < PAYLOAD && !outcome.closed) {
      outcome.sent += chunk.length;
      if (!socket.write(chunk))
        await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
    }
  })();
  return { settled, closed, outcome, destroy: () => socket.destroy() };
}

type Hostile = ReturnType<typeof hostile>;

/**
 * Runs the hostile connections at once and returns the host's peak memory growth meanwhile.
 * Connections still open once all have settled get a moment to be closed by the server.
 */
async function underAttack(
  pid: number,
  attackers: () => Hostile[],
): Promise<{
  growth: number;
  outcomes: Outcome[];
}> {
  const before = memory(pid).rss;
  resetPeak(pid);
  const all = attackers();
  await Promise.all(all.map((a) => a.settled));
  const growth = memory(pid).peak - before;
  await Promise.race([
    Promise.all(all.map((a) => a.closed)),
    new Promise((resolve) => setTimeout(resolve, 10_000)),
  ]);
  for (const a of all) a.destroy();
  return { growth, outcomes: all.map((a) => ({ ...a.outcome })) };
}

/** One short client conversation: sends each line after the previous answer matched. */
/** A connection that completes TLS, reads the greeting (or refusal) and then says nothing. */
function idle(port: number, ca: string) {
  const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca });
  const outcome = { closed: false, received: '' };
  socket.on('data', (d: Buffer) => (outcome.received += d.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('close', () => (outcome.closed = true));
  const answered = waitFor(
    'a greeting or a close',
    () => outcome.closed || outcome.received !== '',
  );
  return { answered, outcome, destroy: () => socket.destroy() };
}

async function converse(port: number, ca: string, steps: [string | null, RegExp][]) {
  const socket = connect({ host: '127.0.0.1', port, ca });
  let received = '';
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('error', () => undefined);
  try {
    for (const [line, answer] of steps) {
      const from = received.length;
      if (line !== null) socket.write(`${line}\r\n`);
      await waitFor(`an answer matching ${answer}`, () => answer.test(received.slice(from)));
    }
  } finally {
    socket.destroy();
  }
  return received;
}

/**
 * A connection's socket and TLS state, whatever it sends: Node's 16 KiB stream buffers each
 * way, OpenSSL's 16 KiB records and its session; 128 KiB is generous.
 */
const SOCKET = 128 * 1024;
/**
 * Garbage not yet collected: bytes read and dropped live until V8's next scavenge of its
 * young generation, up to three 16 MiB semi-spaces (Node 20's default on 64-bit).
 */
const YOUNG_GENERATION = 48 * MiB;

const mib = (bytes: number) => (bytes / MiB).toFixed(1);

/** Prints the figure, and how the connections were answered (their last line). */
function report(server: string, growth: number, bound: number, outcomes: Outcome[]) {
  const answers = new Map<string, number>();
  for (const o of outcomes) {
    const last = o.received.trimEnd().split('\r\n').pop() || '(dropped during the handshake)';
    answers.set(last, (answers.get(last) ?? 0) + 1);
  }
  console.log(
    `${server}: host peak RSS grew by ${mib(growth)} MiB (bound ${mib(bound)} MiB) under ` +
      `${outcomes.length} hostile connections that sent ${mib(outcomes.reduce((n, o) => n + o.sent, 0))} MiB\n` +
      [...answers].map(([line, n]) => `  ${n} × ${line}`).join('\n'),
  );
}

describe('a local user flooding the servers before login', () => {
  let provider: TestProvider;
  let host: Awaited<ReturnType<typeof startHostProcess>>;
  let dataDir: string;
  let account: AccountSpec;
  let ca: string;

  beforeAll(async () => {
    provider = await startTestProvider('alpha.test');
    dataDir = mkdtempSync(join(tmpdir(), 'lb-local-memory-'));
    host = await startHostProcess(dataDir, hostConfigFor(provider));
    ({ account } = await host.addon.call('setup.signUp', {
      domain: 'alpha.test',
      username: 'alice',
      password: 'a long passphrase for alice',
    }));
    ca = new X509Certificate(Buffer.from(account.certificate, 'base64')).toString();
  }, 180_000);

  afterAll(async () => {
    host?.addon.close();
    host?.child.stdin.end();
    if (host && host.child.exitCode === null) host.child.kill('SIGKILL');
    await provider?.cleanup();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'IMAP: 80 connections announcing huge literals and endless lines are refused and closed; memory stays bounded; the user still logs in',
    { timeout: 180_000 },
    async () => {
      const port = account.imap.port;
      const big = 64 * MiB;
      const openings = [
        `a APPEND INBOX {${big}+}\r\n`, // non-synchronising: the bytes follow at once
        `a APPEND INBOX {${big}}\r\n`, // synchronising, sent without waiting for "+"
        `a LOGIN {${big}+}\r\n`,
        `a LOGIN alice ${'x'.repeat(100)}`, // and the line never ends
        'a AUTHENTICATE PLAIN\r\n', // then an endless SASL response
      ];
      const { growth, outcomes } = await underAttack(host.child.pid!, () =>
        Array.from({ length: 80 }, (_, i) => hostile(port, ca, openings[i % openings.length]!)),
      );

      // What the limits allow the host to hold: the connections waiting for login (at most
      // maxUnauthenticated) one small command each, every connection its socket and TLS
      // state, and the garbage of what was read and dropped until V8 collects it.
      const { maxUnauthenticated, preAuthMaxCommandSize } = DEFAULT_IMAP_LIMITS;
      const bound = 80 * SOCKET + maxUnauthenticated * preAuthMaxCommandSize + YOUNG_GENERATION;
      report('IMAP', growth, bound, outcomes);
      for (const o of outcomes) {
        expect(o.closed, 'the server must close a hostile connection').toBe(true);
        expect(o.sent).toBeLessThan(PAYLOAD);
        // Refused in words: a BYE that says why (a BAD first, when the command was read).
        expect(o.received).toMatch(/\r\n\* BYE [^\r\n]{10,}\r\n$/);
      }
      expect(growth).toBeLessThan(bound);

      await converse(port, ca, [
        [null, /^\* OK /],
        [`l LOGIN ${account.username} "${account.password}"`, /l OK /],
        ['s SELECT INBOX', /s OK \[READ-WRITE\]/],
        ['o LOGOUT', /o OK /],
      ]);
      expect(host.child.exitCode).toBeNull();
    },
  );

  it(
    'SMTP: 40 connections sending endless lines and mail before AUTH are refused and closed; memory stays bounded; the user still logs in',
    { timeout: 180_000 },
    async () => {
      const port = account.smtp.port;
      const openings: [string, number][] = [
        ['EHLO x\r\nMAIL FROM:<a@b.example> ', 0], // an endless command line
        ['EHLO x\r\nDATA\r\n', 78], // a message without AUTH
        ['AUTH PLAIN ', 0], // an endless SASL response
        ['EHLO x\r\n', 1000], // many unauthenticated lines
      ];
      const { growth, outcomes } = await underAttack(host.child.pid!, () =>
        Array.from({ length: 40 }, (_, i) => hostile(port, ca, ...openings[i % openings.length]!)),
      );
      // smtp-server's limits: 16 clients, 16 KiB command lines, 10 commands before AUTH, no
      // MAIL or DATA before it; sockets and garbage as above.
      const bound = 40 * SOCKET + 16 * 16 * 1024 + YOUNG_GENERATION;
      report('SMTP', growth, bound, outcomes);
      for (const o of outcomes) {
        expect(o.closed, 'the server must close a hostile connection').toBe(true);
        expect(o.sent).toBeLessThan(PAYLOAD);
        // Past its 16 clients smtp-server drops a connection during the TLS handshake, before
        // any word can be sent; every other one gets a reply that says why.
        if (o.received) expect(o.received).toMatch(/(^|\r\n)(421|5\d\d) [^\r\n]{10,}\r\n$/);
      }
      expect(growth).toBeLessThan(bound);

      const plain = Buffer.from(`\0${account.username}\0${account.password}`).toString('base64');
      await converse(port, ca, [
        [null, /^220 /],
        ['EHLO thunderbird', /250 /],
        [`AUTH PLAIN ${plain}`, /^235 /m],
        ['QUIT', /221 /],
      ]);
      expect(host.child.exitCode).toBeNull();
    },
  );

  it('idle connections that never log in do not keep the user from sending or reading', async () => {
    const plain = Buffer.from(`\0${account.username}\0${account.password}`).toString('base64');
    const servers = [
      {
        port: account.smtp.port,
        user: [
          [null, /^220 /],
          ['EHLO thunderbird', /250 /],
          [`AUTH PLAIN ${plain}`, /^235 /m],
          ['QUIT', /221 /],
        ] as [string | null, RegExp][],
      },
      {
        port: account.imap.port,
        user: [
          [null, /^\* OK /],
          [`l LOGIN ${account.username} "${account.password}"`, /l OK /],
          ['o LOGOUT', /o OK /],
        ] as [string | null, RegExp][],
      },
    ];
    for (const { port, user } of servers) {
      // More strangers than either server takes at once, all holding on silently.
      const strangers = Array.from({ length: 30 }, () => idle(port, ca));
      try {
        await Promise.all(strangers.map((s) => s.answered));
        await converse(port, ca, user);
        // Room was made by closing the stranger that had waited longest, in words.
        const evicted = strangers.filter((s) => /waited longest/.test(s.outcome.received));
        expect(evicted.length).toBeGreaterThan(0);
      } finally {
        for (const s of strangers) s.destroy();
      }
    }
    expect(host.child.exitCode).toBeNull();
  });
});
