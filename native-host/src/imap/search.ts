/**
 * SEARCH evaluation when the backend has no fast path for a key: flags, dates, sizes and
 * UIDs from metadata; headers and text from the decrypted message, decoded (encoded words,
 * transfer encodings, charsets, HTML reduced to text, attachment names: mime's
 * bodySearchText) so a user finds what they see. Header keys read only the header bytes and
 * text keys only the text parts, using the precomputed part layout. A backend may answer
 * from its own index (`search`) and leave some messages to this evaluator.
 */
import { readAll } from './bytes.js';
import libmime from 'libmime';
import type { AccountBackend, MessageMeta, SearchKey, UidRange } from './backend.js';
import {
  bodySearchText,
  decodeTextPart,
  parseAddressList,
  parseHeaderFields,
  textPartRanges,
  type TextHeaderField as HeaderField,
} from '../mime/index.js';

/** Messages evaluated at the same time when content must be read. */
const SEARCH_CONCURRENCY = 8;

/** What has been read of one message so far. */
interface Content {
  headers?: HeaderField[];
  text?: string;
}

function dayOf(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function compareDay(day: string, op: 'before' | 'on' | 'since', target: string): boolean {
  if (op === 'before') return day < target;
  if (op === 'on') return day === target;
  return day >= target;
}

function includesFolded(haystack: string, needle: string): boolean {
  return haystack.toLowerCase().includes(needle.toLowerCase());
}

function decodeHeader(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/**
 * HEADER, FROM, SUBJECT, ...: whether a field of that name contains `value`, raw or with its
 * encoded words decoded, ignoring case. An empty value matches every message that has the
 * field (RFC 3501 6.4.4). Shared with stores that search their own copy of the header.
 */
export function headerFieldMatches(
  headers: HeaderField[],
  field: string,
  value: string,
  address = false,
): boolean {
  const name = field.toLowerCase();
  if (value === '') return headers.some((h) => h.name === name);
  return headerSearchTexts(headers, name, address).some((t) => includesFolded(t, value));
}

/**
 * The texts HEADER, FROM, SUBJECT, ... look in for a non-empty value: each field of that
 * name raw and with its encoded words decoded, or for addresses as parsed and written again.
 * A full-text index keeps exactly these, so it answers as this evaluator does.
 */
export function headerSearchTexts(
  headers: HeaderField[],
  field: string,
  address = false,
): string[] {
  const name = field.toLowerCase();
  return headers
    .filter((h) => h.name === name)
    .flatMap((h) =>
      address ? [decodeHeader(writtenAddresses(h.value))] : [h.value, decodeHeader(h.value)],
    );
}

/** The header texts TEXT looks in besides the body: every field's value, decoded. */
export function textSearchHeaderTexts(headers: HeaderField[]): string[] {
  return headers.map((h) => decodeHeader(h.value));
}

/**
 * An address field as parsed and written again, the text SEARCH FROM/TO/CC/BCC look in (as
 * Dovecot does): `Name <local@domain>` per mailbox, comments and white space inside the
 * address gone, so `<user (c)@ (c) domain.org>` is found as `user@domain.org`, as its
 * ENVELOPE shows it. Groups are written `name: member, member;`.
 */
function writtenAddresses(value: string): string {
  const out: string[] = [];
  let group: string[] | null = null;
  let groupName = '';
  for (const a of parseAddressList(value) ?? []) {
    if (a.host === null && a.mailbox !== null && group === null) {
      group = [];
      groupName = a.mailbox;
    } else if (a.host === null && a.mailbox === null && group) {
      out.push(`${groupName}: ${group.join(', ')};`);
      group = null;
    } else {
      const spec = a.host === null ? (a.mailbox ?? '') : `${a.mailbox ?? ''}@${a.host}`;
      (group ?? out).push(a.name ? `${a.name} <${spec}>` : spec);
    }
  }
  if (group) out.push(`${groupName}: ${group.join(', ')};`);
  return out.join(', ');
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** RFC 5322 3.3 date: `[day-of-week ","] day month year`, the rest (time, zone) ignored. */
const DATE_PART = /^\s*(?:[a-z]+\s*,)?\s*(\d{1,2})\s+([a-z]{3})[a-z]*\s+(\d{2,4})\b/i;

/**
 * The day (YYYY-MM-DD) of the Date header as written, for SENTBEFORE/SENTON/SENTSINCE:
 * RFC 3501 6.4.4 disregards time and timezone, so `Sun, 25 Mar 2007 00:00:00 +0200` is
 * 25 March, although that is still 24 March in UTC. Null when unreadable.
 */
export function headerDay(headers: HeaderField[]): string | null {
  const value = headers.find((h) => h.name === 'date')?.value;
  if (!value) return null;
  const match = DATE_PART.exec(value);
  const month = match ? MONTHS.indexOf(match[2]!.toLowerCase()) : -1;
  if (match && month >= 0) {
    let year = Number(match[3]);
    // RFC 5322 4.3: two-digit years below 50 are 20xx, others (and three digits) 1900 + year.
    if (match[3]!.length === 2) year += year < 50 ? 2000 : 1900;
    else if (match[3]!.length === 3) year += 1900;
    const day = Number(match[1]);
    return `${String(year).padStart(4, '0')}-${String(month + 1).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  }
  // Not RFC 5322 (an ISO date, say): the day JavaScript reads from it.
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : dayOf(parsed);
}

/** Whether evaluating `key` needs the message's text or only its header. */
function needs(key: SearchKey): { header: boolean; text: boolean } {
  switch (key.type) {
    case 'header':
      return { header: true, text: false };
    case 'date':
      return { header: key.field === 'header', text: false };
    case 'text':
      return { header: key.where === 'text', text: true };
    case 'not':
      return needs(key.key);
    case 'or':
    case 'and': {
      const keys = key.type === 'or' ? [key.left, key.right] : key.keys;
      const all = keys.map(needs);
      return { header: all.some((n) => n.header), text: all.some((n) => n.text) };
    }
    default:
      return { header: false, text: false };
  }
}

export class SearchEvaluator {
  constructor(
    private readonly account: AccountBackend,
    private readonly mailboxId: string,
  ) {}

  private async headers(meta: MessageMeta, content: Content): Promise<HeaderField[]> {
    if (!content.headers) {
      const end = meta.layout?.headerEnd ?? meta.size;
      const bytes = await readAll(
        await this.account.readMessage(this.mailboxId, meta.uid, { start: 0, end }),
      );
      content.headers = parseHeaderFields(bytes.toString('utf8'));
    }
    return content.headers;
  }

  private async text(meta: MessageMeta, content: Content): Promise<string> {
    if (content.text === undefined) {
      const texts: string[] = [];
      const ranges =
        meta.bodyStructure && meta.layout ? textPartRanges(meta.bodyStructure, meta.layout) : [];
      for (const { part, start, end } of ranges) {
        const bytes = await readAll(
          await this.account.readMessage(this.mailboxId, meta.uid, { start, end }),
        );
        texts.push(decodeTextPart(bytes, part));
      }
      content.text = meta.bodyStructure ? bodySearchText(meta.bodyStructure, texts) : '';
    }
    return content.text;
  }

  private async matches(key: SearchKey, meta: MessageMeta, content: Content): Promise<boolean> {
    switch (key.type) {
      case 'all':
        return true;
      case 'uid':
        return key.ranges.some((r) => meta.uid >= r.start && meta.uid <= r.end);
      case 'flag': {
        // Flags compare case-insensitively (RFC 3501 2.3.2 keywords).
        const flag = key.flag.toLowerCase();
        return meta.flags.some((f) => f.toLowerCase() === flag) === key.set;
      }
      case 'size':
        return key.op === 'larger' ? meta.size > key.size : meta.size < key.size;
      case 'modseq':
        return meta.modseq >= key.modseq;
      case 'date': {
        if (key.field === 'internal') return compareDay(dayOf(meta.internalDate), key.op, key.date);
        const day = headerDay(await this.headers(meta, content));
        return day !== null && compareDay(day, key.op, key.date);
      }
      case 'header':
        return headerFieldMatches(
          await this.headers(meta, content),
          key.field,
          key.value,
          key.address,
        );
      case 'text': {
        if (includesFolded(await this.text(meta, content), key.value)) return true;
        return (
          key.where === 'text' &&
          textSearchHeaderTexts(await this.headers(meta, content)).some((t) =>
            includesFolded(t, key.value),
          )
        );
      }
      case 'not':
        return !(await this.matches(key.key, meta, content));
      case 'or':
        return (
          (await this.matches(key.left, meta, content)) ||
          (await this.matches(key.right, meta, content))
        );
      case 'and':
        for (const k of key.keys) if (!(await this.matches(k, meta, content))) return false;
        return true;
    }
  }

  /** UIDs matching `key` within `scope`, ascending. */
  async search(
    key: SearchKey,
    scope: UidRange[] = [{ start: 1, end: Infinity }],
  ): Promise<number[]> {
    const inScope = (uid: number) => scope.some((r) => uid >= r.start && uid <= r.end);
    const fast = this.account.search ? await this.account.search(this.mailboxId, key) : null;
    if (Array.isArray(fast)) return fast.filter(inScope);
    if (fast) {
      // The backend answered for all but `unsure`: those are evaluated here, the rest kept.
      const unsure = fast.unsure.filter(inScope);
      const checked = unsure.length ? await this.scan(key, uidsToRanges(unsure)) : [];
      return [...fast.uids.filter(inScope), ...checked].sort((a, b) => a - b);
    }
    return this.scan(key, scope);
  }

  /** Evaluates `key` on every message in `scope`, reading what it needs. */
  private async scan(key: SearchKey, scope: UidRange[]): Promise<number[]> {
    const need = needs(key);
    const out: number[] = [];
    const want = { layout: need.header || need.text, bodyStructure: need.text };
    // Several messages are evaluated at once so a store's per-message read latency overlaps;
    // results are taken in order, so the answer stays ascending.
    const window: Promise<number | null>[] = [];
    const takeNext = async () => {
      const uid = await window.shift()!;
      if (uid !== null) out.push(uid);
    };
    try {
      for await (const meta of this.account.fetch(this.mailboxId, scope, { want })) {
        const result = this.matches(key, meta, {}).then((hit) => (hit ? meta.uid : null));
        result.catch(() => {});
        window.push(result);
        if (window.length >= SEARCH_CONCURRENCY) await takeNext();
      }
      while (window.length) await takeNext();
    } finally {
      window.length = 0;
    }
    return out;
  }
}

/** Ascending UIDs → compact ranges for backend calls. */
export function uidsToRanges(uids: readonly number[]): UidRange[] {
  const ranges: UidRange[] = [];
  for (const uid of uids) {
    const last = ranges[ranges.length - 1];
    if (last && last.end + 1 === uid) last.end = uid;
    else ranges.push({ start: uid, end: uid });
  }
  return ranges;
}

/** UIDs flagged \Deleted within `scope`: what EXPUNGE, UID EXPUNGE and CLOSE remove. */
export async function deletedUids(
  account: AccountBackend,
  mailboxId: string,
  scope?: UidRange[],
): Promise<number[]> {
  return new SearchEvaluator(account, mailboxId).search(
    { type: 'flag', flag: '\\Deleted', set: true },
    scope,
  );
}
