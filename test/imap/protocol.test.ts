/** The wire layer alone: frames, grammar, encoding, mailbox-name encoding. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  astring,
  dateTime,
  nstring,
  sequenceSet,
  string,
} from '../../native-host/src/imap/protocol/encoder.js';
import { readFetchRequest } from '../../native-host/src/imap/protocol/fetch-items.js';
import {
  FrameReader,
  type Frame,
  type FrameError,
} from '../../native-host/src/imap/protocol/frames.js';
import { CommandReader, ParseError } from '../../native-host/src/imap/protocol/parser.js';
import { decodeMailboxName, encodeMailboxName } from '../../native-host/src/imap/protocol/utf7.js';

function framesOf(
  chunks: Buffer[],
  limits = { line: 1000, literal: 100 },
  { resynchronise = true, stopEvery = 0 } = {},
) {
  const frames: Frame[] = [];
  const errors: FrameError[] = [];
  const rests: string[] = [];
  let continuations = 0;
  const reader = new FrameReader(
    {
      maxLineLength: limits.line,
      maxLiteralSize: (append) => (append ? limits.literal * 10 : limits.literal),
      maxCommandSize: (append) => (append ? limits.literal * 10 : limits.literal) + limits.line * 4,
      resynchronise,
    },
    {
      frame: (f) => frames.push(f) % (stopEvery || Infinity) !== 0,
      continuation: () => continuations++,
      error: (e) => errors.push(e),
    },
  );
  for (const c of chunks) {
    let rest: Buffer | null = c;
    // What the reader hands back is pushed again, as the session does once it has room.
    while ((rest = reader.push(rest))) rests.push(rest.toString());
  }
  return { frames, errors, continuations, rests };
}

const reader = (line: string, literals: string[] = []) => {
  const parts = line.split('\n');
  return new CommandReader({
    lines: parts.map((p) => Buffer.from(p)),
    literals: literals.map((l) => Buffer.from(l)),
  });
};

describe('frames', () => {
  it('assembles literals however the bytes arrive, asking only for synchronising ones', () => {
    const input = Buffer.from('a LOGIN {5}\r\nalice {3+}\r\npw!\r\nb NOOP\r\nc X {0}\r\n\r\n');
    const oneByOne = framesOf([...input].map((b) => Buffer.from([b])));
    const whole = framesOf([input]);
    expect(oneByOne.frames).toEqual(whole.frames);
    expect(whole.frames.map((f) => f.lines.map(String))).toEqual([
      ['a LOGIN {5}', ' {3+}', ''],
      ['b NOOP'],
      ['c X {0}', ''],
    ]);
    expect(whole.frames[0]!.literals.map(String)).toEqual(['alice', 'pw!']);
    expect(whole.continuations).toBe(2);
  });

  it('reports over-long lines and oversized literals with the tag, fatal only for LITERAL+', () => {
    const { frames, errors } = framesOf([
      Buffer.from(
        `t1 NOOP ${'x'.repeat(2000)}\r\nt2 X {101}\r\nt3 X {101+}\r\nt4 APPEND INBOX {900}\r\n`,
      ),
    ]);
    expect(errors).toEqual([
      { kind: 'line-too-long', tag: 't1', fatal: false },
      { kind: 'literal-too-big', tag: 't2', fatal: false },
      { kind: 'literal-too-big', tag: 't3', fatal: true },
    ]);
    expect(frames).toEqual([]);
  });

  it('stops after a frame when told and hands back the unread bytes, losing none', () => {
    const input = Buffer.from('a NOOP\r\nb LOGIN {3+}\r\npw!\r\nc NOOP\r\n');
    const stopping = framesOf([input], undefined, { stopEvery: 1 });
    expect(stopping.rests).toEqual(['b LOGIN {3+}\r\npw!\r\nc NOOP\r\n', 'c NOOP\r\n']);
    expect(stopping.frames).toEqual(framesOf([input]).frames);
  });

  it('without resynchronising (before login) makes every refusal fatal at once and reads no more', () => {
    const long = framesOf(
      [Buffer.from(`t1 LOGIN ${'x'.repeat(1500)}`), Buffer.from('\r\nt2 NOOP\r\n')],
      undefined,
      { resynchronise: false },
    );
    // Reported before the line ends: a client sending an endless line is not waited for.
    expect(long.errors).toEqual([{ kind: 'line-too-long', tag: 't1', fatal: true }]);
    expect(long.frames).toEqual([]);
    const literal = framesOf([Buffer.from('t3 LOGIN {101}\r\nt4 NOOP\r\n')], undefined, {
      resynchronise: false,
    });
    expect(literal.errors).toEqual([{ kind: 'literal-too-big', tag: 't3', fatal: true }]);
    expect(literal.frames).toEqual([]);
    expect(literal.continuations).toBe(0);
  });
});

describe('grammar', () => {
  it('reads sequence sets as RFC 3501 writes them', () => {
    const r = reader('2,4:7,9,12:*,*:4,5:3');
    expect(r.sequenceSet().ranges).toEqual([
      { start: 2, end: 2 },
      { start: 4, end: 7 },
      { start: 9, end: 9 },
      { start: 12, end: 0 },
      { start: 0, end: 4 },
      { start: 3, end: 5 },
    ]);
    expect(() => reader('0').sequenceSet()).toThrow(ParseError);
    expect(() => reader('4294967296').sequenceSet()).toThrow(ParseError);
  });

  it('reads quoted strings, literals, astrings, NIL and flag lists', () => {
    const r = reader('"a \\"b\\" \\\\c" {3}\n atom] NIL (\\seen $Work \\Flagged)', ['x\r\ny']);
    expect(r.string()).toBe('a "b" \\c');
    r.sp();
    expect(r.string()).toBe('x\r\ny');
    r.sp();
    expect(r.astring()).toBe('atom]');
    r.sp();
    expect(r.nstring()).toBeNull();
    r.sp();
    expect(r.flagList()).toEqual(['\\Seen', '$Work', '\\Flagged']);
    r.end();
    expect(() => reader('"unterminated').string()).toThrow(ParseError);
    expect(() => reader('"bad \\x"').string()).toThrow(ParseError);
  });

  it('reads dates and date-times with their zone', () => {
    expect(reader('"17-Jul-1996 02:44:25 -0700"').dateTime().toISOString()).toBe(
      '1996-07-17T09:44:25.000Z',
    );
    expect(reader('1-Feb-1994').date()).toBe('1994-02-01');
    expect(() => reader('"31-Foo-1996 02:44:25 -0700"').dateTime()).toThrow(ParseError);
  });

  it('reads FETCH items, sections, partials and macros', () => {
    const full = readFetchRequest(
      reader(
        '(UID FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)] BODY[1.2.MIME]<0.10> RFC822.SIZE) (CHANGEDSINCE 12345)',
      ),
    );
    expect(full).toMatchObject({
      uid: true,
      flags: true,
      size: true,
      changedSince: 12345,
      modseq: true,
    });
    expect(full.sections).toEqual([
      {
        peek: true,
        path: [],
        text: 'HEADER.FIELDS',
        fields: ['DATE', 'FROM'],
        partial: null,
        label: 'BODY[HEADER.FIELDS (DATE FROM)]',
      },
      {
        peek: false,
        path: [1, 2],
        text: 'MIME',
        fields: null,
        partial: { start: 0, length: 10 },
        label: 'BODY[1.2.MIME]<0>',
      },
    ]);
    expect(readFetchRequest(reader('ALL'))).toMatchObject({
      flags: true,
      internalDate: true,
      size: true,
      envelope: true,
      body: false,
    });
    expect(readFetchRequest(reader('FULL'))).toMatchObject({ envelope: true, body: true });
    expect(() => readFetchRequest(reader('BODY[MIME]'))).toThrow(ParseError);
    expect(() => readFetchRequest(reader('(FLAGS'))).toThrow(ParseError);
  });

  it('throws only ParseError on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 120 }),
        fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }),
        (line, literals) => {
          const attempts: ((r: CommandReader) => unknown)[] = [
            (r) => r.sequenceSet(),
            (r) => readFetchRequest(r),
            (r) => r.flagList(),
            (r) => r.astring(),
            (r) => r.dateTime(),
            (r) => r.listMailbox(),
          ];
          for (const attempt of attempts) {
            try {
              attempt(reader(line, literals));
            } catch (error) {
              expect(error).toBeInstanceOf(ParseError);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('encoding', () => {
  it('quotes 7-bit text, sends 8-bit, CR/LF, quotes and backslashes as literals, NIL for null', () => {
    expect(string('a "b" \\c')).toBe('{8}\r\na "b" \\c');
    expect(string('Grüße')).toBe('{7}\r\nGrüße');
    expect(string('two\r\nlines')).toBe('{10}\r\ntwo\r\nlines');
    expect(string('=?UTF-8?B?SGk=?=')).toBe('"=?UTF-8?B?SGk=?="');
    expect(nstring(null)).toBe('NIL');
    expect(astring('INBOX')).toBe('INBOX');
    expect(astring('NIL')).toBe('"NIL"');
    expect(astring('with space')).toBe('"with space"');
    expect(sequenceSet([1, 2, 3, 5, 7, 8])).toBe('1:3,5,7:8');
    expect(dateTime(new Date('1996-07-17T09:44:25Z'))).toBe('"17-Jul-1996 09:44:25 +0000"');
  });

  it('encodes mailbox names in modified UTF-7 (RFC 3501 5.1.3) and back', () => {
    expect(encodeMailboxName('~peter/mail/台北/日本語')).toBe('~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    expect(decodeMailboxName('~peter/mail/&U,BTFw-/&ZeVnLIqe-')).toBe('~peter/mail/台北/日本語');
    expect(encodeMailboxName('R&D')).toBe('R&-D');
    expect(decodeMailboxName('&Jjo!')).toBe('&Jjo!');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (name) => {
        const wire = encodeMailboxName(name);
        expect(wire).toMatch(/^[\x20-\x7e]*$/);
        expect(decodeMailboxName(wire)).toBe(name);
      }),
      { numRuns: 300 },
    );
  });
});
