/**
 * A 100,000-message mailbox through the IMAP backend interface: SELECT (openMailbox), STATUS,
 * FETCH 1:* of flags + ENVELOPE, SEARCH UNSEEN, STORE on every message, and the memory that
 * opening costs. The anchor is the IMAP server's in-memory reference backend doing the
 * same operations in the same script (no disk, no encryption, no SQL): the ratio is what
 * the encrypted, persistent index costs. The mailbox is filled by doubling with COPY, so
 * the setup takes seconds rather than 100,000 fsyncs.
 *
 *   npx tsx bench/store-scale.ts [messages=100000]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend, type AccountBackend } from '../native-host/src/imap/index.js';
import { openAccountStore } from '../native-host/src/store/index.js';

const TARGET = Number(process.argv[2] ?? 100_000);
const ALL = [{ start: 1, end: Infinity }];

const seed = Buffer.from(
  [
    'From: Alice <alice@example.com>',
    'To: Bob <bob@example.com>',
    'Subject: quarterly numbers',
    'Date: Mon, 1 Jan 2024 10:00:00 +0000',
    'Message-ID: <seed@example.com>',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello Bob, the numbers are attached.',
    '',
  ].join('\r\n'),
);

async function seconds(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function scenario(account: AccountBackend) {
  const inbox = (await account.getMailbox('INBOX'))!;
  await account.append(inbox.id, { content: seed });
  await account.append(inbox.id, { content: seed, flags: ['\\Seen'] });
  let count = 2;
  while (count < TARGET) {
    const uidNext = (await account.status(inbox.id)).uidNext;
    const take = Math.min(count, TARGET - count);
    await account.copyMessages(
      inbox.id,
      [{ start: 1, end: uidNext - 1 - (count - take) }],
      inbox.id,
    );
    count += take;
  }
  const rssBefore = process.memoryUsage().rss;
  let uids = 0;
  const open = await seconds(
    async () => (uids = (await account.openMailbox(inbox.id)).uids.length),
  );
  const rssOpen = process.memoryUsage().rss - rssBefore;
  const status = await seconds(() => account.status(inbox.id));
  let fetched = 0;
  const fetch = await seconds(async () => {
    for await (const m of account.fetch(inbox.id, ALL, { want: { envelope: true } })) {
      if (m.envelope) fetched++;
    }
  });
  let unseen = 0;
  const search = await seconds(async () => {
    const key = { type: 'flag', flag: '\\Seen', set: false } as const;
    const fast = await account.search?.(inbox.id, key);
    if (Array.isArray(fast)) unseen = fast.length;
    else
      for await (const m of account.fetch(inbox.id, ALL)) if (!m.flags.includes('\\Seen')) unseen++;
  });
  const store = await seconds(() =>
    account.storeFlags(inbox.id, ALL, { operation: 'add', flags: ['$Bench'] }),
  );
  if (uids !== TARGET || fetched !== TARGET || unseen !== TARGET / 2) {
    throw new Error(`unexpected counts ${uids} ${fetched} ${unseen}: the benchmark is broken`);
  }
  return { open, status, fetch, search, store, rssOpen };
}

const root = mkdtempSync(join(tmpdir(), 'bench-scale-'));
try {
  const anchor = await scenario(await new MemoryBackend().account('bench'));
  const store = await openAccountStore({ dir: root, storageSecret: randomBytes(64) });
  const measured = await scenario(store);
  store.close();
  const ms = (s: number) => `${(s * 1000).toFixed(0).padStart(7)} ms`;
  console.log(`${TARGET} messages in one mailbox      store        anchor (memory)   ratio`);
  for (const name of ['open', 'status', 'fetch', 'search', 'store'] as const) {
    const label = {
      open: 'SELECT (openMailbox)',
      status: 'STATUS',
      fetch: 'FETCH 1:* FLAGS ENVELOPE',
      search: 'SEARCH UNSEEN',
      store: 'STORE 1:* +FLAGS',
    }[name];
    console.log(
      `${label.padEnd(32)} ${ms(measured[name])}   ${ms(anchor[name])}   ${(anchor[name] / measured[name]).toFixed(2)}`,
    );
  }
  console.log(
    `RSS growth while opening: store ${(measured.rssOpen / 2 ** 20).toFixed(1)} MB; ` +
      `peak RSS of the run ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB ` +
      `(the in-memory anchor holds its whole mailbox)`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
