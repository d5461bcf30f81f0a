/**
 * The local IMAP server against Dovecot with the same messages, for the commands clients use
 * most. Both are driven by the same raw-socket client over loopback; the contenders take
 * turns on every run so load from elsewhere on the shared machine hits both. Prints, per
 * command, the median time of each and the ratio (ours / Dovecot; below 1 is faster).
 *
 *   npx tsx bench/imap-fetch.ts [--messages 10000] [--runs 5] [--backend store|memory] [--only text]
 *
 * `store` (the default) serves from the encrypted store (SQLCipher index + encrypted blobs),
 * which is what Thunderbird reads through; `memory` isolates the protocol layer.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  MemoryBackend,
  startImapServer,
  type AccountBackend,
  type MailboxBackend,
} from '../native-host/src/imap/index.js';
import { openAccountStore, StoreMailboxBackend } from '../native-host/src/store/index.js';
import { startDovecot } from '../provider/src/dovecot/index.js';
import { BenchImapClient } from './lib/imap-client.js';
import { median } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
    backend: { type: 'string', default: 'store' },
    /** Only the rows whose name contains this text. */
    only: { type: 'string', default: '' },
  },
});
const COUNT = Number(values.messages);
const RUNS = Number(values.runs);
const USER = 'bench@bench.test';
const PASSWORD = randomBytes(12).toString('hex');
const WORDS = [
  'alpha',
  'bravo',
  'charlie',
  'delta',
  'echo',
  'foxtrot',
  'golf',
  'hotel',
  'india',
  'juliet',
];

/** Plain, alternative and attachment messages, 2-40 KB, with a searchable word in some. */
function message(i: number): Buffer {
  const word = (k: number) => WORDS[(i * 7 + k) % WORDS.length]!;
  const text = Array.from(
    { length: 20 + (i % 200) },
    (_, k) => `${word(k)} line ${k} of message ${i}`,
  ).join('\r\n');
  const head = [
    `From: "Sender ${i % 97}" <sender${i % 97}@example.com>`,
    `To: bench@bench.test, "Other Person" <other${i % 13}@example.org>`,
    `Subject: ${i % 50 === 0 ? 'needle ' : ''}report ${i} ${word(1)}`,
    `Date: Mon, ${1 + (i % 28)} Jan 2024 10:${String(i % 60).padStart(2, '0')}:00 +0000`,
    `Message-ID: <bench-${i}@example.com>`,
    'MIME-Version: 1.0',
  ];
  if (i % 3 === 0)
    return Buffer.from(
      [...head, 'Content-Type: text/plain; charset=utf-8', '', text, ''].join('\r\n'),
    );
  const parts = [
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    text,
    '--b1',
    i % 3 === 1
      ? 'Content-Type: text/html; charset=utf-8'
      : 'Content-Type: application/octet-stream; name="data.bin"',
    i % 3 === 1
      ? ''
      : 'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="data.bin"',
    ...(i % 3 === 1
      ? [`<p>${text.slice(0, 2000)}</p>`]
      : [
          '',
          randomBytes(3000 + (i % 7) * 1000)
            .toString('base64')
            .replace(/.{76}/g, '$&\r\n'),
        ]),
    '--b1--',
    '',
  ];
  const type = i % 3 === 1 ? 'multipart/alternative' : 'multipart/mixed';
  return Buffer.from([...head, `Content-Type: ${type}; boundary="b1"`, '', ...parts].join('\r\n'));
}

const THUNDERBIRD_HEADERS =
  'From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To';

interface Row {
  name: string;
  /** Commands to run once before timing (selection), not timed. */
  setup: string[];
  commands: () => string[];
}

function rows(): Row[] {
  const random = Array.from({ length: 200 }, (_, i) => 1 + ((i * 7919) % COUNT));
  const select = ['SELECT INBOX'];
  return [
    { name: 'SELECT INBOX', setup: ['UNSELECT'], commands: () => ['SELECT INBOX'] },
    {
      name: 'UID FETCH 1:* (… BODY.PEEK[HEADER.FIELDS (…)]) as Thunderbird',
      setup: select,
      commands: () => [
        `UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (${THUNDERBIRD_HEADERS})])`,
      ],
    },
    {
      name: 'FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE)',
      setup: select,
      commands: () => ['FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE)'],
    },
    {
      name: 'FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)',
      setup: select,
      commands: () => ['FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)'],
    },
    { name: 'FETCH 1:* BODY.PEEK[]', setup: select, commands: () => ['FETCH 1:* BODY.PEEK[]'] },
    {
      name: 'UID FETCH <n> BODY.PEEK[] x200 random',
      setup: select,
      commands: () => random.map((u) => `UID FETCH ${u} BODY.PEEK[]`),
    },
    {
      name: 'UID FETCH <n> BODY.PEEK[1] x200 random',
      setup: select,
      commands: () => random.map((u) => `UID FETCH ${u} BODY.PEEK[1]`),
    },
    {
      name: 'UID SEARCH SUBJECT needle',
      setup: select,
      commands: () => ['UID SEARCH SUBJECT needle'],
    },
    {
      name: 'UID SEARCH BODY "line 150"',
      setup: select,
      commands: () => ['UID SEARCH BODY "line 150"'],
    },
    { name: 'UID SORT (SUBJECT)', setup: select, commands: () => ['UID SORT (SUBJECT) UTF-8 ALL'] },
    {
      name: 'UID SORT (REVERSE DATE FROM)',
      setup: select,
      commands: () => ['UID SORT (REVERSE DATE FROM) UTF-8 ALL'],
    },
    {
      name: 'UID THREAD REFERENCES',
      setup: select,
      commands: () => ['UID THREAD REFERENCES UTF-8 ALL'],
    },
    {
      name: 'STORE +FLAGS on 1000 messages (and back)',
      setup: select,
      commands: () => [
        `STORE 1:${Math.min(1000, COUNT)} +FLAGS.SILENT (\\Flagged)`,
        `STORE 1:${Math.min(1000, COUNT)} -FLAGS.SILENT (\\Flagged)`,
      ],
    },
  ];
}

async function timeRow(
  client: BenchImapClient,
  row: Row,
): Promise<{ seconds: number; bytes: number }> {
  for (const c of row.setup) await client.run(c).catch(() => 0);
  let bytes = 0;
  const start = process.hrtime.bigint();
  for (const c of row.commands()) bytes += await client.run(c);
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, bytes };
}

async function ourBackend(
  root: string,
): Promise<{ backend: MailboxBackend; account: AccountBackend; close: () => void }> {
  if (values.backend === 'memory') {
    const backend = new MemoryBackend({ maxMessageSize: 1 << 30 });
    return { backend, account: await backend.account('bench'), close: () => {} };
  }
  const store = await openAccountStore({
    dir: join(root, 'store'),
    storageSecret: randomBytes(64),
  });
  const backend = new StoreMailboxBackend();
  backend.register('bench', store);
  return { backend, account: store, close: () => store.close() };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bench-imap-'));
  // Dovecot's unprivileged processes must traverse its data directory, so it gets its own.
  const dovecotDir = mkdtempSync(join(tmpdir(), 'bench-imap-dovecot-'));
  const dovecot = await startDovecot({
    dataDir: dovecotDir,
    auth: { kind: 'passwd-file', users: [{ user: USER, password: PASSWORD }] },
  });
  const ours = await ourBackend(root);
  const server = await startImapServer({
    backend: ours.backend,
    authenticate: async (u, p) => (u === USER && p === PASSWORD ? 'bench' : null),
    limits: { maxAppendSize: 1 << 30 },
  });
  const clients: BenchImapClient[] = [];
  try {
    const loadStart = Date.now();
    const inbox = (await ours.account.getMailbox('INBOX'))!;
    const dc = await BenchImapClient.open(dovecot.imapPort, USER, PASSWORD);
    clients.push(dc);
    let totalBytes = 0;
    for (let i = 0; i < COUNT; i++) {
      const raw = message(i);
      totalBytes += raw.length;
      const date = new Date(Date.UTC(2024, 0, 1 + (i % 28)));
      await ours.account.append(inbox.id, { content: raw, internalDate: date });
      // Dovecot gets the same bytes through APPEND with LITERAL+.
      await dc.run(
        `APPEND INBOX "${date.getUTCDate().toString().padStart(2, ' ')}-Jan-2024 00:00:00 +0000" {${raw.length}+}\r\n${raw.toString('latin1')}`,
      );
    }
    console.log(
      `Loaded ${COUNT} messages (${(totalBytes / 1048576).toFixed(1)} MiB) into both in ${((Date.now() - loadStart) / 1000).toFixed(1)} s; ` +
        `backend: ${values.backend}; ${RUNS} runs, median shown.\n`,
    );
    const oc = await BenchImapClient.open(server.port, USER, PASSWORD);
    clients.push(oc);
    console.log('| command | this server | Dovecot | ratio |');
    console.log('|---|---:|---:|---:|');
    for (const row of rows().filter((r) => r.name.includes(values.only))) {
      const mine: number[] = [];
      const theirs: number[] = [];
      let bytes = [0, 0];
      // One untimed round each first: JIT warm-up for us, index and cache building for Dovecot.
      await timeRow(oc, row);
      await timeRow(dc, row);
      for (let r = 0; r < RUNS; r++) {
        const a = await timeRow(oc, row);
        const b = await timeRow(dc, row);
        mine.push(a.seconds);
        theirs.push(b.seconds);
        bytes = [a.bytes, b.bytes];
      }
      const m = median(mine);
      const t = median(theirs);
      const size =
        bytes[0]! > 1_000_000
          ? ` (${(bytes[0]! / 1048576).toFixed(1)} / ${(bytes[1]! / 1048576).toFixed(1)} MiB)`
          : '';
      console.log(
        `| ${row.name}${size} | ${(m * 1000).toFixed(1)} ms | ${(t * 1000).toFixed(1)} ms | ${(m / t).toFixed(2)} |`,
      );
    }
    const rss = process.memoryUsage().rss / 1048576;
    console.log(
      `\nRSS of this process (server + ${values.backend} backend + bench client): ${rss.toFixed(0)} MiB`,
    );
  } finally {
    for (const c of clients) c.close();
    await server.close();
    ours.close();
    await dovecot.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(dovecotDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
