/**
 * Content-Transfer-Encoding (RFC 2045 section 6): decoding what arrives, and making a part
 * 7-bit safe before it is signed, because a relay that converts 8-bit text on the way
 * (RFC 3156 section 3) or strips trailing spaces would break the signature.
 *
 * Making a message safe streams, in two passes over the same input: whether a leaf must be
 * re-encoded is known only at its end, so the first pass ({@link planSevenBitSafe}) decides
 * and the second ({@link sevenBitSafe}) re-encodes on the fly. Neither holds more than a
 * line (and a header section) of the message.
 */
import { fail, ok, type CryptoError, type Result } from './errors.js';
import {
  contentType,
  createCRLFNormaliser,
  headerValue,
  parseHeaders,
  serializeHeaders,
  type HeaderField,
} from './mime.js';

export const MAX_DEPTH = 32;
/** A header section larger than this is not a mail header but a broken or hostile input. */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** A line longer than this is passed on in pieces instead of being collected first. */
const LONG_LINE = 64 * 1024;

const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n');

/** A streaming transfer coder: what comes out for each piece that goes in, then the rest. */
interface Coder {
  push(chunk: Buffer): Buffer;
  end(): Buffer;
}

export function decodeTransfer(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64':
      // Node skips characters outside the alphabet, which is what a tolerant reader wants.
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable': {
      const decoder = createQuotedPrintableDecoder();
      return Buffer.concat([decoder.push(body), decoder.end()]);
    }
    default:
      return body;
  }
}

const isHex = (b: number | undefined) =>
  b !== undefined &&
  ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));

/** Quoted-printable, read tolerantly: an "=" that starts no escape stays an "=". */
function createQuotedPrintableDecoder(): Coder {
  let carry = EMPTY;
  const run = (input: Buffer, final: boolean): Buffer => {
    const data = carry.length > 0 ? Buffer.concat([carry, input]) : input;
    carry = EMPTY;
    const out = Buffer.allocUnsafe(data.length);
    let o = 0;
    for (let i = 0; i < data.length; i++) {
      const b = data[i] as number;
      if (b !== 0x3d) {
        out[o++] = b;
        continue;
      }
      const next = data[i + 1];
      const after = data[i + 2];
      // An escape is up to two more bytes: wait for them unless the input has ended.
      if (!final && (next === undefined || (next !== 0x0a && after === undefined))) {
        carry = Buffer.from(data.subarray(i));
        break;
      }
      if (isHex(next) && isHex(after)) {
        out[o++] = parseInt(String.fromCharCode(next as number, after as number), 16);
        i += 2;
      } else if (next === 0x0a) {
        i += 1;
      } else if (next === 0x0d && after === 0x0a) {
        i += 2;
      } else {
        out[o++] = b;
      }
    }
    return out.subarray(0, o);
  };
  return { push: (chunk) => run(chunk, false), end: () => run(EMPTY, true) };
}

function hex(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

/**
 * Quoted-printable for text (RFC 2045 section 6.7): line breaks stay line breaks, lines are
 * soft-broken at 76 characters, and what relays damage is escaped: trailing white space,
 * "From " at the start of a line (mbox writers) and a lone "." (SMTP).
 */
function createQuotedPrintableEncoder(): Coder {
  const normalise = createCRLFNormaliser();
  let column = 0;
  let position = 0;
  // A space or tab is escaped only at the end of a line, and a CR is a line break only
  // before an LF: both wait for the next byte.
  let space: number | null = null;
  let cr = false;
  const run = (data: Buffer, final: boolean): Buffer => {
    let out = '';
    const token = (t: string) => {
      if (column + t.length > 75) {
        out += '=\r\n';
        column = 0;
      }
      out += t;
      column += t.length;
    };
    const byte = (b: number, last: boolean) => {
      const printable = b >= 33 && b <= 126 && b !== 0x3d;
      const innerSpace = (b === 0x20 || b === 0x09) && !last;
      const riskyStart = position === 0 && (b === 0x46 || b === 0x2e);
      token((printable || innerSpace) && !riskyStart ? String.fromCharCode(b) : '=' + hex(b));
      position++;
    };
    // The CR is data, not a line break: the space before it was not the line's last byte.
    const release = (spaceIsLast: boolean) => {
      if (space !== null) byte(space, spaceIsLast);
      space = null;
      if (cr) byte(0x0d, true);
      cr = false;
    };
    for (let i = 0; i < data.length; i++) {
      const b = data[i] as number;
      if (cr) {
        if (b === 0x0a) {
          if (space !== null) byte(space, true);
          space = null;
          cr = false;
          out += '\r\n';
          column = 0;
          position = 0;
          continue;
        }
        release(false);
      }
      if (b === 0x0d) {
        cr = true;
      } else if (b === 0x20 || b === 0x09) {
        if (space !== null) byte(space, false);
        space = b;
      } else {
        if (space !== null) byte(space, false);
        space = null;
        byte(b, false);
      }
    }
    if (final) release(!cr);
    return Buffer.from(out, 'latin1');
  };
  return {
    push: (chunk) => run(normalise(chunk), false),
    end: () => run(EMPTY, true),
  };
}

/** Base64 in lines of 76 characters (57 bytes each), CRLF between them. */
function createBase64LineEncoder(): Coder {
  let carry = EMPTY;
  let first = true;
  const lines = (data: Buffer): Buffer => {
    if (data.length === 0) return EMPTY;
    const text = data.toString('base64');
    const parts: string[] = [];
    for (let i = 0; i < text.length; i += 76) parts.push(text.slice(i, i + 76));
    const joined = (first ? '' : '\r\n') + parts.join('\r\n');
    first = false;
    return Buffer.from(joined, 'latin1');
  };
  return {
    push(chunk) {
      const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const whole = data.length - (data.length % 57);
      carry = Buffer.from(data.subarray(whole));
      return lines(data.subarray(0, whole));
    },
    end() {
      const rest = carry;
      carry = EMPTY;
      return lines(rest);
    },
  };
}

/** How a leaf is re-encoded; null: it passes as it is. */
export type LeafEncoding = 'quoted-printable' | 'base64' | null;

/** What the first pass found out: for each leaf, in document order, its encoding. */
export interface SevenBitPlan {
  leaves: LeafEncoding[];
}

/** Does a leaf pass unchanged through any RFC 5321 relay and mailbox? Checked line by line. */
interface SafetyCheck {
  safe: boolean;
  text: boolean;
  length: number;
  start: string;
  last: number;
}

interface Leaf {
  kind: 'leaf';
  /** The line break after the last line: part of the body unless a delimiter follows. */
  pendingBreak: boolean;
  /** First pass: the check, or null for a base64 leaf, which stays as it is. */
  check: SafetyCheck | null;
  index: number;
  /** Second pass: the re-encoding, or null to copy. */
  coder: Coder | null;
}

interface Multipart {
  kind: 'multipart';
  mime: string;
  boundary: string;
  /** "--" + boundary. */
  delimiter: Buffer;
  state: 'preamble' | 'parts' | 'epilogue';
  seen: boolean;
}

interface Frame {
  depth: number;
  /** The header section's lines while it is read; null once the body began. */
  header: Buffer[] | null;
  headerSize: number;
  body: Leaf | Multipart | { kind: 'message' } | null;
}

/**
 * One pass over an entity (RFC 2045/2046), line by line: header sections are parsed,
 * multipart bodies split at their delimiters (an outer delimiter ends every part inside),
 * and each leaf's body either checked (first pass, `plan` null) or written out as the plan
 * says (second pass). The output has CRLF throughout; preambles and epilogues are dropped.
 */
class SevenBitWalker {
  error: CryptoError | null = null;
  readonly leaves: LeafEncoding[] = [];
  private out: Buffer[] = [];
  private readonly stack: Frame[] = [];
  private readonly normalise = createCRLFNormaliser();
  /** The current line's bytes not yet handed on (it ends with the CR of a CRLF if split). */
  private line: Buffer[] = [];
  private lineSize = 0;
  /** The current line is long and goes on in pieces; its start was handed on. */
  private streaming = false;
  private leafCount = 0;

  constructor(private readonly plan: SevenBitPlan | null) {
    this.stack.push({ depth: 0, header: [], headerSize: 0, body: null });
  }

  /** What the second pass produced since the last call. */
  take(): Buffer {
    const out = this.out.length === 1 ? (this.out[0] as Buffer) : Buffer.concat(this.out);
    this.out = [];
    return out;
  }

  push(chunk: Uint8Array): void {
    const data = this.normalise(chunk);
    let start = 0;
    while (!this.error && start < data.length) {
      const lf = data.indexOf(0x0a, start);
      if (lf === -1) {
        this.partial(data.subarray(start));
        return;
      }
      const piece = data.subarray(start, lf);
      const whole = this.lineSize > 0 ? Buffer.concat([...this.line, piece]) : piece;
      this.line = [];
      this.lineSize = 0;
      // The normaliser put a CR before every LF.
      const content = whole.subarray(0, whole.length - 1);
      if (this.streaming) {
        this.streaming = false;
        this.piece(content, false, true);
      } else {
        this.completeLine(content, true);
      }
      start = lf + 1;
    }
  }

  end(): void {
    if (this.error) return;
    const rest = Buffer.concat(this.line);
    this.line = [];
    this.lineSize = 0;
    if (this.streaming) this.piece(rest, false, false);
    else if (rest.length > 0) this.completeLine(rest, false);
    while (!this.error && this.stack.length > 0) this.finishTop(true);
  }

  private emit(...parts: Buffer[]): void {
    if (this.plan) this.out.push(...parts);
  }

  private stop(error: Result<never>): void {
    if (!error.ok && !this.error) this.error = error.error;
  }

  private get top(): Frame {
    return this.stack[this.stack.length - 1] as Frame;
  }

  private partial(rest: Buffer): void {
    this.line.push(rest);
    this.lineSize += rest.length;
    const frame = this.top;
    if (frame.header) {
      if (frame.headerSize + this.lineSize > MAX_HEADER_BYTES) {
        this.stop(
          fail('malformed_message', 'A part of the message has no end to its header section.'),
        );
      }
      return;
    }
    if (!this.streaming && (this.lineSize <= LONG_LINE || this.mayBeDelimiter())) return;
    // Hand on all but a final CR, which may be half of a line break.
    const all = Buffer.concat(this.line);
    const keep = all[all.length - 1] === 0x0d ? 1 : 0;
    this.line = keep ? [all.subarray(all.length - 1)] : [];
    this.lineSize = keep;
    const first = !this.streaming;
    this.streaming = true;
    this.piece(all.subarray(0, all.length - keep), first, false);
  }

  /** Could the line collected so far still turn out to be a delimiter line? */
  private mayBeDelimiter(): boolean {
    const start = Buffer.concat(this.line);
    return this.delimiterIn(start, true) !== null;
  }

  /**
   * The outermost multipart whose delimiter this line is (RFC 2046 section 5.1.1: the
   * boundary, "--" if it closes, then only transport padding). With `prefix`, the line may
   * go on.
   */
  private delimiterIn(content: Buffer, prefix = false): { index: number; closing: boolean } | null {
    if (content[0] !== 0x2d || content[1] !== 0x2d) return null;
    for (let index = 0; index < this.stack.length; index++) {
      const body = this.stack[index]?.body;
      if (body?.kind !== 'multipart' || body.state === 'epilogue') continue;
      const d = body.delimiter;
      if (content.length < d.length || !content.subarray(0, d.length).equals(d)) continue;
      const closing = content[d.length] === 0x2d && content[d.length + 1] === 0x2d;
      const rest = content.subarray(d.length + (closing ? 2 : 0)).toString('latin1');
      if (/^[ \t]*\r?$/.test(rest) || (prefix && /^[ \t]*$/.test(rest))) {
        return { index, closing };
      }
    }
    return null;
  }

  private completeLine(content: Buffer, ended: boolean): void {
    const delimiter = this.delimiterIn(content);
    if (delimiter) {
      this.delimiter(delimiter.index, delimiter.closing);
      return;
    }
    const frame = this.top;
    if (frame.header) {
      if (content.length === 0 && ended) {
        this.startBody(frame);
        return;
      }
      frame.header.push(content);
      frame.headerSize += content.length + 2;
      if (frame.headerSize > MAX_HEADER_BYTES) {
        this.stop(
          fail('malformed_message', 'A part of the message has no end to its header section.'),
        );
      }
      return;
    }
    this.piece(content, true, ended);
  }

  /** A line or a piece of one for the innermost entity's body. */
  private piece(bytes: Buffer, starts: boolean, ends: boolean): void {
    const body = this.top.body;
    if (body?.kind !== 'leaf') return; // a preamble or an epilogue
    if (body.check) checkLine(body.check, bytes, starts, ends);
    if (this.plan) {
      if (body.pendingBreak) this.write(body, CRLF);
      if (bytes.length > 0) this.write(body, bytes);
    }
    body.pendingBreak = ends;
  }

  private write(leaf: Leaf, bytes: Buffer): void {
    this.out.push(leaf.coder ? leaf.coder.push(bytes) : bytes);
  }

  private delimiter(index: number, closing: boolean): void {
    while (!this.error && this.stack.length > index + 1) this.finishTop(false);
    if (this.error) return;
    const frame = this.stack[index] as Frame;
    const multipart = frame.body as Multipart;
    multipart.seen = true;
    if (closing) {
      multipart.state = 'epilogue';
      return;
    }
    multipart.state = 'parts';
    this.emit(Buffer.from(`--${multipart.boundary}\r\n`, 'latin1'));
    this.open(frame.depth + 1);
  }

  private open(depth: number): void {
    if (depth > MAX_DEPTH) {
      this.stop(fail('too_deep', 'The message nests its parts too deeply.'));
      return;
    }
    this.stack.push({ depth, header: [], headerSize: 0, body: null });
  }

  private startBody(frame: Frame): void {
    const lines = frame.header ?? [];
    frame.header = null;
    const headers = parseHeaders(
      Buffer.concat(lines.flatMap((line, i) => (i === 0 ? [line] : [CRLF, line]))),
    );
    const type = contentType(headers);
    if (type.mime.startsWith('multipart/')) {
      const boundary = type.params.boundary;
      if (!boundary) {
        this.stop(fail('malformed_message', `A ${type.mime} part has no usable boundary.`));
        return;
      }
      this.emit(serializeHeaders(headers), CRLF);
      frame.body = {
        kind: 'multipart',
        mime: type.mime,
        boundary,
        delimiter: Buffer.from(`--${boundary}`, 'latin1'),
        state: 'preamble',
        seen: false,
      };
      return;
    }
    if (type.mime === 'message/rfc822') {
      // RFC 2046 section 5.2.1 forbids encoding a message/rfc822 body; make its insides safe.
      this.emit(serializeHeaders(headers), CRLF);
      frame.body = { kind: 'message' };
      this.open(frame.depth + 1);
      return;
    }
    const text = type.mime.startsWith('text/');
    const encoding = headerValue(headers, 'content-transfer-encoding');
    const index = this.leafCount++;
    const leaf: Leaf = { kind: 'leaf', pendingBreak: false, check: null, index, coder: null };
    frame.body = leaf;
    if (!this.plan) {
      this.leaves.push(null);
      if (encoding?.trim().toLowerCase() !== 'base64') {
        leaf.check = { safe: true, text, length: 0, start: '', last: -1 };
      }
      return;
    }
    const reencode = this.plan.leaves[index] ?? null;
    if (!reencode) {
      this.emit(serializeHeaders(headers), CRLF);
      return;
    }
    const kept: (HeaderField | string)[] = headers.filter(
      (h) => h.key !== 'content-transfer-encoding',
    );
    kept.push(`Content-Transfer-Encoding: ${reencode}`);
    this.emit(serializeHeaders(kept), CRLF);
    const decoder =
      encoding?.trim().toLowerCase() === 'quoted-printable' ? createQuotedPrintableDecoder() : null;
    const encoder =
      reencode === 'quoted-printable' ? createQuotedPrintableEncoder() : createBase64LineEncoder();
    leaf.coder = decoder
      ? {
          push: (chunk) => encoder.push(decoder.push(chunk)),
          end: () => Buffer.concat([encoder.push(decoder.end()), encoder.end()]),
        }
      : encoder;
  }

  /**
   * Ends the innermost entity: cut off by a delimiter of an outer multipart (the line break
   * before it belongs to the delimiter) or by the end of the input (then it is kept).
   */
  private finishTop(atEnd: boolean): void {
    const frame = this.top;
    if (frame.header) {
      this.startBody(frame);
      if (this.error || this.top !== frame) return;
    }
    const body = frame.body;
    if (body?.kind === 'leaf') {
      if (atEnd && body.pendingBreak) this.piece(EMPTY, true, false);
      if (body.check) {
        endLine(body.check);
        if (!body.check.safe)
          this.leaves[body.index] = body.check.text ? 'quoted-printable' : 'base64';
      }
      if (body.coder) this.out.push(body.coder.end());
    } else if (body?.kind === 'multipart') {
      if (!body.seen) {
        this.stop(fail('malformed_message', `A ${body.mime} part has no usable boundary.`));
        return;
      }
      this.emit(Buffer.from(`--${body.boundary}--\r\n`, 'latin1'));
    }
    this.stack.pop();
    if (this.top?.body?.kind === 'multipart') this.emit(CRLF);
  }
}

function checkLine(check: SafetyCheck, bytes: Buffer, starts: boolean, ends: boolean): void {
  if (!check.safe) return;
  if (starts) {
    check.length = 0;
    check.start = '';
    check.last = -1;
  }
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0 || b > 127) {
      check.safe = false;
      return;
    }
  }
  check.length += bytes.length;
  if (check.start.length < 5) check.start += bytes.toString('latin1', 0, 5 - check.start.length);
  if (bytes.length > 0) check.last = bytes[bytes.length - 1] as number;
  if (ends) endLine(check);
}

function endLine(check: SafetyCheck): void {
  if (check.length > 998) check.safe = false;
  if (check.text && (check.last === 0x20 || check.last === 0x09 || check.start === 'From ')) {
    check.safe = false;
  }
}

/** First pass: which leaves of the entity must be re-encoded to be 7-bit safe. */
export async function planSevenBitSafe(
  source: AsyncIterable<Uint8Array>,
): Promise<Result<SevenBitPlan>> {
  const walker = new SevenBitWalker(null);
  for await (const chunk of source) {
    walker.push(chunk);
    if (walker.error) break;
  }
  walker.end();
  if (walker.error) return { ok: false, error: walker.error };
  return ok({ leaves: walker.leaves });
}

/**
 * Second pass: the same input with every leaf 7-bit safe as the plan says (quoted-printable
 * for text, base64 for the rest), CRLF throughout, ready to be signed.
 */
export async function* sevenBitSafe(
  source: AsyncIterable<Uint8Array>,
  plan: SevenBitPlan,
): AsyncGenerator<Buffer> {
  const walker = new SevenBitWalker(plan);
  for await (const chunk of source) {
    walker.push(chunk);
    if (walker.error) throw new Error(walker.error.message);
    const out = walker.take();
    if (out.length > 0) yield out;
  }
  walker.end();
  if (walker.error) throw new Error(walker.error.message);
  const out = walker.take();
  if (out.length > 0) yield out;
}
