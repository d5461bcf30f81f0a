/**
 * The header layer: for any bytes, the fields re-serialise to the original bytes; a
 * rewrite in arbitrary pieces gives the same bytes as one in one piece; and what a rewrite
 * keeps is exactly what the parser sees as kept fields, so no field can slip past a removal
 * (a bare CR, folding, odd names, an endless line).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fieldValue,
  findHeaderEnd,
  parseHeader,
  readHead,
  rewriteHeader,
  rewriteHeaderStream,
  splitMessage,
} from '../../native-host/src/mime/index.js';

const runs = Number(process.env.LEAPBIRD_FUZZ_RUNS ?? 400);

/** Header-like bytes: names, colons, values, every kind of line break, folding, 8-bit bytes. */
const piece = fc.oneof(
  fc.constantFrom(
    'Subject',
    'X-Leap-Signature',
    'x-leap-encryption',
    'Bcc',
    'From',
    ':',
    ': ',
    ' ',
    '\t',
    '\r\n',
    '\n',
    '\r',
    '\r\n ',
    '\r\r',
    '\n\n',
    '\r\n\r\n',
    'valid; pubkey="X"',
    'é',
    '\u00ff',
    ' :',
    'a b',
  ),
  fc.string({ maxLength: 6 }),
);
const headerBytes = fc
  .array(piece, { maxLength: 40 })
  .map((parts) => Buffer.from(parts.join(''), 'latin1'));

async function* inPieces(data: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const to = Math.min(data.length, cut);
    if (to > at) yield data.subarray(at, to);
    at = Math.max(at, to);
  }
  if (at < data.length) yield data.subarray(at);
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(c);
  return Buffer.concat(chunks);
}

const dropLeap = (key: string) => key.startsWith('x-leap-');

describe('header layer', () => {
  it('re-serialises the fields of any bytes to the original bytes', () => {
    fc.assert(
      fc.property(headerBytes, (bytes) => {
        const { header, body } = splitMessage(bytes);
        const fields = parseHeader(header);
        expect(Buffer.concat(fields.map((f) => f.raw)).equals(header)).toBe(true);
        const end = findHeaderEnd(bytes);
        if (end) expect(body.equals(bytes.subarray(end.bodyStart))).toBe(true);
      }),
      { numRuns: runs },
    );
  });

  it('rewrites the same way in pieces as in one, and keeps exactly the fields it does not drop', async () => {
    await fc.assert(
      fc.asyncProperty(
        headerBytes,
        fc.array(fc.nat({ max: 200 }), { maxLength: 8 }),
        async (bytes, cuts) => {
          const whole = rewriteHeader(bytes, {
            drop: dropLeap,
            prepend: ['X-Leap-Signature: none'],
          });
          const streamed = await collect(
            rewriteHeaderStream(inPieces(bytes, cuts), {
              drop: dropLeap,
              prepend: ['X-Leap-Signature: none'],
            }),
          );
          expect(streamed.equals(whole)).toBe(true);

          const before = splitMessage(bytes);
          const after = splitMessage(whole);
          const view = (fields: typeof before.fields) =>
            fields.filter((f) => f.key !== '').map((f) => [f.key, f.value]);
          expect(view(after.fields)).toEqual([
            ['x-leap-signature', 'none'],
            ...view(before.fields).filter(([key]) => !dropLeap(key!)),
          ]);
          // Only CRLF line breaks remain in the rewritten header.
          expect(/\r(?!\n)|(?<!\r)\n/.test(after.header.toString('latin1'))).toBe(false);
          expect(after.body.equals(before.body)).toBe(true);
        },
      ),
      { numRuns: runs },
    );
  });

  it('sees a field a bare CR separates, as Thunderbird does', () => {
    const raw = Buffer.from('Subject: hi\rX-Leap-Signature: valid\r\nFrom: a@b\r\n\r\nbody');
    const { fields } = splitMessage(raw);
    expect(fields.map((f) => f.key)).toEqual(['subject', 'x-leap-signature', 'from']);
    expect(rewriteHeader(raw, { drop: dropLeap }).toString()).toBe(
      'Subject: hi\r\nFrom: a@b\r\n\r\nbody',
    );
  });

  it('keeps folding in the raw field and removes only the line breaks from the value', () => {
    const { fields } = splitMessage(Buffer.from('Subject: a\r\n\tb\r\n c\r\n\r\n'));
    expect(fields).toHaveLength(1);
    expect(fields[0]!.value).toBe('a\tb c');
    expect(fieldValue(fields, 'SUBJECT')).toBe('a\tb c');
  });

  it('drops a field with its folded lines and lines that are no field', () => {
    const raw = Buffer.from(
      ' X-Leap-Signature: valid\r\nX-Leap-Encryption: decrypted\r\n  ; more\r\nno colon here\r\nTo: x@y\r\n\r\n',
    );
    expect(rewriteHeader(raw, { drop: dropLeap }).toString()).toBe('To: x@y\r\n\r\n');
  });

  it('looks at a line only as far as its name, so an endless line costs no memory', async () => {
    const line = Buffer.alloc(8 * 1024 * 1024, 0x61);
    async function* huge() {
      yield Buffer.from('X-Leap-');
      for (let i = 0; i < 8; i++) yield line.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024);
      yield Buffer.from(': x\r\nSubject: s\r\n\r\nbody');
    }
    const out = await collect(rewriteHeaderStream(huge(), { drop: dropLeap }));
    // The 8 MiB "name" is no name: the line is dropped, the rest kept.
    expect(out.toString()).toBe('Subject: s\r\n\r\nbody');
  });

  it('reads a head off a stream and leaves the body to it', async () => {
    const head = await readHead(
      inPieces(Buffer.from('From: a@b\r\nSubject: s\r\n\r\nbody text'), [3, 12, 24, 25]),
    );
    expect(head!.fields.map((f) => f.key)).toEqual(['from', 'subject']);
    expect(head!.separator.toString()).toBe('\r\n');
    const rest: Buffer[] = [head!.bodyStart];
    for (let n = await head!.rest.next(); !n.done; n = await head!.rest.next()) {
      rest.push(Buffer.from(n.value));
    }
    expect(Buffer.concat(rest).toString()).toBe('body text');
    expect(await readHead(inPieces(Buffer.alloc(64, 0x61), []), 16)).toBeNull();
  });
});
