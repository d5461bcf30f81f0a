import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  analyzeMessage,
  createMimeAnalyzer,
  sectionRange,
  type MessageAnalysis,
  type PartLayout,
} from '../../native-host/src/mime/index.js';
import { CORPUS } from '../imap/corpus.js';

const text = (raw: Buffer, r: { start: number; end: number } | null) =>
  r ? raw.subarray(r.start, r.end).toString() : null;

function checkLayout(layout: PartLayout, size: number): void {
  expect(layout.headerStart).toBeLessThanOrEqual(layout.headerEnd);
  expect(layout.headerEnd).toBeLessThanOrEqual(layout.bodyEnd);
  expect(layout.bodyEnd).toBeLessThanOrEqual(size);
  let previousEnd = layout.headerEnd;
  for (const child of layout.children) {
    expect(child.headerStart).toBeGreaterThanOrEqual(previousEnd);
    expect(child.bodyEnd).toBeLessThanOrEqual(layout.bodyEnd);
    previousEnd = child.bodyEnd;
    checkLayout(child, size);
  }
}

describe('analyzeMessage', () => {
  it('finds every section of a nested message', async () => {
    const raw = CORPUS.nested;
    const a = await analyzeMessage(raw);
    expect(a.size).toBe(raw.length);
    checkLayout(a.layout, raw.length);
    const s = (path: number[], t: Parameters<typeof sectionRange>[2]) =>
      text(raw, sectionRange(a.layout, path, t, a.size));
    expect(s([1, 1], null)).toBe('plain text');
    expect(s([1, 2], 'MIME')).toBe(
      'Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
    );
    expect(s([2], null)).toBe('JVBERi0xLjQK');
    expect(s([3], 'HEADER')).toBe('From: inner@example.com\r\nSubject: inner message\r\n\r\n');
    expect(s([3, 1], null)).toBe('inner body\r\nline two');
    expect(s([3], 'TEXT')).toBe('inner body\r\nline two');
    expect(s([1], 'HEADER')).toBeNull();
    expect(s([4], null)).toBeNull();
    expect(s([], 'HEADER')).toMatch(/^From: a@example.com\r\n.*\r\n\r\n$/s);
    expect(s([], 'TEXT')).toMatch(/^This is the preamble\.\r\n--outer\r\n.*epilogue\r\n$/s);
  });

  it('treats part 1 of a single-part message as its body', async () => {
    const a = await analyzeMessage(CORPUS.plain);
    expect(text(CORPUS.plain, sectionRange(a.layout, [1], null, a.size))).toBe(
      'Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n',
    );
    expect(sectionRange(a.layout, [2], null, a.size)).toBeNull();
  });

  it('accepts bare LF line endings', async () => {
    const raw = Buffer.from(CORPUS.nested.toString().replace(/\r\n/g, '\n'));
    const a = await analyzeMessage(raw);
    expect(a.bodyStructure).toMatchObject({ kind: 'multipart', subtype: 'mixed' });
    expect(text(raw, sectionRange(a.layout, [1, 1], null, a.size))).toBe('plain text');
    expect(text(raw, sectionRange(a.layout, [3, 1], null, a.size))).toBe('inner body\nline two');
  });

  it('gives the same result however the stream is cut into chunks', async () => {
    const messages = Object.values(CORPUS);
    const expected = await Promise.all(messages.map((m) => analyzeMessage(m)));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: messages.length - 1 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }),
        async (index, sizes) => {
          const raw = messages[index]!;
          const chunks: Buffer[] = [];
          for (let at = 0, i = 0; at < raw.length; i++) {
            const size = sizes[i % sizes.length]!;
            chunks.push(raw.subarray(at, at + size));
            at += size;
          }
          expect(await analyzeMessage(chunks)).toEqual(expected[index]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never throws on arbitrary bytes and keeps ranges inside the message', async () => {
    const alphabet = [
      '--b',
      '--b--',
      '\r\n',
      '\n',
      'Content-Type: multipart/mixed; boundary=b',
      'Content-Type: message/rfc822',
      ': ',
      'x',
      '\r',
      '\u00e9',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }).map((u) => Buffer.from(u)),
          fc
            .array(fc.constantFrom(...alphabet), { maxLength: 80 })
            .map((parts) => Buffer.from(parts.join(''))),
        ),
        async (raw) => {
          const a: MessageAnalysis = await analyzeMessage(raw);
          expect(a.size).toBe(raw.length);
          checkLayout(a.layout, raw.length);
        },
      ),
      { numRuns: 400 },
    );
  });

  // Found by test/fuzz/mime.test.ts (Dovecot agrees: test/imap/dovecot-compat.test.ts).
  it('closes a part still in its header at a close delimiter without closing its parent', async () => {
    // Closing the part took its parent off the stack as well; the epilogue then threw.
    const raw = Buffer.from(
      'From: a@b\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\npreamble\r\n--b--\r\nAAAA====\r\n--b--\r\n',
    );
    const a = await analyzeMessage(raw);
    checkLayout(a.layout, raw.length);
    expect(a.bodyStructure).toMatchObject({ kind: 'multipart', parts: [{ size: 0 }] });
  });

  it('gives a part whose empty line ends right at the boundary an empty body, never a negative one', async () => {
    const raw = Buffer.from(
      'Subject: e\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\n--b--\r\n',
    );
    const a = await analyzeMessage(raw);
    checkLayout(a.layout, raw.length);
    // As Dovecot: the boundary takes the empty line's break from a part's header …
    expect(text(raw, sectionRange(a.layout, [1], null, a.size))).toBe('');
    expect(text(raw, sectionRange(a.layout, [1], 'MIME', a.size))).toBe(
      'Content-Type: text/plain\r\n',
    );
    // … but not from the header of an encapsulated message.
    expect(text(raw, sectionRange(a.layout, [2], null, a.size))).toBe('Subject: inner\r\n\r\n');
    expect(text(raw, sectionRange(a.layout, [2], 'TEXT', a.size))).toBe('');
  });

  it('keeps the part at the depth limit inside its parent', async () => {
    let head = '';
    let tail = '';
    for (let i = 0; i < 70; i++) {
      head += 'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n';
      tail += '\r\n--b--\r\n';
    }
    const raw = Buffer.from(head + 'Subject: innermost\r\n\r\ntext' + tail);
    checkLayout((await analyzeMessage(raw)).layout, raw.length);
  });

  it('analyses a large message from a stream without needing it whole', async () => {
    const partSize = 64 * 1024;
    const parts = 400; // 25 MiB of attachment
    const head = Buffer.from(
      'Subject: big\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhi\r\n--zz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    );
    const line = Buffer.from('A'.repeat(76) + '\r\n');
    const block = Buffer.concat(
      Array.from({ length: Math.floor(partSize / line.length) }, () => line),
    );
    const tail = Buffer.from('\r\n--zz--\r\n');
    const analyzer = createMimeAnalyzer();
    analyzer.write(head);
    for (let i = 0; i < parts; i++) analyzer.write(block);
    analyzer.write(tail);
    const a = analyzer.end();
    expect(a.size).toBe(head.length + block.length * parts + tail.length);
    expect(a.bodyStructure).toMatchObject({ kind: 'multipart' });
    const attachment = (a.bodyStructure as { parts: { size: number }[] }).parts[1]!;
    expect(attachment.size).toBe(block.length * parts);
  });

  it('parses address edge cases for ENVELOPE', async () => {
    const raw = Buffer.from(
      'From: "Doe, John" <john@example.com> (work)\r\nSender: <@route.example:bob@example.com>\r\nTo: plain@example.com, <angle@example.com>\r\nBcc: =?UTF-8?Q?J=C3=B6rg?= <j@example.com>\r\n\r\n',
    );
    const { envelope } = await analyzeMessage(raw);
    expect(envelope.from).toEqual([
      { name: 'Doe, John', adl: null, mailbox: 'john', host: 'example.com' },
    ]);
    expect(envelope.sender).toEqual([
      { name: null, adl: '@route.example', mailbox: 'bob', host: 'example.com' },
    ]);
    expect(envelope.to).toEqual([
      { name: null, adl: null, mailbox: 'plain', host: 'example.com' },
      { name: null, adl: null, mailbox: 'angle', host: 'example.com' },
    ]);
    expect(envelope.bcc).toEqual([
      { name: '=?UTF-8?Q?J=C3=B6rg?=', adl: null, mailbox: 'j', host: 'example.com' },
    ]);
    expect(envelope.replyTo).toEqual(envelope.from);
  });
});
