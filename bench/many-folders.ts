/**
 * Many folders: a no-change mbsync run over all of them, and a client's no-change check of
 * every folder (STATUS each), against the local IMAP server over the encrypted store and
 * against Dovecot holding the same folders and messages. Proton Mail Bridge users with
 * hundreds of folders report that such runs became much slower; this measures ours.
 *
 *   npx tsx bench/many-folders.ts [--folders 500] [--messages 4] [--runs 3]
 *
 * Needs dovecot-imapd and isync (mbsync), Debian packages. Both servers speak plain IMAP on
 * loopback here, so TLS costs neither side. MBSYNC_DEBUG=1 keeps each run's IMAP commands in
 * a log beside its configuration and leaves the work folder for reading.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { startDovecot } from '../provider/src/dovecot/index.js';
import { BenchImapClient } from './lib/imap-client.js';
import { median } from './lib/stats.js';
import { serveNewStore } from './lib/store-server.js';

const { values } = parseArgs({
  options: {
    folders: { type: 'string', default: '500' },
    messages: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
  },
});
const FOLDERS = Number(values.folders);
const PER_FOLDER = Number(values.messages);
const RUNS = Number(values.runs);
const USER = 'bench@bench.test';
const PASSWORD = randomBytes(12).toString('hex');
const run = promisify(execFile);

function message(folder: number, i: number): Buffer {
  return Buffer.from(
    [
      `From: "Sender ${i}" <sender${i}@example.com>`,
      `To: ${USER}`,
      `Subject: folder ${folder} message ${i}`,
      `Date: Mon, ${1 + (i % 28)} Jan 2024 10:00:00 +0000`,
      `Message-ID: <f${folder}-m${i}@example.com>`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      `Message ${i} of folder ${folder}.`.repeat(20),
      '',
    ].join('\r\n'),
  );
}

/** An mbsync configuration that mirrors every folder of the server into a Maildir. */
function mbsyncConfig(dir: string, port: number): string {
  const maildir = join(dir, 'Maildir');
  mkdirSync(maildir, { recursive: true });
  const file = join(dir, 'mbsyncrc');
  writeFileSync(
    file,
    [
      'IMAPAccount bench',
      'Host 127.0.0.1',
      `Port ${port}`,
      `User ${USER}`,
      `Pass ${PASSWORD}`,
      'SSLType None',
      '',
      'IMAPStore far',
      'Account bench',
      '',
      'MaildirStore near',
      `Path ${maildir}/`,
      `Inbox ${maildir}/INBOX`,
      'SubFolders Verbatim',
      '',
      'Channel all',
      'Far :far:',
      'Near :near:',
      'Patterns *',
      'Create Near',
      `SyncState ${dir}/state/`,
      'Sync All',
      '',
    ].join('\n'),
  );
  mkdirSync(join(dir, 'state'), { recursive: true });
  return file;
}

async function timeMbsync(config: string): Promise<number> {
  const start = performance.now();
  const out = await run('mbsync', [process.env.MBSYNC_DEBUG ? '-Dn' : '-q', '-c', config, '-a'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  if (process.env.MBSYNC_DEBUG) writeFileSync(config + '.log', out.stdout + out.stderr);
  return performance.now() - start;
}

async function timeStatusAll(client: BenchImapClient): Promise<number> {
  const start = performance.now();
  for (let f = 0; f < FOLDERS; f++)
    await client.run(`STATUS F${f} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)`);
  return performance.now() - start;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bench-folders-'));
  const dovecotDir = mkdtempSync(join(tmpdir(), 'bench-folders-dovecot-'));
  const served = await serveNewStore(root, USER, PASSWORD);
  const { store, server } = served;
  const dovecot = await startDovecot({
    dataDir: dovecotDir,
    auth: { kind: 'passwd-file', users: [{ user: USER, password: PASSWORD }] },
  });
  const clients: BenchImapClient[] = [];
  try {
    const loader = await BenchImapClient.open(dovecot.imapPort, USER, PASSWORD);
    clients.push(loader);
    for (let f = 0; f < FOLDERS; f++) {
      const box = await store.createMailbox(`F${f}`);
      await store.setSubscribed(`F${f}`, true);
      await loader.run(`CREATE F${f}`);
      await loader.run(`SUBSCRIBE F${f}`);
      for (let i = 0; i < PER_FOLDER; i++) {
        const raw = message(f, i);
        await store.append(box.id, { content: raw });
        await loader.run(`APPEND F${f} {${raw.length}+}\r\n${raw.toString('latin1')}`);
      }
    }
    const oursConfig = mbsyncConfig(join(root, 'mbsync-ours'), server.port);
    const theirConfig = mbsyncConfig(join(root, 'mbsync-dovecot'), dovecot.imapPort);
    // The first runs copy everything; the timed ones find nothing to do.
    const firstOurs = await timeMbsync(oursConfig);
    const firstTheirs = await timeMbsync(theirConfig);
    const ours = await BenchImapClient.open(server.port, USER, PASSWORD);
    const theirs = await BenchImapClient.open(dovecot.imapPort, USER, PASSWORD);
    clients.push(ours, theirs);
    const rows: [string, number[], number[]][] = [
      ['mbsync, no change, all folders', [], []],
      [`STATUS of each of the ${FOLDERS} folders`, [], []],
    ];
    await timeStatusAll(ours);
    await timeStatusAll(theirs);
    for (let r = 0; r < RUNS; r++) {
      rows[0]![1].push(await timeMbsync(oursConfig));
      rows[0]![2].push(await timeMbsync(theirConfig));
      rows[1]![1].push(await timeStatusAll(ours));
      rows[1]![2].push(await timeStatusAll(theirs));
    }
    console.log(
      `${FOLDERS} folders × ${PER_FOLDER} messages; first mbsync run (copies all): ` +
        `${(firstOurs / 1000).toFixed(1)} s ours, ${(firstTheirs / 1000).toFixed(1)} s Dovecot; ${RUNS} runs, median.\n`,
    );
    console.log('| run | this server | Dovecot | ratio |');
    console.log('|---|---:|---:|---:|');
    for (const [name, mine, dove] of rows) {
      const m = median(mine);
      const d = median(dove);
      console.log(`| ${name} | ${m.toFixed(0)} ms | ${d.toFixed(0)} ms | ${(m / d).toFixed(2)} |`);
    }
  } finally {
    for (const c of clients) c.close();
    await served.close();
    await dovecot.stop();
    if (!process.env.MBSYNC_DEBUG) rmSync(root, { recursive: true, force: true });
    else console.log(root);
    rmSync(dovecotDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
