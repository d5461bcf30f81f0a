/**
 * The SMTP submission path under hostile input. The per-message logic (smtp/submission.ts)
 * gets arbitrary messages and envelopes, streamed in arbitrary pieces: it refuses with an
 * SMTP reply in words or queues the message, never fails as a local error (a 4xx that
 * Thunderbird would retry forever), keeps the submitted bytes exactly, leaves nothing behind
 * when it refuses, and lets no Bcc or X-Leap-* field out. The real local server gets
 * arbitrary conversations: it answers every line with a reply or closes, and still serves
 * the next client.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateOwnKey } from '../../native-host/src/crypto/index.js';
import { silentLogger } from '../../native-host/src/log/index.js';
import { splitMessage } from '../../native-host/src/mime/index.js';
import { submitMessage } from '../../native-host/src/smtp/submission.js';
import {
  filesUnder,
  LOCAL_PASSWORD,
  LOCAL_USER,
  startHost,
  type TestHost,
} from '../smtp/helpers.js';
import { fuzzRuns, fuzzTimeout, heapGrowth, MiB } from './runs.js';

const ME = 'alice@alpha.test';
const BOB = 'bob@beta.test';
const MAX_BYTES = 16 * 1024;
let host: TestHost;

beforeAll(async () => {
  // No relay is reachable: queued mail just waits.
  host = await startHost(ME, {
    relay: async () => ({
      host: '127.0.0.1',
      port: 1,
      secure: true,
      user: ME,
      password: async () => 'x',
    }),
    maxMessageBytes: MAX_BYTES,
  });
  const bob = await generateOwnKey({ address: BOB });
  expect((await host.keys.consider(BOB, bob.publicArmored, 'manual')).accepted).toBe(true);
}, 60_000);
afterAll(async () => host?.cleanup());

const eol = fc.constantFrom('\r\n', '\n', '\r');
const headerLine = fc.oneof(
  fc.constantFrom(
    `From: <${ME}>`,
    `From: "A, B" <${ME}>, (c) x@y`,
    'From:',
    `To: <${BOB}>`,
    'To: carol@gamma.test, group: a@b;',
    `Cc: ${BOB.toUpperCase()}`,
    'Bcc: secret@delta.test',
    'bcc: Secret <secret@delta.test>',
    'X-Leap-Encrypted-Only: yes',
    'X-Leap-Signature: valid; pubkey="FORGED"',
    'Subject: =?UTF-8?B?w6k=?=',
    'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary=e',
    'Content-Type: multipart/mixed; boundary=b',
    'Content-Type: text/plain; charset="unterminated',
    'Content-Transfer-Encoding: base64',
    ' folded onto nothing',
    'no colon',
    '\0: nul',
  ),
  fc.string({ maxLength: 30 }).map((s) => `X-Junk: ${s}`),
);
const bodyPiece = fc.oneof(
  fc.constantFrom(
    '-----BEGIN PGP MESSAGE-----\r\n\r\nwcBMA0\r\n-----END PGP MESSAGE-----\r\n',
    '--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n',
    '--e\r\n\r\nVersion: 1\r\n--e\r\nContent-Type: application/octet-stream\r\n\r\ngarbage\r\n--e--\r\n',
    '.\r\n',
    '..\r\n',
    '\r\n.\r\n',
    '\0\0\r\r\n',
  ),
  fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('latin1')),
);
const structured = (from: boolean) =>
  fc
    .tuple(
      fc.array(headerLine, { maxLength: 8 }),
      eol,
      fc.boolean(),
      fc.array(bodyPiece, { maxLength: 5 }),
    )
    .map(([lines, end, blank, body]) =>
      Buffer.from(
        (from ? `From: <${ME}>${end}` : '') +
          lines.map((l) => l + end).join('') +
          (blank || from ? end : '') +
          body.join(''),
        'latin1',
      ),
    );
const message = fc.oneof(
  { arbitrary: structured(true), weight: 4 },
  { arbitrary: structured(false), weight: 2 },
  { arbitrary: fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)), weight: 1 },
  // Over the size limit, now and then.
  {
    arbitrary: fc
      .integer({ min: MAX_BYTES - 10, max: MAX_BYTES + 2000 })
      .map((n) =>
        Buffer.concat([Buffer.from(`From: <${ME}>\r\nTo: <${BOB}>\r\n\r\n`), Buffer.alloc(n, 'a')]),
      ),
    weight: 1,
  },
);
const recipients = fc.uniqueArray(
  fc.constantFrom(BOB, BOB.toUpperCase(), 'carol@gamma.test', 'secret@delta.test'),
  { minLength: 1, maxLength: 3 },
);

async function* inPieces(data: Buffer, sizes: number[]): AsyncGenerator<Buffer> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(at, at + size);
    at += size;
  }
}

async function readBlob(id: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of host.outbox.read(id)) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

/** The outbox's record of one message: its original and the copies that go out. */
function blobsOf(id: string): { original: string; deliveries: string[] } {
  const db = host.store.database.raw;
  const row = db.prepare('SELECT original_blob FROM outbox_messages WHERE id = ?').get(id) as {
    original_blob: string;
  };
  const deliveries = db
    .prepare('SELECT blob_id FROM outbox_deliveries WHERE message_id = ?')
    .all(id) as { blob_id: string }[];
  return { original: row.original_blob, deliveries: deliveries.map((d) => d.blob_id) };
}

const outboxFiles = () => new Set(filesUnder(`${host.dir}/account/outbox`));

describe('submission under hostile messages', () => {
  it(
    'queues or refuses in words, keeps the bytes, leaves nothing when refusing, lets no Bcc out',
    async () => {
      const outcomes = new Map<string, number>();
      const growth = await heapGrowth('SMTP submission', async () => {
        await fc.assert(
          fc.asyncProperty(
            message,
            recipients,
            fc.boolean(),
            fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 4 }),
            async (raw, to, encryptedOnly, sizes) => {
              const before = outboxFiles();
              const queued = host.outbox.list().length;
              const result = await submitMessage(
                {
                  outbox: host.outbox,
                  keys: host.keys,
                  encryptedOnly,
                  attachPublicKey: false,
                  maxMessageBytes: MAX_BYTES,
                  logger: silentLogger,
                },
                { from: ME, to },
                inPieces(raw, sizes),
              );
              if (!result.ok) {
                outcomes.set(result.error.code, (outcomes.get(result.error.code) ?? 0) + 1);
                expect(result.error.code).not.toBe('outbox_unavailable');
                expect(result.error.smtpCode).toBeGreaterThanOrEqual(400);
                expect(result.error.smtpCode).toBeLessThan(600);
                expect(result.error.message).toMatch(/^[45]\.\d\.\d+ [A-Z][^\r\n]{20,}$/);
                expect(host.outbox.list()).toHaveLength(queued);
                expect([...outboxFiles()].filter((f) => !before.has(f))).toEqual([]);
                return;
              }
              outcomes.set(result.protection, (outcomes.get(result.protection) ?? 0) + 1);
              expect(raw.length).toBeLessThanOrEqual(MAX_BYTES);
              expect(host.outbox.list()).toHaveLength(queued + 1);
              const blobs = blobsOf(result.id);
              expect((await readBlob(blobs.original)).equals(raw)).toBe(true);
              for (const id of blobs.deliveries) {
                const keys = splitMessage(await readBlob(id)).fields.map((f) => f.key);
                expect(keys.filter((k) => k === 'bcc' || k.startsWith('x-leap-'))).toEqual([]);
              }
            },
          ),
          { numRuns: fuzzRuns(60) },
        );
      });
      console.log(
        `[fuzz] SMTP submission outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`,
      );
      // Each message is at most 16 KiB and is streamed to disk; what stays is the queue's rows.
      expect(growth).toBeLessThan(64 * MiB);
    },
    fuzzTimeout(120_000),
  );
});

/** Writes `input` after the greeting, then QUIT; the text the server sent until it closed. */
async function converse(port: number, input: Buffer): Promise<{ text: string; closed: boolean }> {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<boolean>((resolve) => {
    socket.on('close', () => resolve(true));
    setTimeout(() => resolve(false), 8000);
  });
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.write(input);
  socket.write('\r\n.\r\nQUIT\r\n');
  const done = await closed;
  socket.destroy();
  return { text, closed: done };
}

const authPlain = `AUTH PLAIN ${Buffer.from(`\0${LOCAL_USER}\0${LOCAL_PASSWORD}`).toString('base64')}`;
const command = fc.oneof(
  fc.constantFrom(
    'EHLO localhost',
    'HELO x',
    authPlain,
    'AUTH LOGIN',
    'AUTH PLAIN',
    'AUTH CRAM-MD5',
    `MAIL FROM:<${ME}>`,
    `MAIL FROM:<${ME}> SIZE=999999999`,
    'MAIL FROM:<mallory@evil.test>',
    'MAIL FROM:<>',
    `RCPT TO:<${BOB}>`,
    'RCPT TO:<not an address>',
    'RCPT TO:<a@b.c> NOTIFY=NEVER',
    'DATA',
    'BDAT 10 LAST',
    'RSET',
    'NOOP',
    'VRFY root',
    'STARTTLS',
    'XCLIENT ADDR=1.2.3.4',
  ),
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => 'X'.repeat(n)),
);
const conversation = fc
  .tuple(fc.array(command, { maxLength: 10 }), eol, fc.option(message, { nil: undefined }))
  .map(([commands, end, data]) => {
    const head = Buffer.from(commands.map((c) => c + end).join(''), 'latin1');
    if (data === undefined) return head;
    // A well-formed submission around the hostile message, so DATA is reached.
    return Buffer.concat([
      head,
      Buffer.from(`EHLO x\r\n${authPlain}\r\nMAIL FROM:<${ME}>\r\nRCPT TO:<${BOB}>\r\nDATA\r\n`),
      data,
    ]);
  });

describe('the local SMTP server under hostile conversations', () => {
  it(
    'answers every line with a reply or closes, and still serves the next client',
    async () => {
      await fc.assert(
        fc.asyncProperty(conversation, async (input) => {
          const { text, closed } = await converse(host.server.port, input);
          expect(closed).toBe(true);
          for (const line of text.split('\r\n').filter(Boolean)) {
            expect(line).toMatch(/^[2345]\d\d[ -]/);
          }
          const probe = await converse(host.server.port, Buffer.from('EHLO localhost\r\nNOOP\r\n'));
          expect(probe.text).toMatch(/^220 .*\r\n250-/s);
          expect(probe.text).toMatch(/\r\n250 [^\r\n]*OK[^\r\n]*\r\n/i);
        }),
        { numRuns: fuzzRuns(25) },
      );
    },
    fuzzTimeout(120_000),
  );
});
