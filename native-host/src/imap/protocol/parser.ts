/**
 * RFC 3501 section 9 grammar over one command frame. Each command's file reads its own
 * arguments through this cursor (as go-imap's imapwire decoder is used by each command), so
 * the grammar lives here once and no command hand-parses bytes.
 */
import type { Frame } from './frames.js';
import { decodeMailboxName } from './utf7.js';

export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseError';
  }
}

/** A sequence set element; 0 stands for `*`. */
export interface SeqRange {
  start: number;
  end: number;
}
export interface SequenceSet {
  ranges: SeqRange[];
  /**
   * `$`, the result the last SEARCH saved (RFC 5182); `ranges` is then empty and the
   * session's tracker supplies the UIDs.
   */
  saved?: boolean;
}

const ATOM_SPECIALS = new Set([...'(){ %*"\\]'].map((c) => c.charCodeAt(0)));

function isAtomChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && !ATOM_SPECIALS.has(c);
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MAX_NUMBER = 0xffffffff;

export class CommandReader {
  private lineIndex = 0;
  private pos = 0;

  constructor(private readonly frame: Frame) {}

  private get line(): Buffer {
    return this.frame.lines[this.lineIndex]!;
  }

  peek(): number {
    return this.pos < this.line.length ? this.line[this.pos]! : -1;
  }

  atEnd(): boolean {
    return this.pos >= this.line.length && this.lineIndex === this.frame.lines.length - 1;
  }

  /** The command must end here. */
  end(): void {
    if (!this.atEnd()) throw new ParseError('Unexpected characters at the end of the command.');
  }

  sp(): void {
    if (this.peek() !== 0x20) throw new ParseError('Expected a space.');
    this.pos++;
  }

  /** Consumes a space when one follows. */
  maybeSp(): boolean {
    if (this.peek() !== 0x20) return false;
    this.pos++;
    return true;
  }

  expect(char: string): void {
    if (this.peek() !== char.charCodeAt(0)) throw new ParseError(`Expected "${char}".`);
    this.pos++;
  }

  maybe(char: string): boolean {
    if (this.peek() !== char.charCodeAt(0)) return false;
    this.pos++;
    return true;
  }

  /** Reads ATOM-CHARs; `extra` allows more (']' for astrings, '%*' for list-mailbox). */
  private takeAtom(extra = ''): string {
    const start = this.pos;
    const line = this.line;
    while (this.pos < line.length) {
      const c = line[this.pos]!;
      if (isAtomChar(c) || (extra && extra.includes(String.fromCharCode(c)))) this.pos++;
      else break;
    }
    return line.toString('latin1', start, this.pos);
  }

  atom(): string {
    const atom = this.takeAtom();
    if (!atom) throw new ParseError('Expected an atom.');
    return atom;
  }

  /** A tag: ASTRING-CHAR except '+'. */
  tag(): string {
    const tag = this.takeAtom(']');
    if (!tag || tag.includes('+')) throw new ParseError('Invalid tag.');
    return tag;
  }

  /** Atom that may contain '.', '[' etc, used for fetch attributes and the like (upper-cased). */
  keyword(): string {
    return this.atom().toUpperCase();
  }

  /** Letters, digits, '.' and '-': FETCH attribute and section keywords (upper-cased). */
  word(): string {
    const start = this.pos;
    const line = this.line;
    while (this.pos < line.length) {
      const c = line[this.pos]!;
      if (
        (c >= 0x41 && c <= 0x5a) ||
        (c >= 0x61 && c <= 0x7a) ||
        (c >= 0x30 && c <= 0x39) ||
        c === 0x2e ||
        c === 0x2d
      )
        this.pos++;
      else break;
    }
    if (start === this.pos) throw new ParseError('Expected a keyword.');
    return line.toString('latin1', start, this.pos).toUpperCase();
  }

  number(): number {
    const start = this.pos;
    while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    if (start === this.pos) throw new ParseError('Expected a number.');
    const value = Number(this.line.toString('latin1', start, this.pos));
    if (value > MAX_NUMBER) throw new ParseError('Number out of range.');
    return value;
  }

  /** mod-sequence-value: up to 2^63-1; safe as a JS number up to 2^53. */
  number64(): number {
    const start = this.pos;
    while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    if (start === this.pos) throw new ParseError('Expected a number.');
    const value = Number(this.line.toString('latin1', start, this.pos));
    if (!Number.isSafeInteger(value)) throw new ParseError('Number out of range.');
    return value;
  }

  nzNumber(): number {
    const n = this.number();
    if (n === 0) throw new ParseError('Zero is not allowed here.');
    return n;
  }

  /** quoted / literal, as bytes. */
  stringBytes(): Buffer {
    if (this.peek() === 0x22) return this.quoted();
    if (this.peek() === 0x7b) return this.literal();
    throw new ParseError('Expected a string.');
  }

  private quoted(): Buffer {
    this.pos++;
    const line = this.line;
    const bytes: number[] = [];
    while (this.pos < line.length) {
      const c = line[this.pos++]!;
      if (c === 0x22) return Buffer.from(bytes);
      if (c === 0x5c) {
        const next = line[this.pos++];
        if (next !== 0x22 && next !== 0x5c)
          throw new ParseError('Invalid escape in a quoted string.');
        bytes.push(next);
      } else {
        bytes.push(c);
      }
    }
    throw new ParseError('Unterminated quoted string.');
  }

  private literal(): Buffer {
    const marker = /^\{(\d+)\+?\}$/.exec(this.line.toString('latin1', this.pos));
    if (!marker || this.lineIndex >= this.frame.literals.length)
      throw new ParseError('Invalid literal.');
    const data = this.frame.literals[this.lineIndex]!;
    this.lineIndex++;
    this.pos = 0;
    return data;
  }

  /** True when the next token is a literal (for APPEND, which must not copy it). */
  atLiteral(): boolean {
    return this.peek() === 0x7b;
  }

  string(): string {
    return this.stringBytes().toString('utf8');
  }

  astring(): string {
    if (this.peek() === 0x22 || this.peek() === 0x7b) return this.string();
    const atom = this.takeAtom(']');
    if (!atom) throw new ParseError('Expected an atom or string.');
    return atom;
  }

  nstring(): string | null {
    if (this.peekWord('NIL')) {
      this.pos += 3;
      return null;
    }
    return this.string();
  }

  /** Case-insensitive lookahead for a word followed by a non-atom character. */
  peekWord(word: string): boolean {
    const line = this.line;
    if (this.pos + word.length > line.length) return false;
    if (line.toString('latin1', this.pos, this.pos + word.length).toUpperCase() !== word)
      return false;
    const after = line[this.pos + word.length];
    return after === undefined || !isAtomChar(after);
  }

  /** Mailbox name: astring in modified UTF-7 (or UTF-8 from UTF-8 aware clients), INBOX normalised. */
  mailbox(): string {
    const raw = this.astring();
    return normaliseInbox(decodeMailboxName(raw));
  }

  /** list-mailbox: astring or 1*list-char (which allows % and *). */
  listMailbox(): string {
    if (this.peek() === 0x22 || this.peek() === 0x7b) return decodeMailboxName(this.string());
    const atom = this.takeAtom(']%*');
    if (!atom) throw new ParseError('Expected a mailbox pattern.');
    return decodeMailboxName(atom);
  }

  /** `( item *(SP item) )`, calling `item` for each; empty lists allowed when `allowEmpty`. */
  list(item: () => void, allowEmpty = true): void {
    this.expect('(');
    if (this.maybe(')')) {
      if (!allowEmpty) throw new ParseError('Empty list.');
      return;
    }
    for (;;) {
      item();
      if (this.maybe(')')) return;
      this.sp();
    }
  }

  /** flag-list: `(flag ...)`; returns flags with system flags in canonical case. */
  flagList(): string[] {
    const flags: string[] = [];
    this.list(() => flags.push(this.flag()));
    return flags;
  }

  flag(): string {
    if (this.maybe('\\')) {
      if (this.maybe('*')) return '\\*';
      const name = this.atom();
      const canonical = ['Seen', 'Answered', 'Flagged', 'Deleted', 'Draft', 'Recent'].find(
        (f) => f.toLowerCase() === name.toLowerCase(),
      );
      if (!canonical) throw new ParseError(`Unknown system flag \\${name}.`);
      return `\\${canonical}`;
    }
    return this.atom();
  }

  /**
   * sequence-set with `*` as 0; ranges normalised so start <= end unless one is `*`. `$`
   * (RFC 5182 seq-last-command) stands alone.
   */
  sequenceSet(): SequenceSet {
    if (this.maybe('$')) return { ranges: [], saved: true };
    const ranges: SeqRange[] = [];
    for (;;) {
      const a = this.seqNumber();
      let b = a;
      if (this.maybe(':')) b = this.seqNumber();
      ranges.push(a !== 0 && b !== 0 && b < a ? { start: b, end: a } : { start: a, end: b });
      if (!this.maybe(',')) break;
    }
    return { ranges };
  }

  private seqNumber(): number {
    if (this.maybe('*')) return 0;
    return this.nzNumber();
  }

  /** date: `d-Mon-yyyy`, optionally quoted; returns YYYY-MM-DD. */
  date(): string {
    const quoted = this.maybe('"');
    const text = this.takeAtom();
    if (quoted) this.expect('"');
    const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
    const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
    if (!m || month < 0 || Number(m[1]) < 1 || Number(m[1]) > 31)
      throw new ParseError('Invalid date.');
    return `${m[3]}-${String(month + 1).padStart(2, '0')}-${m[1]!.padStart(2, '0')}`;
  }

  /** date-time: `"dd-Mon-yyyy hh:mm:ss +zzzz"`. */
  dateTime(): Date {
    const text = this.quoted().toString('latin1');
    const m = /^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(
      text,
    );
    const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
    if (!m || month < 0) throw new ParseError('Invalid date-time.');
    const offset = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
    const utc = Date.UTC(
      Number(m[3]),
      month,
      Number(m[1]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6]),
    );
    const date = new Date(utc - offset * 60_000);
    if (Number.isNaN(date.getTime())) throw new ParseError('Invalid date-time.');
    return date;
  }

  /** The rest of the current line as text (for IDLE's DONE and SASL responses). */
  rest(): string {
    const text = this.line.toString('latin1', this.pos);
    this.pos = this.line.length;
    return text;
  }
}

export function normaliseInbox(name: string): string {
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  if (name.toUpperCase().startsWith('INBOX/')) return 'INBOX' + name.slice(5);
  return name;
}
