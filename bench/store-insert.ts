/**
 * Store insert and read-back throughput against an anchor run in the same script: the same
 * message bytes written as plain files with fsync (file and directory), then read back.
 * The store does more (MIME analysis, AES-GCM, SQLCipher, index rows, queue), so the ratio
 * says what that costs. Prints messages/s, MB/s, the ratios and peak RSS.
 *
 *   npx tsx bench/store-insert.ts [messages=1000]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAccountStore } from '../native-host/src/store/index.js';

const COUNT = Number(process.argv[2] ?? 1000);

/** Sizes in the shape of a real mailbox: mostly a few KB, some attachments up to 2 MB. */
function messageSize(i: number): number {
  const r = ((i * 2654435761) % 1000) / 1000;
  if (r < 0.7) return 2_000 + Math.floor(r * 20_000);
  if (r < 0.95) return 20_000 + Math.floor(r * 100_000);
  return 200_000 + Math.floor(r * 1_800_000);
}

function message(i: number): Buffer {
  const header = [
    `From: Sender ${i} <sender${i}@example.com>`,
    'To: Bob <bob@example.com>',
    `Subject: benchmark message ${i}`,
    'Date: Mon, 1 Jan 2024 10:00:00 +0000',
    `Message-ID: <bench${i}@example.com>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Hello ${i}`,
    '--b',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    '',
  ].join('\r\n');
  const body = randomBytes(Math.floor((messageSize(i) * 3) / 4))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return Buffer.from(`${header}${body}\r\n--b--\r\n`);
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function main() {
  const root = mkdtempSync(join(tmpdir(), 'bench-store-'));
  try {
    const messages = Array.from({ length: COUNT }, (_, i) => message(i));
    const bytes = messages.reduce((sum, m) => sum + m.length, 0);

    const plainDir = join(root, 'plain');
    await mkdir(plainDir);
    const anchorWrite = await timed(async () => {
      for (let i = 0; i < COUNT; i++) {
        const handle = await open(join(plainDir, String(i)), 'wx');
        await handle.writeFile(messages[i]!);
        await handle.sync();
        await handle.close();
        const dir = await open(plainDir, 'r');
        await dir.sync();
        await dir.close();
      }
    });
    let check = 0;
    const anchorRead = await timed(async () => {
      for (let i = 0; i < COUNT; i++) check += (await readFile(join(plainDir, String(i)))).length;
    });

    const store = await openAccountStore({
      dir: join(root, 'store'),
      storageSecret: randomBytes(64),
    });
    const inbox = (await store.getMailbox('INBOX'))!;
    const uids: number[] = [];
    const storeWrite = await timed(async () => {
      for (const content of messages) uids.push((await store.append(inbox.id, { content })).uid);
    });
    let storeBytes = 0;
    const storeRead = await timed(async () => {
      for (const uid of uids) {
        for await (const chunk of await store.readMessage(inbox.id, uid))
          storeBytes += chunk.length;
      }
    });
    let metas = 0;
    const storeFetch = await timed(async () => {
      for await (const _ of store.fetch(inbox.id, [{ start: 1, end: Infinity }], {
        want: { envelope: true, bodyStructure: true },
      }))
        metas++;
    });
    store.close();
    if (storeBytes !== bytes || check !== bytes || metas !== COUNT) {
      throw new Error('read-back mismatch: the benchmark measured something else');
    }

    const mb = bytes / 1024 / 1024;
    const row = (name: string, seconds: number, anchor?: number) =>
      console.log(
        `${name.padEnd(34)} ${(COUNT / seconds).toFixed(0).padStart(8)} msg/s ${(mb / seconds)
          .toFixed(1)
          .padStart(8)} MB/s${anchor ? `   ratio vs anchor ${(anchor / seconds).toFixed(2)}` : ''}`,
      );
    console.log(
      `${COUNT} messages, ${mb.toFixed(1)} MB (mean ${(bytes / COUNT / 1024).toFixed(1)} KiB)`,
    );
    row('anchor: plain files + fsync, write', anchorWrite);
    row('store: append (encrypt+index+fsync)', storeWrite, anchorWrite);
    row('anchor: plain files, read', anchorRead);
    row('store: read back (decrypt)', storeRead, anchorRead);
    console.log(
      `${'store: FETCH envelope+bodystructure'.padEnd(34)} ${(COUNT / storeFetch).toFixed(0).padStart(8)} msg/s`,
    );
    console.log(
      `peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MB (messages held in memory for both runs: ${mb.toFixed(0)} MB)`,
    );
  } finally {
    clearInterval(sampler);
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
