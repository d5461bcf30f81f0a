/**
 * Initial sync of N messages (realistic sizes, encrypted to the user by the provider's MX on
 * receipt) from the reference provider's Dovecot into the local encrypted store, against the
 * anchor: the same N fetched by a plain imapflow client straight from Dovecot, without
 * decryption or storage. Each side runs in its own child process so its peak RSS is its
 * own; the anchor runs before and after the syncs so shared-machine load hits both. The
 * sync runs twice: with 2 worker threads opening messages, and on the main thread.
 *
 *   npx tsx bench/sync-initial.ts [count]     (default 10000)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';
import { generateStorageSecret, openAccountStore } from '../native-host/src/store/index.js';
import { processIncoming, SyncEngine } from '../native-host/src/sync/index.js';
import { deliver, makeMessage, providerWithAccount, testKeys } from '../test/sync/helpers.js';

const SELF = fileURLToPath(import.meta.url);

interface Run {
  messages: number;
  bytes: number;
  ms: number;
  peakRssMb: number;
}

interface ChildConfig {
  host: string;
  port: number;
  servername: string;
  caPath: string;
  user: string;
  token: string;
  privateKey: string;
  storeDir: string;
}

function peakRssMb(): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** Realistic sizes: most mail is a few KB, some tens of KB, a few carry attachments. */
function sizeOf(i: number): number {
  const r = (i * 2654435761) % 1000;
  if (r < 700) return 2_000 + ((r * 13) % 8_000);
  if (r < 950) return 10_000 + ((r * 97) % 50_000);
  return 100_000 + ((r * 1237) % 300_000);
}

type Mode = 'plain' | 'decrypt' | 'sync' | 'sync-inline';

async function child(mode: Mode, config: ChildConfig): Promise<Run> {
  const ca = readFileSync(config.caPath, 'utf8');
  let started = performance.now();
  if (mode === 'plain' || mode === 'decrypt') {
    const client = new ImapFlow({
      host: config.host,
      port: config.port,
      secure: true,
      tls: { ca, servername: config.servername },
      auth: { user: config.user, accessToken: config.token },
      logger: false,
    });
    await client.connect();
    const box = await client.mailboxOpen('INBOX');
    let bytes = 0;
    let messages = 0;
    const sources: Buffer[] = [];
    for await (const m of client.fetch('1:*', { uid: true, source: true })) {
      bytes += m.source?.length ?? 0;
      messages += 1;
      if (mode === 'decrypt') sources.push(m.source!);
    }
    await client.logout();
    if (messages !== box.exists) throw new Error(`fetched ${messages} of ${box.exists}`);
    if (mode === 'decrypt') {
      // The incoming pipeline alone, on sources already in memory: what a worker pool
      // could spread over cores.
      const keys = testKeys({ address: config.user, privateKey: config.privateKey });
      const decryptionKeys = await keys.decryptionKeys();
      started = performance.now();
      for (const source of sources) await processIncoming(source, keys, decryptionKeys);
    }
    return { messages, bytes, ms: performance.now() - started, peakRssMb: peakRssMb() };
  }
  const secret = generateStorageSecret();
  const store = await openAccountStore({ dir: config.storeDir, storageSecret: secret });
  const engine = new SyncEngine({
    store,
    credentials: {
      host: config.host,
      port: config.port,
      secure: true,
      servername: config.servername,
      ca,
      user: config.user,
      accessToken: async () => config.token,
    },
    keys: testKeys({ address: config.user, privateKey: config.privateKey }),
    openWorkers: mode === 'sync' ? 2 : 0,
  });
  const report = await engine.syncOnce();
  const inbox = report.folders.find((f) => f.mailbox === 'INBOX')!;
  if (!inbox.synced) throw new Error(`not synced: ${inbox.done} of ${inbox.total}`);
  let bytes = 0;
  const box = (await store.getMailbox('INBOX'))!;
  for await (const meta of store.fetch(box.id, [{ start: 1, end: Infinity }])) bytes += meta.size;
  store.close();
  return { messages: inbox.done, bytes, ms: performance.now() - started, peakRssMb: peakRssMb() };
}

function runChild(mode: Mode, config: ChildConfig): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', SELF, '--child', mode], {
      env: { ...process.env, SYNC_BENCH_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').at(-1)!))
        : reject(new Error(`${mode} child failed`)),
    );
  });
}

function line(name: string, r: Run): string {
  const s = r.ms / 1000;
  return `${name.padEnd(34)} ${String(r.messages).padStart(6)} msgs  ${(r.messages / s).toFixed(0).padStart(6)} msg/s  ${(r.bytes / 1e6 / s).toFixed(2).padStart(7)} MB/s  peak RSS ${r.peakRssMb.toFixed(0).padStart(4)} MB`;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 10_000);
  const account = await providerWithAccount('bench-sync.test');
  const work = mkdtempSync(join(tmpdir(), 'bench-sync-'));
  try {
    const started = performance.now();
    const messages = Array.from({ length: count }, (_, i) => ({
      from: `sender${i % 50}@outside.test`,
      raw: makeMessage(i, `sender${i % 50}@outside.test`, account.address, sizeOf(i)),
    }));
    const rawBytes = messages.reduce((n, m) => n + m.raw.length, 0);
    await deliver(account.provider, account.address, messages);
    console.log(
      `delivered ${count} messages (${(rawBytes / 1e6).toFixed(1)} MB before encryption) through the MX in ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
    const caPath = join(work, 'ca.pem');
    writeFileSync(caPath, account.provider.caCertPem);
    const token = await (
      account.credentials as { accessToken: () => Promise<string> }
    ).accessToken();
    const config: ChildConfig = {
      host: account.provider.host,
      port: account.provider.ports.imap,
      servername: account.provider.domain,
      caPath,
      user: account.address,
      token,
      privateKey: account.privateKey,
      storeDir: join(work, 'store'),
    };
    const before = await runChild('plain', config);
    const sync = await runChild('sync', config);
    rmSync(config.storeDir, { recursive: true, force: true });
    const inline = await runChild('sync-inline', config);
    const after = await runChild('plain', config);
    const decrypt = await runChild('decrypt', config);
    const anchorMs = (before.ms + after.ms) / 2;
    console.log(line('anchor: imapflow FETCH 1:* (before)', before));
    console.log(line('anchor: imapflow FETCH 1:* (after)', after));
    console.log(line('sync: fetch+open+store, 2 workers', sync));
    console.log(line('sync: the same, opened on main thread', inline));
    console.log(line('of which the pipeline alone (1 core)', decrypt));
    console.log(
      `ratio 2 workers / main thread: throughput ${(inline.ms / sync.ms).toFixed(2)}x, peak RSS ${(sync.peakRssMb / inline.peakRssMb).toFixed(2)}x`,
    );
    console.log(
      `ratio sync/anchor: throughput ${(anchorMs / sync.ms).toFixed(3)}x (the sync takes ${(sync.ms / anchorMs).toFixed(1)}x as long), peak RSS ${(sync.peakRssMb / Math.max(before.peakRssMb, after.peakRssMb)).toFixed(2)}x`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
    await account.provider.cleanup();
  }
}

if (process.argv[2] === '--child') {
  const mode = process.argv[3] as Mode;
  const result = await child(mode, JSON.parse(process.env.SYNC_BENCH_CONFIG!) as ChildConfig);
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
} else {
  await main();
}
