/**
 * Content-Transfer-Encoding (RFC 2045 section 6): decoding what arrives, and making a part
 * 7-bit safe before it is signed, because a relay that converts 8-bit text on the way
 * (RFC 3156 section 3) or strips trailing spaces would break the signature.
 */
import { fail, ok, type Result } from './errors.js';
import {
  buildEntity,
  contentType,
  headerValue,
  parseEntity,
  splitMultipart,
  toCRLF,
  type HeaderField,
} from './mime.js';

export const MAX_DEPTH = 32;

export function decodeTransfer(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? '').trim().toLowerCase()) {
    case 'base64':
      // Node skips characters outside the alphabet, which is what a tolerant reader wants.
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

function decodeQuotedPrintable(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length);
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const b = body[i] as number;
    if (b !== 0x3d) {
      out[o++] = b;
      continue;
    }
    const h = body.subarray(i + 1, i + 3).toString('latin1');
    if (/^[0-9A-Fa-f]{2}$/.test(h)) {
      out[o++] = parseInt(h, 16);
      i += 2;
    } else if (body[i + 1] === 0x0a) {
      i += 1;
    } else if (body[i + 1] === 0x0d && body[i + 2] === 0x0a) {
      i += 2;
    } else {
      out[o++] = b;
    }
  }
  return out.subarray(0, o);
}

export function encodeQuotedPrintable(data: Buffer): Buffer {
  const lines: string[] = [];
  const text = toCRLF(data);
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\r\n', start);
    const last = end === -1;
    if (last) end = text.length;
    lines.push(encodeQpLine(text.subarray(start, end)));
    if (last) break;
    start = end + 2;
  }
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

function encodeQpLine(line: Buffer): string {
  const tokens: string[] = [];
  line.forEach((b, i) => {
    const printable = b >= 33 && b <= 126 && b !== 0x3d;
    const innerSpace = (b === 0x20 || b === 0x09) && i < line.length - 1;
    // "From " at the start of a line is mangled by mbox writers, a lone "." by SMTP.
    const riskyStart = i === 0 && (b === 0x46 || b === 0x2e);
    tokens.push((printable || innerSpace) && !riskyStart ? String.fromCharCode(b) : '=' + hex(b));
  });
  const out: string[] = [];
  let current = '';
  for (const token of tokens) {
    if (current.length + token.length > 75) {
      out.push(current + '=');
      current = '';
    }
    current += token;
  }
  out.push(current);
  return out.join('\r\n');
}

function hex(b: number): string {
  return b.toString(16).toUpperCase().padStart(2, '0');
}

export function encodeBase64Lines(data: Buffer): Buffer {
  const text = data.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/** Would this body pass unchanged through any RFC 5321 relay and mailbox? */
function isSevenBitSafe(body: Buffer, text: boolean): boolean {
  for (let i = 0; i < body.length; i++) {
    const b = body[i] as number;
    if (b === 0 || b > 127) return false;
  }
  const lines = body.toString('latin1').split('\r\n');
  return lines.every(
    (line) => line.length <= 998 && (!text || (!/[ \t]$/.test(line) && !line.startsWith('From '))),
  );
}

/**
 * Rewrites an entity (headers + body) so that every leaf is 7-bit safe, re-encoding only
 * the leaves that are not: quoted-printable for text, base64 for the rest. The result has
 * CRLF line breaks throughout, ready to be signed.
 */
export function makeSevenBitSafe(raw: Buffer, depth = 0): Result<Buffer> {
  if (depth > MAX_DEPTH) return fail('too_deep', 'The message nests its parts too deeply.');
  const entity = parseEntity(toCRLF(raw));
  const type = contentType(entity.headers);
  if (type.mime.startsWith('multipart/')) {
    const boundary = type.params.boundary;
    const parts = boundary ? splitMultipart(entity.body, boundary) : null;
    if (!boundary || !parts) {
      return fail('malformed_message', `A ${type.mime} part has no usable boundary.`);
    }
    const safeParts: Buffer[] = [];
    for (const part of parts) {
      const safe = makeSevenBitSafe(part, depth + 1);
      if (!safe.ok) return safe;
      safeParts.push(safe.value);
    }
    const body: Buffer[] = [];
    for (const part of safeParts) body.push(Buffer.from(`--${boundary}\r\n`, 'latin1'), part, CRLF);
    body.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
    return ok(buildEntity(entity.headers, Buffer.concat(body)));
  }
  if (type.mime === 'message/rfc822') {
    // RFC 2046 section 5.2.1 forbids encoding a message/rfc822 body; make its insides safe.
    const inner = makeSevenBitSafe(entity.body, depth + 1);
    if (!inner.ok) return inner;
    return ok(buildEntity(entity.headers, inner.value));
  }
  const text = type.mime.startsWith('text/');
  const encoding = headerValue(entity.headers, 'content-transfer-encoding');
  if (encoding?.trim().toLowerCase() === 'base64' || isSevenBitSafe(entity.body, text)) {
    return ok(buildEntity(entity.headers, entity.body));
  }
  const decoded = decodeTransfer(entity.body, encoding);
  const headers: (HeaderField | string)[] = entity.headers.filter(
    (h) => h.key !== 'content-transfer-encoding',
  );
  headers.push(`Content-Transfer-Encoding: ${text ? 'quoted-printable' : 'base64'}`);
  return ok(
    buildEntity(headers, text ? encodeQuotedPrintable(decoded) : encodeBase64Lines(decoded)),
  );
}

const CRLF = Buffer.from('\r\n');
