/**
 * Run by large.test.ts in its own process with --expose-gc, so that what it measures is
 * memory in use, not garbage waiting for a collection: submits a message with a 50 MB
 * attachment, lets the outbox relay it to a sink, and prints as JSON the message size, the
 * most the live memory grew and the most the resident set grew.
 *
 * Arguments: `encrypt` (the recipient has a key) or `sign` (no key: signed only), and for
 * `sign` a directory where the sink saves what it received, for the parent to verify.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { generateOwnKey } from '../../native-host/src/crypto/index.js';
import { startHost, startSinkRelay, submit } from './helpers.js';

const ME = 'alice@alpha.test';
const BOB = 'bob@beta.test';
const ATTACHMENT = 50 * 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const [mode, saveTo] = process.argv.slice(2);
if (mode !== 'encrypt' && mode !== 'sign') throw new Error('mode: encrypt or sign');

const dir = mkdtempSync(join(tmpdir(), 'smtp-large-'));
const sink = await startSinkRelay(dir, 'tls', saveTo);
const host = await startHost(ME, {
  relay: async () => sink.endpoint(ME),
  maxMessageBytes: 100 * 1024 * 1024,
});
try {
  if (mode === 'encrypt') {
    const bob = await generateOwnKey({ address: BOB });
    await host.keys.consider(BOB, bob.publicArmored, 'manual');
  }

  const head = Buffer.from(
    [
      `From: ${ME}`,
      `To: ${BOB}`,
      'Subject: The whole photo archive',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="big"',
      '',
      '--big',
      // 8-bit text with a trailing space and bare LF line ends: signing must re-encode it.
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Grüße, here is the archive. \nSee you!\n',
      '--big',
      'Content-Type: application/octet-stream; name="archive.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      '',
    ].join('\r\n'),
  );
  const tail = Buffer.from('--big--\r\n');
  // One block of base64 lines sent again and again: the generator itself allocates nothing.
  const block = Buffer.from(
    randomBytes(57 * 1024)
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n'),
  );
  const blocks = Math.ceil(ATTACHMENT / (57 * 1024));
  async function* parts() {
    yield head;
    for (let i = 0; i < blocks; i++) yield block;
    yield tail;
  }

  const live = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external;
  };
  gc();
  const before = live();
  const rssBefore = process.memoryUsage().rss;
  let peak = before;
  let rssPeak = rssBefore;
  // Sampled right after a collection: what is held, not what awaits collection.
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    gc();
    peak = Math.max(peak, live());
  }, 50);
  const reply = await submit(host, { from: ME, to: [BOB] }, Readable.from(parts()) as never);
  await host.outbox.flush();
  clearInterval(sampler);
  const delivered = sink.received[0];
  process.stdout.write(
    JSON.stringify({
      reply,
      size: head.length + tail.length + blocks * block.length,
      grown: peak - before,
      rssGrown: rssPeak - rssBefore,
      delivered: delivered
        ? {
            size: delivered.size,
            encrypted: delivered.head.includes('multipart/encrypted'),
            signed: delivered.head.includes('multipart/signed'),
            file: delivered.file,
          }
        : null,
      senderPublicKey: host.ownPublicKey,
      queued: host.outbox.list().length,
    }) + '\n',
  );
} finally {
  await host.cleanup();
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
}
