/**
 * Store insert and read-back throughput against an anchor run in the same script: the same
 * message bytes written as plain files with fsync (file and directory), then read back.
 * The store does more (MIME analysis, AES-GCM, SQLCipher, index rows, queue), so the ratio
 * says what that costs. Prints messages/s, MB/s, the ratios and peak RSS.
 *
 * The second store run is the sync engine's bulk path (one transaction per batch, blobs
 * written four at a time); it stores the same content again, so each blob is rewritten.
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
/** The sync engine's bulk path stores this many messages per transaction. */
const BATCH = 50;
const SLICE = 100;

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
    const store = await openAccountStore({
      dir: join(root, 'store'),
      storageSecret: randomBytes(64),
    });
    const inbox = (await store.getMailbox('INBOX'))!;
    const synced = await store.createMailbox('Synced');
    const uids: number[] = [];
    const time = { anchorWrite: 0, storeWrite: 0, storeBatch: 0, anchorRead: 0, storeRead: 0 };
    let check = 0;
    let storeBytes = 0;
    // The machine is shared: the contenders take turns, one slice each, so a burst of load
    // from elsewhere hits all of them rather than one.
    for (let from = 0; from < COUNT; from += SLICE) {
      const slice = messages.slice(from, from + SLICE);
      time.anchorWrite += await timed(async () => {
        for (const [k, content] of slice.entries()) {
          const handle = await open(join(plainDir, String(from + k)), 'wx');
          await handle.writeFile(content);
          await handle.sync();
          await handle.close();
          const dir = await open(plainDir, 'r');
          await dir.sync();
          await dir.close();
        }
      });
      time.storeWrite += await timed(async () => {
        for (const content of slice) uids.push((await store.append(inbox.id, { content })).uid);
      });
      time.storeBatch += await timed(async () => {
        for (let i = 0; i < slice.length; i += BATCH) {
          await store.appendManyFromUpstream(
            synced.id,
            slice.slice(i, i + BATCH).map((content, k) => ({
              content,
              upstream: { mailbox: 'INBOX', uidValidity: 1, uid: from + i + k + 1 },
            })),
          );
        }
      });
      time.anchorRead += await timed(async () => {
        for (let k = 0; k < slice.length; k++) {
          check += (await readFile(join(plainDir, String(from + k)))).length;
        }
      });
      time.storeRead += await timed(async () => {
        for (const uid of uids.slice(from, from + SLICE)) {
          for await (const chunk of await store.readMessage(inbox.id, uid)) {
            storeBytes += chunk.length;
          }
        }
      });
    }
    // What a mail client asks for every message first: its header.
    const headerEnds = new Map<number, number>();
    for await (const m of store.fetch(inbox.id, [{ start: 1, end: Infinity }], {
      want: { layout: true },
    }))
      headerEnds.set(m.uid, m.layout!.headerEnd);
    let headerBytes = 0;
    const anchorHeaders = await timed(async () => {
      for (let i = 0; i < COUNT; i++) {
        const handle = await open(join(plainDir, String(i)), 'r');
        const buffer = Buffer.alloc(headerEnds.get(uids[i]!)!);
        headerBytes += (await handle.read(buffer, 0, buffer.length, 0)).bytesRead;
        await handle.close();
      }
    });
    const storeHeaders = await timed(async () => {
      for (const uid of uids) {
        for await (const chunk of await store.readMessage(inbox.id, uid, {
          start: 0,
          end: headerEnds.get(uid)!,
        }))
          headerBytes -= chunk.length;
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
    if (storeBytes !== bytes || check !== bytes || metas !== COUNT || headerBytes !== 0) {
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
    row('anchor: plain files + fsync, write', time.anchorWrite);
    row('store: append (encrypt+index+fsync)', time.storeWrite, time.anchorWrite);
    row(`store: upstream batches of ${BATCH}`, time.storeBatch, time.anchorWrite);
    row('anchor: plain files, read', time.anchorRead);
    row('store: read back (decrypt)', time.storeRead, time.anchorRead);
    const perSecond = (name: string, seconds: number, anchor?: number) =>
      console.log(
        `${name.padEnd(34)} ${(COUNT / seconds).toFixed(0).padStart(8)} msg/s${
          anchor ? `                ratio vs anchor ${(anchor / seconds).toFixed(2)}` : ''
        }`,
      );
    perSecond('anchor: plain files, read header', anchorHeaders);
    perSecond('store: read header (from index)', storeHeaders, anchorHeaders);
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
