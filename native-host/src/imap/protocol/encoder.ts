/**
 * RFC 3501 response encoding. Strings become quoted strings when they are 7-bit without CR, LF,
 * NUL, quote or backslash, literals otherwise (8-bit header text is sent as is, in a literal; encoded words
 * are untouched). Responses are built as JS strings; literal lengths count UTF-8 octets, which
 * is what the socket writes.
 */
import type { BodyParams, BodyStructure, Envelope, EnvelopeAddress } from '../../mime/index.js';

const ATOM = /^[!#$&'+-[^-z|}~]+$/;

export function literal(value: string): string {
  return `{${Buffer.byteLength(value)}}\r\n${value}`;
}

/**
 * A string: quoted when possible, literal when it must (8-bit, NUL, CR, LF, very long) and,
 * as Dovecot does, when it holds a quote or backslash: escapes inside quoted strings are
 * where picky clients go wrong. One pass: this runs for every field of every ENVELOPE.
 */
export function string(value: string): string {
  if (value.length > 4096) return literal(value);
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f || c === 0 || c === 0x0d || c === 0x0a || c === 0x22 || c === 0x5c) {
      return literal(value);
    }
  }
  return '"' + value + '"';
}

export function nstring(value: string | null | undefined): string {
  return value === null || value === undefined ? 'NIL' : string(value);
}

/** astring: bare atom when it is one (and not NIL), string otherwise. */
export function astring(value: string): string {
  return ATOM.test(value) && value.toUpperCase() !== 'NIL' ? value : string(value);
}

export function flagList(flags: Iterable<string>): string {
  return '(' + [...flags].join(' ') + ')';
}

/**
 * The untagged FETCH that tells a client a message's flags: after STORE, for changes made
 * elsewhere, and in a QRESYNC catch-up. UID and MODSEQ only when given.
 */
export function flagsUpdate(
  seq: number,
  flags: Iterable<string>,
  { uid, modseq }: { uid?: number | undefined; modseq?: number | undefined } = {},
): string {
  const uidPart = uid === undefined ? '' : `UID ${uid} `;
  const modseqPart = modseq === undefined ? '' : ` MODSEQ (${modseq})`;
  return `* ${seq} FETCH (${uidPart}FLAGS ${flagList(flags)}${modseqPart})`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** INTERNALDATE in UTC: `"dd-Mon-yyyy hh:mm:ss +0000"`. */
export function dateTime(date: Date): string {
  return (
    `"${pad(date.getUTCDate())}-${MONTHS[date.getUTCMonth()]}-${date.getUTCFullYear()} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000"`
  );
}

function addressList(list: EnvelopeAddress[] | null): string {
  if (!list || list.length === 0) return 'NIL';
  return (
    '(' +
    list
      .map((a) => `(${nstring(a.name)} ${nstring(a.adl)} ${nstring(a.mailbox)} ${nstring(a.host)})`)
      .join('') +
    ')'
  );
}

/** RFC 3501 7.4.2 ENVELOPE. */
export function envelope(env: Envelope): string {
  return (
    `(${nstring(env.date)} ${nstring(env.subject)} ${addressList(env.from)} ${addressList(env.sender)} ` +
    `${addressList(env.replyTo)} ${addressList(env.to)} ${addressList(env.cc)} ${addressList(env.bcc)} ` +
    `${nstring(env.inReplyTo)} ${nstring(env.messageId)})`
  );
}

function params(list: BodyParams): string {
  if (!list || list.length === 0) return 'NIL';
  return '(' + list.map(([k, v]) => `${string(k.toUpperCase())} ${string(v)}`).join(' ') + ')';
}

function extension(body: {
  disposition: BodyStructure['disposition'];
  language: string[] | null;
  location: string | null;
}): string {
  const disposition = body.disposition
    ? `(${string(body.disposition.type.toUpperCase())} ${params(body.disposition.params)})`
    : 'NIL';
  const language = body.language
    ? body.language.length === 1
      ? string(body.language[0]!)
      : '(' + body.language.map(string).join(' ') + ')'
    : 'NIL';
  return `${disposition} ${language} ${nstring(body.location)}`;
}

/**
 * BODYSTRUCTURE when `extended`, the non-extensible BODY form otherwise (RFC 3501 7.4.2).
 */
export function bodyStructure(body: BodyStructure, extended: boolean): string {
  if (body.kind === 'multipart') {
    const parts = body.parts.map((p) => bodyStructure(p, extended)).join('');
    const base = `(${parts} ${string(body.subtype.toUpperCase())}`;
    return extended ? `${base} ${params(body.params)} ${extension(body)})` : `${base})`;
  }
  let out =
    `(${string(body.type.toUpperCase())} ${string(body.subtype.toUpperCase())} ${params(body.params)} ` +
    `${nstring(body.id)} ${nstring(body.description)} ${string(body.encoding.toUpperCase())} ${body.size}`;
  if (body.kind === 'message')
    out += ` ${envelope(body.envelope)} ${bodyStructure(body.body, extended)} ${body.lines}`;
  else if (body.kind === 'text') out += ` ${body.lines}`;
  if (extended) out += ` ${nstring(body.md5)} ${extension(body)}`;
  return out + ')';
}

/** Compact sequence set from ascending numbers: 1,2,3,7 → "1:3,7". */
export function sequenceSet(numbers: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < numbers.length;) {
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    parts.push(i === j ? String(numbers[i]) : `${numbers[i]}:${numbers[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
