/**
 * The little MIME this module needs, on bytes: RFC 3156 verification depends on the exact
 * bytes of the signed part, so nothing here decodes and re-encodes what it does not have
 * to. Header text is handled as Latin-1 so that 8-bit bytes survive a round trip untouched.
 */

import {
  addressesIn,
  buildEntity,
  fieldValue,
  findHeaderEnd,
  parseHeader,
  serialiseFields,
  splitMessage,
  type HeaderField,
} from '../mime/index.js';

const CRLF = Buffer.from('\r\n');
const LF = Buffer.from('\n');

export type { HeaderField };

export interface Entity {
  /** The header fields (lines that are no field left out). */
  headers: HeaderField[];
  /** Everything after the blank line that ends the header section. */
  body: Buffer;
}

export interface ContentType {
  /** Lower-case "type/subtype". */
  mime: string;
  /** Parameters with lower-case names. */
  params: Record<string, string>;
}

/** Splits a message or a body part into its header fields and its body (see mime/head.ts). */
export function parseEntity(raw: Buffer): Entity {
  const { fields, body } = splitMessage(raw);
  return { headers: fields.filter((f) => f.key !== ''), body };
}

export function parseHeaders(block: Buffer): HeaderField[] {
  return parseHeader(block).filter((f) => f.key !== '');
}

export function headerValue(headers: readonly HeaderField[], name: string): string | undefined {
  return fieldValue(headers, name) ?? undefined;
}

export {
  addressesIn,
  buildEntity,
  findHeaderEnd as headerEnd,
  serialiseFields as serializeHeaders,
};

/** RFC 2045 Content-Type; a missing or unreadable one means text/plain (RFC 2045 section 5.2). */
export function contentType(headers: HeaderField[]): ContentType {
  const value = headerValue(headers, 'content-type');
  const parsed = value === undefined ? null : parseContentType(value);
  return parsed ?? { mime: 'text/plain', params: { charset: 'us-ascii' } };
}

export function parseContentType(value: string): ContentType | null {
  const segments = splitParams(value);
  const mime = (segments.shift() ?? '').trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(mime)) return null;
  const params: Record<string, string> = {};
  for (const segment of segments) {
    const eq = segment.indexOf('=');
    if (eq <= 0) continue;
    const name = segment.slice(0, eq).trim().toLowerCase();
    let val = segment.slice(eq + 1).trim();
    if (val.startsWith('"') && val.endsWith('"') && val.length >= 2) {
      val = val.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    params[name] = val;
  }
  return { mime, params };
}

/** Splits on semicolons outside quoted strings and comments. */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  let comment = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quoted) {
      current += c;
      if (c === '\\' && i + 1 < value.length) current += value[++i];
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
      current += c;
    } else if (c === '(') {
      comment++;
    } else if (c === ')' && comment > 0) {
      comment--;
    } else if (comment > 0) {
      continue;
    } else if (c === ';') {
      out.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current);
  return out;
}

/**
 * The body parts of a multipart body (RFC 2046 section 5.1.1), byte for byte: the line
 * break before each delimiter belongs to the delimiter, not to the part. Null when the
 * boundary never occurs, so the caller can treat the body as broken instead of empty.
 */
export function splitMultipart(body: Buffer, boundary: string): Buffer[] | null {
  const delimiter = Buffer.from('--' + boundary, 'latin1');
  const parts: Buffer[] = [];
  let partStart = -1;
  let search = 0;
  while (search <= body.length) {
    const at = body.indexOf(delimiter, search);
    if (at === -1) break;
    const atLineStart = at === 0 || body[at - 1] === 0x0a;
    if (!atLineStart) {
      search = at + 1;
      continue;
    }
    const after = at + delimiter.length;
    const closing = body[after] === 0x2d && body[after + 1] === 0x2d;
    const lineEnd = body.indexOf(0x0a, after);
    // The delimiter line may carry only transport padding (spaces) after the boundary.
    const rest = body.subarray(closing ? after + 2 : after, lineEnd === -1 ? body.length : lineEnd);
    if (!/^[ \t]*\r?$/.test(rest.toString('latin1'))) {
      search = at + 1;
      continue;
    }
    if (partStart !== -1) {
      let end = at;
      if (end > partStart && body[end - 1] === 0x0a) end--;
      if (end > partStart && body[end - 1] === 0x0d) end--;
      parts.push(body.subarray(partStart, Math.max(partStart, end)));
    }
    if (closing) return parts;
    if (lineEnd === -1) break;
    partStart = lineEnd + 1;
    search = partStart;
  }
  // A body cut off before its closing delimiter still yields the parts that were complete
  // plus the unfinished last one, which is what a reader would want to see.
  if (partStart !== -1 && partStart <= body.length) parts.push(body.subarray(partStart));
  return parts.length > 0 ? parts : null;
}

/** Every line break becomes CRLF (RFC 3156 section 5: signatures are over canonical text). */
export function toCRLF(data: Buffer): Buffer {
  let count = 0;
  for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, i + 1)) {
    if (i === 0 || data[i - 1] !== 0x0d) count++;
  }
  if (count === 0) return data;
  const out = Buffer.allocUnsafe(data.length + count);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i] as number;
    if (b === 0x0a && (i === 0 || data[i - 1] !== 0x0d)) out[o++] = 0x0d;
    out[o++] = b;
  }
  return out;
}

/**
 * The same for a stream of chunks: a CR at the end of one chunk and an LF at the start of
 * the next are one line break.
 */
export function createCRLFNormaliser(): (chunk: Uint8Array) => Buffer {
  let lastWasCR = false;
  return (chunk) => {
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (data.length === 0) return data;
    const out =
      data[0] === 0x0a
        ? Buffer.concat([lastWasCR ? LF : CRLF, toCRLF(data.subarray(1))])
        : toCRLF(data);
    lastWasCR = data[data.length - 1] === 0x0d;
    return out;
  };
}

/** The bare address in an address header ("Alice <a@x>" or "a@x"), lower-cased. */
export function firstAddress(value: string | undefined): string | null {
  if (!value) return null;
  const angle = /<\s*([^<>\s@]+@[^<>\s@]+)\s*>/.exec(value);
  if (angle) return (angle[1] as string).toLowerCase();
  const bare = /([^\s<>,;:"()@]+@[^\s<>,;:"()@]+)/.exec(value);
  return bare ? (bare[1] as string).toLowerCase() : null;
}
