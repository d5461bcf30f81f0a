/**
 * Full-text SEARCH: the local IMAP server over the encrypted store (answered from its FTS5
 * trigram index) against Dovecot on the same messages, once without an index (it reads every
 * message) and once with Debian's dovecot-fts-xapian plugin (substring-capable with
 * partial=3; the anchor to beat). Prints the median time of a rare word, a common word and a
 * phrase for each, the ratio ours / Xapian, whether all three found the same messages, and
 * the index sizes as a share of the mailbox.
 *
 *   npx tsx bench/search-fts.ts [--messages 100000] [--runs 5]
 *
 * Needs dovecot-imapd and dovecot-fts-xapian (Debian packages).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDovecot, type DovecotInstance } from '../provider/src/dovecot/index.js';
import { seededRandom } from '../test/helpers/seeded-random.js';
import { BenchImapClient } from './lib/imap-client.js';
import { median } from './lib/stats.js';
import { serveNewStore } from './lib/store-server.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '5' },
  },
});
const COUNT = Number(values.messages);
const RUNS = Number(values.runs);
const USER = 'bench@bench.test';
const PASSWORD = randomBytes(12).toString('hex');

const XAPIAN = `mail_plugins = $mail_plugins fts fts_xapian
plugin {
  fts = xapian
  fts_xapian = partial=3 full=20 verbose=0
  fts_autoindex = yes
  fts_enforced = yes
}
service indexer-worker {
  vsz_limit = 2G
}
`;

/**
 * Words of 3 to 10 letters drawn from English letter frequencies (so trigrams are as varied
 * as in real text, neither kinder nor harsher to a trigram index), used with a Zipf-like law.
 */
const next = seededRandom(7);
const LETTERS =
  'eeeeeeeeeeeetttttttttaaaaaaaaoooooooiiiiiiinnnnnnnsssssshhhhhhrrrrrrddddllllcccuuummmwwffggyyppbbvkjxqz';
const VOCABULARY = [
  ...new Set(
    Array.from({ length: 24_000 }, () =>
      Array.from(
        { length: 3 + Math.floor(next() * 8) },
        () => LETTERS[Math.floor(next() * LETTERS.length)],
      ).join(''),
    ),
  ),
].slice(0, 20_000);
const CUMULATIVE = (() => {
  const weights = VOCABULARY.map((_, rank) => 1 / (rank + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  let sum = 0;
  return weights.map((w) => (sum += w / total));
})();
function drawWord(): string {
  const x = next();
  let lo = 0;
  let hi = CUMULATIVE.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (CUMULATIVE[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return VOCABULARY[lo]!;
}

const documentFrequency = new Map<string, number>();
let phrase = '';

function message(i: number): Buffer {
  const words = Array.from({ length: 150 + Math.floor(next() * 300) }, drawWord);
  for (const w of new Set(words)) documentFrequency.set(w, (documentFrequency.get(w) ?? 0) + 1);
  if (i === Math.floor(COUNT / 2)) phrase = `${words[20]} ${words[21]} ${words[22]}`;
  const lines: string[] = [];
  for (let k = 0; k < words.length; k += 12) lines.push(words.slice(k, k + 12).join(' '));
  return Buffer.from(
    [
      `From: "Sender ${i % 97}" <sender${i % 97}@example.com>`,
      `To: ${USER}`,
      `Subject: note ${i} ${words[0]}`,
      `Date: Mon, ${1 + (i % 28)} Jan 2024 10:00:00 +0000`,
      `Message-ID: <fts-${i}@example.com>`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      ...lines,
      '',
    ].join('\r\n'),
  );
}

function directorySize(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? directorySize(path) : statSync(path).size;
  }
  return total;
}

/** Bytes of the files whose path mentions xapian under Dovecot's mail directory. */
function xapianSize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.name.toLowerCase().includes('xapian'))
      total += entry.isDirectory() ? directorySize(path) : statSync(path).size;
    else if (entry.isDirectory()) total += xapianSize(path);
  }
  return total;
}

const uidsIn = (text: string) =>
  (/^\* SEARCH(.*)$/m.exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).length;

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bench-fts-'));
  const plainDir = mkdtempSync(join(tmpdir(), 'bench-fts-dovecot-'));
  const xapianDir = mkdtempSync(join(tmpdir(), 'bench-fts-xapian-'));
  const auth = { kind: 'passwd-file' as const, users: [{ user: USER, password: PASSWORD }] };
  const dovecots: DovecotInstance[] = [];
  const clients: BenchImapClient[] = [];
  const served = await serveNewStore(root, USER, PASSWORD);
  const { store, server } = served;
  try {
    dovecots.push(await startDovecot({ dataDir: plainDir, auth }));
    dovecots.push(await startDovecot({ dataDir: xapianDir, auth, extraConfig: XAPIAN }));
    const [plain, xapian] = await Promise.all(
      dovecots.map((d) => BenchImapClient.open(d.imapPort, USER, PASSWORD)),
    );
    clients.push(plain!, xapian!);
    const inbox = (await store.getMailbox('INBOX'))!;
    const loaded = { ours: 0, plain: 0, xapian: 0 };
    let mailboxBytes = 0;
    for (let i = 0; i < COUNT; i++) {
      const raw = message(i);
      mailboxBytes += raw.length;
      const literal = `APPEND INBOX {${raw.length}+}\r\n${raw.toString('latin1')}`;
      let t = performance.now();
      await store.append(inbox.id, { content: raw });
      loaded.ours += performance.now() - t;
      t = performance.now();
      await plain!.run(literal);
      loaded.plain += performance.now() - t;
      t = performance.now();
      await xapian!.run(literal);
      loaded.xapian += performance.now() - t;
      if ((i + 1) % 10_000 === 0) process.stderr.write(`loaded ${i + 1} of ${COUNT}\n`);
    }
    const ours = await BenchImapClient.open(server.port, USER, PASSWORD);
    clients.push(ours);
    const byFrequency = [...documentFrequency.entries()].sort((a, b) => a[1] - b[1]);
    const rare =
      byFrequency.find(([w, n]) => n >= 2 && n <= 5 && w.length >= 7)?.[0] ?? byFrequency[0]![0];
    const common = byFrequency.at(-1)![0];
    console.log(
      `${COUNT} messages (${(mailboxBytes / 1048576).toFixed(1)} MiB); stored in ${(loaded.ours / 1000).toFixed(0)} s ours, ` +
        `${(loaded.plain / 1000).toFixed(0)} s Dovecot, ${(loaded.xapian / 1000).toFixed(0)} s Dovecot+Xapian; ${RUNS} runs, median.\n`,
    );
    console.log(
      '| search | ours (FTS5) | Dovecot, no index | Dovecot + Xapian | ours / Xapian | same messages |',
    );
    console.log('|---|---:|---:|---:|---:|---|');
    const searches: [string, string][] = [
      [`rare word (${documentFrequency.get(rare)} messages)`, rare],
      [`common word (${documentFrequency.get(common)} messages)`, common],
      ['phrase of three words', phrase],
    ];
    const contenders = [ours, plain!, xapian!];
    for (const c of contenders) await c.run('SELECT INBOX');
    for (const [name, needle] of searches) {
      const command = `UID SEARCH BODY "${needle}"`;
      // An untimed round: Xapian finishes indexing what it has not yet, caches warm for all.
      const found: number[] = [];
      for (const c of contenders) found.push(uidsIn(await c.text(command)));
      const times: number[][] = [[], [], []];
      for (let r = 0; r < RUNS; r++) {
        for (const [k, c] of contenders.entries()) {
          const t = performance.now();
          await c.run(command);
          times[k]!.push(performance.now() - t);
        }
      }
      const [m, p, x] = times.map(median) as [number, number, number];
      const same = found.every((n) => n === found[0])
        ? `yes (${found[0]})`
        : `no: ${found.join(' / ')}`;
      console.log(
        `| ${name} | ${m.toFixed(1)} ms | ${p.toFixed(1)} ms | ${x.toFixed(1)} ms | ${(m / x).toFixed(2)} | ${same} |`,
      );
    }
    const oursIndex = store.searchIndexBytes();
    const theirs = xapianSize(dovecots[1]!.mailDir);
    console.log(
      `\nIndex size as a share of the mailbox: ours ${((oursIndex / mailboxBytes) * 100).toFixed(0)}% ` +
        `(${(oursIndex / 1048576).toFixed(1)} MiB), Xapian ${((theirs / mailboxBytes) * 100).toFixed(0)}% ` +
        `(${(theirs / 1048576).toFixed(1)} MiB).`,
    );
  } finally {
    for (const c of clients) c.close();
    await served.close();
    for (const d of dovecots) await d.stop();
    for (const dir of [root, plainDir, xapianDir]) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
