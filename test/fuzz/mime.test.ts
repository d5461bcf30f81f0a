/**
 * The MIME analyser and the header layer (mime/index.ts) under hostile MIME: nesting far
 * past the depth limit, headers past their size limit, boundaries that are wrong, empty,
 * quoted badly or never closed, bad transfer encodings, bare CRs and NULs. For any such
 * message the analysis ends without throwing, gives the same answer however the message
 * is streamed, and names only byte ranges inside it; the header layer keeps every byte it
 * does not mean to change; memory stays bounded by the limits, not by the input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressesIn,
  analyzeMessage,
  createMimeAnalyzer,
  fieldText,
  parseAddressList,
  rewriteHeader,
  sectionRange,
  splitMessage,
  type BodyStructure,
  type MessageAnalysis,
  type PartLayout,
  type SectionText,
} from '../../native-host/src/mime/index.js';
import { fuzzRuns, fuzzTimeout, heapGrowth, MiB } from './runs.js';

const eol = fc.constantFrom('\r\n', '\r\n', '\r\n', '\n', '\r', '\r\r\n', '\n\r');
const junk = fc
  .uint8Array({ maxLength: 24 })
  .map((b) => Buffer.from(b).toString('latin1'))
  .map((s) => s.replace(/[\r\n]/g, ''));
const boundary = fc.oneof(
  fc.constantFrom('b', 'b1', 'outer', '', ' ', '"', '=_x?', '--b', 'a'.repeat(80), 'b\0'),
  fc.stringMatching(/^[A-Za-z0-9'()+_,./:=? -]{1,12}$/),
);
const quoted = (b: string) =>
  fc.constantFrom(
    `boundary=${b}`,
    `boundary="${b}"`,
    `boundary="${b}`,
    `BOUNDARY=${b}; boundary=x`,
  );
const address = fc.oneof(
  fc.constantFrom(
    '"Doe, J" <j@x.test>',
    'a@b, (c) <d@e>, group: f@g, h@i;',
    '<@route:x@y>',
    '=?UTF-8?B?w6k=?= <e@x>',
    '"unterminated <x@y>',
    '<<<>>>',
    '((((',
    ':;:;,,',
    '\0@\0',
  ),
  junk,
);
const field = fc.oneof(
  fc.constantFrom(
    'Content-Type: text/plain; charset=utf-8',
    'Content-Type: message/rfc822',
    'Content-Type: message/global',
    'Content-Type: multipart/digest; boundary=d',
    'Content-Type: text/html; charset="unterminated',
    'Content-Type: /',
    'Content-Type: ;;;',
    'Content-Transfer-Encoding: base64',
    'Content-Transfer-Encoding: quoted-printable',
    'Content-Transfer-Encoding: x-uuencode',
    'Content-Transfer-Encoding: ',
    'Content-Disposition: attachment; filename="a\0b.txt"; size=-1',
    'Content-Disposition: ;=;=',
    'Content-Language: ,,, en, ,',
    'Subject: =?UTF-8?Q?broken=ZZ?=',
    'X-Leap-Encryption: end-to-end',
    ' folded onto nothing',
    'no colon here',
    ':empty name',
    'Name With Space: x',
  ),
  fc
    .tuple(
      fc.constantFrom('multipart/mixed', 'multipart/alternative', 'Multipart/Signed'),
      boundary,
    )
    .chain(([type, b]) => quoted(b).map((p) => `Content-Type: ${type}; ${p}`)),
  fc
    .tuple(fc.constantFrom('From', 'To', 'Cc', 'Bcc', 'Reply-To', 'Sender'), address)
    .map(([name, value]) => `${name}: ${value}`),
  junk.map((v) => `X-Junk: ${v}`),
  // Past the analyser's 256 KiB header limit, now and then.
  fc.integer({ min: 1, max: 300 * 1024 }).map((n) => `X-Big: ${'h'.repeat(n)}`),
);

/** One entity as bytes (Latin-1 text): header fields, a separator, and a body. */
interface Shape {
  text: string;
}
const body = fc.oneof(
  junk,
  fc.constantFrom(
    'AAAA====\r\n!!!!',
    '=\r\n=4',
    '=ZZ',
    'begin 644 x\r\n`\r\nend',
    '\0\0\0',
    '\r\r\r',
  ),
);

const tree = fc.letrec<{ entity: Shape; multipart: string }>((tie) => ({
  entity: fc
    .tuple(
      fc.array(field, { maxLength: 6 }),
      eol,
      fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        body,
        tie('multipart'),
        tie('entity').map((e) => e.text),
      ),
      fc.boolean(),
    )
    .map(([fields, end, content, separated]) => ({
      text: fields.map((f) => f + end).join('') + (separated ? end : '') + content,
    })),
  multipart: fc
    .tuple(
      boundary,
      eol,
      fc.array(tie('entity'), { maxLength: 4 }),
      fc.constantFrom('close', 'open', 'twice', 'padded'),
      body,
    )
    .map(([b, end, parts, close, epilogue]) => {
      const open = parts.map((p) => `--${b}${end}${p.text}${end}`).join('');
      const tail =
        close === 'close'
          ? `--${b}--${end}`
          : close === 'twice'
            ? `--${b}--${end}--${b}--${end}`
            : close === 'padded'
              ? `--${b}-- \t${end}`
              : '';
      return `preamble${end}${open}${tail}${epilogue}`;
    }),
}));

/** A whole message: a tree, now and then behind a multipart header that announces it. */
const message = fc
  .tuple(fc.option(boundary, { nil: undefined }), tree.entity)
  .map(([b, e]) =>
    Buffer.from(
      b === undefined
        ? e.text
        : `From: a@b\r\nContent-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\n${e.text}\r\n--${b}--\r\n`,
      'latin1',
    ),
  );

/** Nesting far past the analyser's 64 levels, with one boundary or a new one per level. */
const deep = fc
  .tuple(
    fc.integer({ min: 60, max: 400 }),
    fc.boolean(),
    fc.constantFrom('multipart', 'message', 'both'),
  )
  .map(([depth, same, kind]) => {
    let head = '';
    let tail = '';
    for (let i = 0; i < depth; i++) {
      const b = same ? 'b' : `b${i}`;
      const multipart = kind === 'multipart' || (kind === 'both' && i % 2 === 0);
      if (multipart) {
        head += `Content-Type: multipart/mixed; boundary=${b}\r\n\r\n--${b}\r\n`;
        tail = `\r\n--${b}--\r\n` + tail;
      } else {
        head += 'Content-Type: message/rfc822\r\n\r\n';
      }
    }
    return Buffer.from(head + 'Subject: innermost\r\n\r\ntext' + tail);
  });

function cut(data: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    pieces.push(data.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

/** Every part path the BODYSTRUCTURE names, as IMAP numbers them (1.2.1 …). */
function paths(structure: BodyStructure, prefix: number[] = [], out: number[][] = []): number[][] {
  if (out.length > 2000) return out;
  if (structure.kind === 'multipart') {
    structure.parts.forEach((p, i) => {
      out.push([...prefix, i + 1]);
      paths(p, [...prefix, i + 1], out);
    });
  } else if (structure.kind === 'message') {
    const inner = structure.body;
    if (inner.kind === 'multipart') paths(inner, prefix, out);
    else out.push([...prefix, 1]);
  } else if (prefix.length === 0) {
    out.push([1]);
  }
  return out;
}

function depthOf(s: BodyStructure): number {
  if (s.kind === 'multipart') return 1 + Math.max(0, ...s.parts.map(depthOf));
  if (s.kind === 'message') return 1 + depthOf(s.body);
  return 1;
}

function checkLayout(layout: PartLayout, size: number, count = { parts: 0 }): void {
  count.parts++;
  expect(layout.headerStart).toBeLessThanOrEqual(layout.headerEnd);
  expect(layout.headerEnd).toBeLessThanOrEqual(layout.bodyEnd);
  expect(layout.bodyEnd).toBeLessThanOrEqual(size);
  for (const child of layout.children) {
    expect(child.headerStart).toBeGreaterThanOrEqual(layout.headerStart);
    expect(child.bodyEnd).toBeLessThanOrEqual(layout.bodyEnd);
    checkLayout(child, size, count);
  }
}

const TEXTS: SectionText[] = [null, 'MIME', 'HEADER', 'TEXT'];

/** What a FETCH would ask of the analysis: every section in bounds, the structure encodable. */
function checkAnalysis(raw: Buffer, a: MessageAnalysis): void {
  expect(a.size).toBe(raw.length);
  checkLayout(a.layout, raw.length);
  expect(() => JSON.stringify(a.bodyStructure)).not.toThrow();
  expect(depthOf(a.bodyStructure)).toBeLessThanOrEqual(66);
  for (const path of [[], ...paths(a.bodyStructure), [1, 1, 1, 1], [99]]) {
    for (const text of TEXTS) {
      const range = sectionRange(a.layout, path, text, a.size);
      if (range === null) continue;
      expect(range.start).toBeGreaterThanOrEqual(0);
      expect(range.start).toBeLessThanOrEqual(range.end);
      expect(range.end).toBeLessThanOrEqual(raw.length);
    }
  }
}

const dropLeap = (key: string) => key.startsWith('x-leap-');

describe('MIME analyser under hostile MIME', () => {
  it(
    'analyses any hostile message, whole or streamed in any pieces, to the same answer in bounds',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          message,
          fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 8 }),
          async (raw, sizes) => {
            const whole = await analyzeMessage(raw);
            checkAnalysis(raw, whole);
            expect(await analyzeMessage(cut(raw, sizes))).toEqual(whole);
          },
        ),
        { numRuns: fuzzRuns(300) },
      );
    },
    fuzzTimeout(60_000),
  );

  it(
    'ends nesting at its depth limit without running out of stack',
    async () => {
      await fc.assert(
        fc.asyncProperty(deep, async (raw) => {
          checkAnalysis(raw, await analyzeMessage(raw));
        }),
        { numRuns: fuzzRuns(60) },
      );
    },
    fuzzTimeout(60_000),
  );

  it(
    'keeps every byte of the body and every field it does not drop, and rewrites only once',
    () => {
      fc.assert(
        fc.property(message, (raw) => {
          const before = splitMessage(raw);
          expect(Buffer.concat([...before.fields.map((f) => f.raw)]).equals(before.header)).toBe(
            true,
          );
          const once = rewriteHeader(raw, { drop: dropLeap });
          const after = splitMessage(once);
          expect(after.body.equals(before.body)).toBe(true);
          expect(after.fields.map((f) => [f.key, f.value])).toEqual(
            before.fields
              .filter((f) => f.key !== '' && !dropLeap(f.key))
              .map((f) => [f.key, f.value]),
          );
          // The store rewrites what the sync already rewrote: the second pass changes nothing.
          expect(rewriteHeader(once, { drop: dropLeap }).equals(once)).toBe(true);
          for (const f of before.fields) {
            expect(typeof fieldText(f.value)).toBe('string');
            expect(Array.isArray(addressesIn([f.value]))).toBe(true);
            const list = parseAddressList(f.value);
            if (list !== null) expect(list.length).toBeGreaterThan(0);
          }
        }),
        { numRuns: fuzzRuns(300) },
      );
    },
    fuzzTimeout(60_000),
  );

  it('streams a hostile 40 MiB message in bounded memory', async () => {
    // Part headers that never end, one line of 16 MiB, NULs and bare CRs: only the limits'
    // worth of header is kept (256 KiB a part), whatever the message's size.
    const piece = 64 * 1024;
    const parts = 24;
    const analyzer = createMimeAnalyzer();
    let size = 0;
    const feed = (chunk: Buffer) => {
      analyzer.write(chunk);
      size += chunk.length;
    };
    let analysis: MessageAnalysis | null = null;
    const growth = await heapGrowth('MIME analyser, hostile 40 MiB stream', () => {
      feed(Buffer.from('From: a@b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n'));
      const endless = Buffer.alloc(piece, 'X-Endless: \0\r');
      for (let p = 0; p < parts; p++) {
        feed(Buffer.from('\r\n--b\r\n'));
        for (let i = 0; i < 16; i++) feed(endless);
      }
      feed(Buffer.from('\r\n--b\r\n\r\n'));
      const line = Buffer.alloc(piece, 'a');
      for (let i = 0; i < 256; i++) feed(line);
      feed(Buffer.from('\r\n--b--\r\n'));
      analysis = analyzer.end();
    });
    expect(analysis!.size).toBe(size);
    expect(size).toBeGreaterThan(40 * MiB);
    // Generous: twice the per-part header limit for every part, and 8 MiB besides.
    expect(growth).toBeLessThan((parts + 1) * 2 * 256 * 1024 + 8 * MiB);
  });
});
