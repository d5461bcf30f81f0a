/**
 * The text a person sees in a message, for searching: text parts with their transfer
 * encoding and charset decoded, HTML reduced to the words it shows, and the names of
 * attachments. The IMAP server's SEARCH evaluator and the store's full-text index both
 * read a message through this one module, so they can never disagree on what a body says.
 */
import libmime from 'libmime';
import type { BodyParams, BodyStructure, PartLayout, TextBody } from './types.js';

/** A text part and where its body lies in the raw message. */
export interface TextPartRange {
  part: TextBody;
  start: number;
  end: number;
}

/** Text parts in MIME order with their body ranges, walking structure and layout together. */
export function textPartRanges(body: BodyStructure, layout: PartLayout): TextPartRange[] {
  const out: TextPartRange[] = [];
  const walk = (b: BodyStructure, l: PartLayout) => {
    if (b.kind === 'multipart') b.parts.forEach((p, i) => l.children[i] && walk(p, l.children[i]!));
    else if (b.kind === 'message' && l.children[0]) walk(b.body, l.children[0]);
    else if (b.kind === 'text') out.push({ part: b, start: l.headerEnd, end: l.bodyEnd });
  };
  walk(body, layout);
  return out;
}

/** RFC 2045 6.7: soft line breaks removed, =XX turned back into octets. */
function decodeQuotedPrintable(bytes: Buffer): Buffer {
  const text = bytes.toString('latin1').replace(/=\r?\n/g, '');
  const out = Buffer.alloc(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const hex = text[i] === '=' ? text.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else {
      out[n++] = text.charCodeAt(i);
    }
  }
  return out.subarray(0, n);
}

/**
 * A part's body with its Content-Transfer-Encoding undone (RFC 2045 6); null for an
 * encoding this server does not know (IMAP BINARY answers that with UNKNOWN-CTE).
 */
export function decodeTransferEncoding(bytes: Buffer, encoding: string): Buffer | null {
  switch (encoding.toLowerCase()) {
    case 'base64':
      return Buffer.from(bytes.toString('latin1'), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(bytes);
    case '7bit':
    case '8bit':
    case 'binary':
      return bytes;
    default:
      return null;
  }
}

/**
 * A text part's body as the reader sees it: transfer encoding and charset decoded (an
 * unknown charset is read as UTF-8), HTML reduced to its text.
 */
export function decodeTextPart(bytes: Buffer, part: TextBody): string {
  const encoding = part.encoding.toLowerCase();
  const raw =
    encoding === 'base64'
      ? Buffer.from(bytes.toString('latin1'), 'base64')
      : encoding === 'quoted-printable'
        ? decodeQuotedPrintable(bytes)
        : bytes;
  const charset = param(part.params, 'charset') ?? 'utf-8';
  let text: string;
  try {
    text = new TextDecoder(charset).decode(raw);
  } catch {
    text = raw.toString('utf8');
  }
  return part.subtype === 'html' ? htmlToText(text) : text;
}

/**
 * What a browser would show of an HTML document, near enough for searching: no tags,
 * comments, scripts or styles; entities decoded; white space collapsed as rendering does,
 * with block elements and <br> as line breaks. A search for "href" or "nbsp" then finds
 * nothing, and one for "two words" finds them across a line break of the source.
 */
export function htmlToText(html: string): string {
  return (
    html
      .replace(/<!--[\s\S]*?(?:-->|$)/g, ' ')
      .replace(/<(script|style|head|title)\b[^>]*>[\s\S]*?(?:<\/\1\s*>|$)/gi, ' ')
      .replace(/<\/?([a-z][a-z0-9]*)\b(?:[^>"']|"[^"]*"|'[^']*')*>?/gi, (_, name: string) =>
        BLOCK.has(name.toLowerCase()) ? '\x00' : '',
      )
      .replace(/<[!?/][^>]*>?/g, '')
      .replace(
        /&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z][a-z0-9]{1,31});?/gi,
        (whole, name: string) => entity(name) ?? whole,
      )
      .replace(/[ \t\r\n\f\u00a0]+/g, ' ')
      // eslint-disable-next-line no-control-regex -- NUL marks block boundaries made above
      .replace(/ ?\x00[\x00 ]*/g, '\n')
      .trim()
  );
}

/** Elements rendered on a line of their own. */
const BLOCK = new Set(
  (
    'address article aside blockquote br caption dd div dl dt fieldset figcaption figure ' +
    'footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody td ' +
    'tfoot th thead tr ul'
  ).split(' '),
);

/** The named entities mail actually uses; any other is left as written. */
const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  shy: '',
  copy: '©',
  reg: '®',
  trade: '™',
  euro: '€',
  pound: '£',
  yen: '¥',
  cent: '¢',
  sect: '§',
  deg: '°',
  middot: '·',
  bull: '•',
  hellip: '…',
  ndash: '–',
  mdash: '—',
  lsquo: '‘',
  rsquo: '’',
  ldquo: '“',
  rdquo: '”',
  laquo: '«',
  raquo: '»',
  auml: 'ä',
  ouml: 'ö',
  uuml: 'ü',
  Auml: 'Ä',
  Ouml: 'Ö',
  Uuml: 'Ü',
  szlig: 'ß',
  eacute: 'é',
  egrave: 'è',
  ecirc: 'ê',
  Eacute: 'É',
  aacute: 'á',
  agrave: 'à',
  acirc: 'â',
  iacute: 'í',
  oacute: 'ó',
  uacute: 'ú',
  ccedil: 'ç',
  ntilde: 'ñ',
  zwnj: '',
  zwj: '',
};

function entity(name: string): string | null {
  if (name[0] === '#') {
    const code =
      name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : Number(name.slice(1));
    // A NUL, a surrogate or a number past Unicode reads as the replacement character.
    if (code === 0 || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return '\ufffd';
    return String.fromCodePoint(code);
  }
  return Object.hasOwn(NAMED, name) ? NAMED[name]! : null;
}

/**
 * The file names of a message's parts (Content-Disposition filename, else Content-Type
 * name), decoded from RFC 2231 parameters and encoded words, in MIME order.
 */
export function attachmentNames(body: BodyStructure): string[] {
  const out: string[] = [];
  const walk = (b: BodyStructure) => {
    if (b.kind === 'multipart') return b.parts.forEach(walk);
    const name =
      paramText(b.disposition?.params ?? null, 'filename') ?? paramText(b.params, 'name');
    if (name) out.push(name);
    if (b.kind === 'message') walk(b.body);
  };
  walk(body);
  return out;
}

/**
 * The body text SEARCH BODY looks in: the decoded text parts, then the attachment names,
 * one per line.
 */
export function bodySearchText(body: BodyStructure, decodedParts: readonly string[]): string {
  return [...decodedParts, ...attachmentNames(body)].join('\n');
}

function param(params: BodyParams, name: string): string | null {
  return params?.find(([k]) => k.toLowerCase() === name)?.[1] ?? null;
}

/**
 * A parameter's text: plain, RFC 2231 extended (`name*=utf-8''caf%C3%A9`), or RFC 2231
 * continuations (`name*0=`, `name*1*=`), with encoded words decoded as mailers write them.
 */
function paramText(params: BodyParams, name: string): string | null {
  if (!params) return null;
  const pieces: [number, string, boolean][] = [];
  let plain: string | null = null;
  for (const [key, value] of params) {
    const k = key.toLowerCase();
    if (k === name) plain ??= value;
    else if (k === `${name}*`) pieces.push([0, value, true]);
    else {
      const m = /^(.+)\*(\d{1,3})(\*)?$/.exec(k);
      if (m && m[1] === name) pieces.push([Number(m[2]), value, m[3] === '*']);
    }
  }
  if (pieces.length) {
    pieces.sort((a, b) => a[0] - b[0]);
    let charset = 'utf-8';
    const bytes: Buffer[] = [];
    pieces.forEach(([, value, extended], i) => {
      let v = value;
      if (extended && i === 0) {
        const m = /^([^']*)'[^']*'(.*)$/s.exec(v);
        if (m) {
          charset = m[1] || charset;
          v = m[2]!;
        }
      }
      bytes.push(extended ? percentDecoded(v) : Buffer.from(v, 'utf8'));
    });
    try {
      return new TextDecoder(charset).decode(Buffer.concat(bytes));
    } catch {
      return Buffer.concat(bytes).toString('utf8');
    }
  }
  if (plain === null) return null;
  try {
    return libmime.decodeWords(plain);
  } catch {
    return plain;
  }
}

function percentDecoded(text: string): Buffer {
  // Odd pieces are the %XX escapes, even ones literal text (as UTF-8).
  const pieces = text.split(/(%[0-9A-Fa-f]{2})/);
  return Buffer.concat(
    pieces.map((p, i) =>
      i % 2 ? Buffer.from([parseInt(p.slice(1), 16)]) : Buffer.from(p, 'utf8'),
    ),
  );
}
