/**
 * SORT (RFC 5256, with RFC 5957's DISPLAYFROM and DISPLAYTO): sort keys from what the
 * backend keeps per message (ENVELOPE, INTERNALDATE, RFC822.SIZE), never the body; and the
 * base subject of RFC 5256 section 2.1, which THREAD shares. Pure functions: the command
 * fetches, this orders.
 */
import libmime from 'libmime';
import type { Envelope, EnvelopeAddress } from '../mime/index.js';

const SORT_KEY_NAMES = [
  'ARRIVAL',
  'CC',
  'DATE',
  'FROM',
  'SIZE',
  'SUBJECT',
  'TO',
  'DISPLAYFROM',
  'DISPLAYTO',
] as const;

export type SortKeyName = (typeof SORT_KEY_NAMES)[number];

export const SORT_KEYS: ReadonlySet<string> = new Set<SortKeyName>(SORT_KEY_NAMES);

export interface SortCriterion {
  key: SortKeyName;
  reverse: boolean;
}

/** What sorting and threading read of a message. */
export interface SortItem {
  uid: number;
  internalDate: Date;
  size: number;
  envelope: Envelope;
}

function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/** Encoded words decoded, tabs and line breaks as spaces, runs of spaces as one (step 1). */
function normalise(value: string): string {
  // Most subjects have no encoded word: libmime is skipped for them (SORT runs per message).
  const decoded = value.includes('=?') ? decodeWords(value) : value;
  return /[\t\r\n]| {2}/.test(decoded)
    ? decoded.replace(/[\t\r\n]+/g, ' ').replace(/ {2,}/g, ' ')
    : decoded;
}

const TRAILER = /(?:\s|\(fwd\))+$/i;
// subj-leader: *subj-blob subj-refwd, where subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":".
const REFWD = /^(?:\[[^[\]]*\]\s*)*(?:re|fwd?)\s*(?:\[[^[\]]*\]\s*)?:/i;
const BLOB = /^\[[^[\]]*\]\s*/;
const FWD_HEADER = /^\[fwd:(.*)\]$/is;

/**
 * RFC 5256 2.1 base subject, and whether extracting it removed a reply or forward marker
 * (THREAD's "is a reply"). Comparisons use {@link subjectKey}.
 */
export function baseSubject(subject: string | null): { base: string; reply: boolean } {
  let s = normalise(subject ?? '');
  let reply = false;
  for (;;) {
    // (2) trailing "(fwd)" and spaces.
    const trailer = TRAILER.exec(s);
    if (trailer) {
      if (/\(fwd\)/i.test(trailer[0])) reply = true;
      s = s.slice(0, trailer.index);
    }
    // (3)-(5): leading spaces and "Re:", "[blob] Fwd:", then a leading blob if text remains.
    for (let changed = true; changed;) {
      changed = false;
      const before = s;
      s = s.replace(/^\s+/, '');
      const refwd = REFWD.exec(s);
      if (refwd) {
        s = s.slice(refwd[0].length);
        reply = true;
      }
      const blob = BLOB.exec(s);
      if (blob && s.slice(blob[0].length).trim() !== '') s = s.slice(blob[0].length);
      changed = s !== before;
    }
    // (6) "[fwd: ...]" wrapped around the whole subject.
    const fwd = FWD_HEADER.exec(s);
    if (!fwd) break;
    s = fwd[1]!;
    reply = true;
  }
  return { base: s, reply };
}

/**
 * Strings compare case-insensitively. RFC 5256 names i;ascii-casemap; Dovecot uses
 * i;unicode-casemap (RFC 5051: decomposed, title-cased), so "Émile" sorts with the Es.
 */
function fold(value: string): string {
  return value.normalize('NFKD').toUpperCase();
}

export function subjectKey(subject: string | null): string {
  return fold(baseSubject(subject).base);
}

/** RFC 5256 2.2 sent date: the Date header with its zone, else the internal date. */
export function sentTime(item: SortItem): number {
  const parsed = item.envelope.date ? Date.parse(item.envelope.date) : NaN;
  return Number.isNaN(parsed) ? item.internalDate.getTime() : parsed;
}

function firstAddress(list: EnvelopeAddress[] | null): EnvelopeAddress | null {
  // A group's start (host NIL) and end markers are not addresses.
  return list?.find((a) => a.mailbox !== null && a.host !== null) ?? null;
}

/** FROM, TO, CC: the first address's mailbox (local part). */
function mailboxOf(list: EnvelopeAddress[] | null): string {
  return fold(firstAddress(list)?.mailbox ?? '');
}

/** RFC 5957 DISPLAYFROM, DISPLAYTO: the first address's display name, else its addr-spec. */
function displayOf(list: EnvelopeAddress[] | null): string {
  const a = firstAddress(list);
  if (!a) return '';
  const name = a.name ? normalise(a.name).trim() : '';
  return fold(name || `${a.mailbox}@${a.host}`);
}

function keyValue(item: SortItem, key: SortKeyName): string | number {
  const env = item.envelope;
  switch (key) {
    case 'ARRIVAL':
      return item.internalDate.getTime();
    case 'DATE':
      return sentTime(item);
    case 'SIZE':
      return item.size;
    case 'SUBJECT':
      return subjectKey(env.subject);
    case 'FROM':
      return mailboxOf(env.from);
    case 'TO':
      return mailboxOf(env.to);
    case 'CC':
      return mailboxOf(env.cc);
    case 'DISPLAYFROM':
      return displayOf(env.from);
    case 'DISPLAYTO':
      return displayOf(env.to);
  }
}

/**
 * The items' UIDs in SORT order: by each criterion in turn, REVERSE flipping only its own
 * key, and equal messages in mailbox order (RFC 5256 3: sequence number, here ascending UID).
 */
export function sortUids(items: SortItem[], criteria: SortCriterion[]): number[] {
  const rows = items.map((item) => ({
    uid: item.uid,
    values: criteria.map((c) => keyValue(item, c.key)),
  }));
  rows.sort((a, b) => {
    for (let i = 0; i < criteria.length; i++) {
      const x = a.values[i]!;
      const y = b.values[i]!;
      if (x === y) continue;
      const order = x < y ? -1 : 1;
      return criteria[i]!.reverse ? -order : order;
    }
    return a.uid - b.uid;
  });
  return rows.map((r) => r.uid);
}
