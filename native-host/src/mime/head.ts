/**
 * The header section of a message or body part (RFC 5322 section 2.2, RFC 2045): the one
 * place where the host finds where a header ends, splits it into fields, and rewrites it.
 *
 * Bytes stay bytes. A field keeps its raw form (folding and line break included), so the
 * fields of any input concatenate back to that input exactly; its value is Latin-1 text,
 * so every byte maps to one character and back.
 *
 * A line ends at CRLF, at LF, or at a bare CR. Thunderbird's parser ends lines the same way,
 * so a sender cannot hide a field from this layer behind a bare CR that Thunderbird would
 * see as a line of its own (a smuggled `X-Leap-Signature`, a `Bcc` that escapes removal).
 * Rewritten headers always come out with CRLF line ends, so what follows sees one form.
 */
import addressparser from 'nodemailer/lib/addressparser';
import { decodeHeaderBytes } from './header.js';

/** A header section larger than this is not a mail header but a broken or hostile input. */
export const MAX_HEADER_BYTES = 1024 * 1024;

export interface HeaderField {
  /** The name as written (surrounding white space removed); empty for a line that is no field. */
  name: string;
  /** The name in lower case, for comparisons; empty for a line that is no field. */
  key: string;
  /** The value unfolded (line breaks removed, folding white space kept) and trimmed, as Latin-1. */
  value: string;
  /** The field exactly as it came: folding and its final line break included. */
  raw: Buffer;
}

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
const EMPTY: Buffer = Buffer.alloc(0);
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
/** Bytes of a line looked at to find its field name; a name longer than this is no name. */
const NAME_WINDOW = 4096;

const isFoldingSpace = (b: number | undefined) => b === 0x20 || b === 0x09;

/** RFC 5322 section 2.2: a name is printable US-ASCII except the colon. */
export function isFieldName(name: string): boolean {
  return FIELD_NAME.test(name);
}

/**
 * The line break at or after `from`: where it starts and where the next line starts. With
 * `complete` false a CR at the very end is not yet a decision (its LF may follow), and
 * neither is a missing line break: both give null.
 */
function lineBreak(
  buf: Uint8Array,
  from: number,
  complete: boolean,
): { at: number; next: number } | null {
  for (let i = from; i < buf.length; i++) {
    const b = buf[i];
    if (b === LF) return { at: i, next: i + 1 };
    if (b === CR) {
      if (i + 1 < buf.length) return { at: i, next: buf[i + 1] === LF ? i + 2 : i + 1 };
      return complete ? { at: i, next: i + 1 } : null;
    }
  }
  return null;
}

/** The length of the line break at `at` (0 when there is none there, null when undecided). */
function breakAt(buf: Uint8Array, at: number, complete: boolean): number | null {
  const b = buf[at];
  if (b === LF) return 1;
  if (b !== CR) return 0;
  if (at + 1 < buf.length) return buf[at + 1] === LF ? 2 : 1;
  return complete ? 1 : null;
}

/**
 * Where the header section ends: `headerLength` covers every field with its line break,
 * `bodyStart` is past the empty line. A part that starts with an empty line has no header
 * fields (RFC 2046 section 5.1.1). Null when no empty line was found (with `complete`
 * false: not yet).
 */
export function findHeaderEnd(
  buf: Uint8Array,
  complete = true,
): { headerLength: number; bodyStart: number } | null {
  let lineStart = 0;
  for (;;) {
    const empty = breakAt(buf, lineStart, complete);
    if (empty === null) return null;
    if (empty > 0) return { headerLength: lineStart, bodyStart: lineStart + empty };
    const end = lineBreak(buf, lineStart, complete);
    if (!end || end.next >= buf.length) return null;
    lineStart = end.next;
  }
}

/** One field (or one line that is no field) from its raw bytes. */
function fieldOf(raw: Buffer): HeaderField {
  const text = raw.toString('latin1');
  const colon = text.indexOf(':');
  const firstBreak = text.search(/[\r\n]/);
  // The name is on the first line; folding with nothing before it, or a name too long to be
  // one, makes no field.
  const named =
    colon > 0 &&
    colon < NAME_WINDOW &&
    (firstBreak === -1 || colon < firstBreak) &&
    !isFoldingSpace(raw[0]);
  const name = named ? text.slice(0, colon).trim() : '';
  if (!isFieldName(name)) return { name: '', key: '', value: text.trim(), raw };
  const value = text
    .slice(colon + 1)
    .replace(/\r\n|\r|\n/g, '')
    .trim();
  return { name, key: name.toLowerCase(), value, raw };
}

/**
 * Splits a header section into fields. Every byte belongs to exactly one entry: lines that
 * are no field (no colon, a bad name, folding with nothing to fold onto, an empty line) come
 * out with an empty `key`, so nothing matches them and {@link serialiseFields} drops them.
 */
export function parseHeader(block: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let fieldStart = 0;
  let lineStart = 0;
  while (lineStart < block.length) {
    const end = lineBreak(block, lineStart, true);
    const next = end ? end.next : block.length;
    const folded = isFoldingSpace(block[lineStart]);
    if (!folded && lineStart > fieldStart) {
      fields.push(fieldOf(block.subarray(fieldStart, lineStart)));
      fieldStart = lineStart;
    }
    // An empty line is never folded onto: it stands alone.
    if (end && end.at === lineStart) {
      fields.push(fieldOf(block.subarray(fieldStart, next)));
      fieldStart = next;
    }
    lineStart = next;
  }
  if (fieldStart < block.length) fields.push(fieldOf(block.subarray(fieldStart)));
  return fields;
}

export interface SplitMessage {
  /** The header section, without the empty line that ends it. */
  header: Buffer;
  fields: HeaderField[];
  /** Everything after the empty line. */
  body: Buffer;
}

/** A message (or body part) as header fields and body; without an empty line it is all header. */
export function splitMessage(raw: Buffer): SplitMessage {
  const end = findHeaderEnd(raw);
  const header = end ? raw.subarray(0, end.headerLength) : raw;
  return {
    header,
    fields: parseHeader(header),
    body: end ? raw.subarray(end.bodyStart) : EMPTY,
  };
}

/** The first value of a field, by name in any case. */
export function fieldValue(fields: readonly HeaderField[], name: string): string | null {
  const key = name.toLowerCase();
  for (const f of fields) if (f.key === key) return f.value;
  return null;
}

/** Every value of a field, in order. */
export function fieldValues(fields: readonly HeaderField[], name: string): string[] {
  const key = name.toLowerCase();
  return fields.filter((f) => f.key === key).map((f) => f.value);
}

/** The e-mail addresses (lower case) in address-list values such as To and Cc; groups flattened. */
export function addressesIn(values: readonly (string | null | undefined)[]): string[] {
  return values
    .filter((v): v is string => !!v)
    .flatMap((v) => addressparser(v, { flatten: true }))
    .map((a) => a.address.toLowerCase())
    .filter((a) => a.includes('@'));
}

/** A field's value as text for people (UTF-8 when its bytes are UTF-8). */
export function fieldText(value: string): string {
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(value) ? decodeHeaderBytes(Buffer.from(value, 'latin1')) : value;
}

/** The field with every line break inside it and at its end made CRLF. */
function canonical(field: HeaderField): Buffer {
  const raw = field.raw;
  let plain = true;
  for (let i = 0; i < raw.length && plain; i++) {
    if (raw[i] === LF) plain = i > 0 && raw[i - 1] === CR;
    else if (raw[i] === CR) plain = raw[i + 1] === LF;
  }
  const ended = raw.length > 0 && (raw[raw.length - 1] === LF || raw[raw.length - 1] === CR);
  if (plain && ended) return raw;
  const text = raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  return Buffer.from(ended ? text : text + '\r\n', 'latin1');
}

/**
 * Header fields as bytes: fields with CRLF line ends, strings (a whole field such as
 * `Subject: ...`, Latin-1) with a CRLF added. Lines that are no field are left out.
 */
export function serialiseFields(fields: readonly (HeaderField | string)[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    if (typeof field === 'string') parts.push(Buffer.from(field, 'latin1'), CRLF);
    else if (field.key !== '') parts.push(canonical(field));
  }
  return Buffer.concat(parts);
}

/** A whole entity: header fields, the empty line, the body. */
export function buildEntity(fields: readonly (HeaderField | string)[], body: Buffer): Buffer {
  return Buffer.concat([serialiseFields(fields), CRLF, body]);
}

export interface Head {
  /** The header section, without the empty line that ends it. */
  header: Buffer;
  fields: HeaderField[];
  /** The empty line as it came (empty when the message ended inside its header). */
  separator: Buffer;
  /** The body bytes read together with the header. */
  bodyStart: Buffer;
  /** The rest of the message. */
  rest: AsyncIterator<Uint8Array>;
}

/**
 * Reads the header section off the front of a stream; the body streams on untouched. Null
 * when the header does not end within `limit` bytes.
 */
export async function readHead(
  source: AsyncIterable<Uint8Array> | AsyncIterator<Uint8Array>,
  limit = MAX_HEADER_BYTES,
): Promise<Head | null> {
  const rest =
    Symbol.asyncIterator in source
      ? (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
      : (source as AsyncIterator<Uint8Array>);
  let buffered = EMPTY;
  for (;;) {
    const end = findHeaderEnd(buffered, false);
    if (end) return headOf(buffered, end, rest);
    if (buffered.length > limit) return null;
    const next = await rest.next();
    if (next.done) {
      const last = findHeaderEnd(buffered, true);
      if (last) return headOf(buffered, last, rest);
      return {
        header: buffered,
        fields: parseHeader(buffered),
        separator: EMPTY,
        bodyStart: EMPTY,
        rest,
      };
    }
    buffered =
      buffered.length === 0 ? Buffer.from(next.value) : Buffer.concat([buffered, next.value]);
  }
}

function headOf(
  buffered: Buffer,
  end: { headerLength: number; bodyStart: number },
  rest: AsyncIterator<Uint8Array>,
): Head {
  const header = buffered.subarray(0, end.headerLength);
  return {
    header,
    fields: parseHeader(header),
    separator: buffered.subarray(end.headerLength, end.bodyStart),
    bodyStart: buffered.subarray(end.bodyStart),
    rest,
  };
}

export interface HeaderRewrite {
  /** Fields to leave out, by lower-case name. */
  drop?: (key: string) => boolean;
  /** Whole fields (`Name: value`) put first. */
  prepend?: readonly string[];
}

/**
 * Rewrites a header section fed to it in pieces: fields `drop` selects removed (with their
 * folded lines), `prepend` put first, lines that are no field removed, every line break of
 * the header made CRLF. The body passes through untouched. Memory stays bounded whatever
 * the input: a line is looked at only as far as its name.
 */
class HeaderRewriter {
  private inHeader = true;
  private atLineStart = true;
  /** Whether the current line (and the field it belongs to) is kept. */
  private keepLine = false;
  private keepField = false;
  private carry: Buffer = EMPTY;
  private started = false;

  constructor(private readonly rewrite: HeaderRewrite) {}

  push(chunk: Uint8Array): Buffer[] {
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const out = this.opening();
    if (!this.inHeader) {
      out.push(data);
      return out;
    }
    return [
      ...out,
      ...this.step(this.carry.length > 0 ? Buffer.concat([this.carry, data]) : data, false),
    ];
  }

  end(): Buffer[] {
    const out = this.opening();
    if (!this.inHeader) return out;
    out.push(...this.step(this.carry, true));
    // A message that ends inside its header: its last line still ends with a line break.
    if (this.inHeader && !this.atLineStart && this.keepLine) out.push(CRLF);
    return out;
  }

  private opening(): Buffer[] {
    if (this.started) return [];
    this.started = true;
    return this.rewrite.prepend?.length ? [serialiseFields(this.rewrite.prepend)] : [];
  }

  private step(buf: Buffer, complete: boolean): Buffer[] {
    const out: Buffer[] = [];
    let pos = 0;
    while (this.inHeader && pos < buf.length) {
      if (this.atLineStart) {
        const empty = breakAt(buf, pos, complete);
        if (empty === null) break;
        if (empty > 0) {
          out.push(CRLF);
          pos += empty;
          this.inHeader = false;
          break;
        }
        if (isFoldingSpace(buf[pos])) {
          this.keepLine = this.keepField;
        } else {
          const decided = this.decideLine(buf, pos, complete);
          if (decided === null) break;
          this.keepField = this.keepLine = decided;
        }
        this.atLineStart = false;
      }
      const end = lineBreak(buf, pos, complete);
      if (!end) {
        // Keep back a final CR: it may be the first half of a CRLF.
        const stop = !complete && buf[buf.length - 1] === CR ? buf.length - 1 : buf.length;
        if (this.keepLine && stop > pos) out.push(buf.subarray(pos, stop));
        pos = stop;
        break;
      }
      if (this.keepLine) out.push(buf.subarray(pos, end.at), CRLF);
      pos = end.next;
      this.atLineStart = true;
    }
    this.carry = buf.subarray(pos);
    if (!this.inHeader && this.carry.length > 0) {
      out.push(this.carry);
      this.carry = EMPTY;
    }
    return out;
  }

  /** Whether the line at `pos` (not folded) is a field to keep; null until its name is seen. */
  private decideLine(buf: Buffer, pos: number, complete: boolean): boolean | null {
    const window = Math.min(buf.length, pos + NAME_WINDOW);
    for (let i = pos; i < window; i++) {
      const b = buf[i];
      if (b === CR || b === LF) return false;
      if (b === 0x3a) {
        const name = buf.subarray(pos, i).toString('latin1').trim();
        return isFieldName(name) && !(this.rewrite.drop?.(name.toLowerCase()) ?? false);
      }
    }
    if (window - pos >= NAME_WINDOW || complete) return false;
    return null;
  }
}

/** The message with its header rewritten (see {@link HeaderRewriter}), as a stream. */
export async function* rewriteHeaderStream(
  source: AsyncIterable<Uint8Array> | Uint8Array,
  rewrite: HeaderRewrite,
): AsyncGenerator<Buffer> {
  const rewriter = new HeaderRewriter(rewrite);
  for await (const chunk of source instanceof Uint8Array ? [source] : source) {
    yield* rewriter.push(chunk);
  }
  yield* rewriter.end();
}

/** The same over a message in memory. */
export function rewriteHeader(raw: Uint8Array, rewrite: HeaderRewrite): Buffer {
  const rewriter = new HeaderRewriter(rewrite);
  return Buffer.concat([...rewriter.push(raw), ...rewriter.end()]);
}
