/**
 * SEARCH evaluation when the backend has no fast path for a key: flags, dates, sizes and
 * UIDs from metadata; headers and text from the decrypted message, decoded (encoded words,
 * transfer encodings, charsets) so a user finds what they see.
 */
import libmime from 'libmime';
import { simpleParser } from 'mailparser';
import type { AccountBackend, MessageMeta, SearchKey, UidRange } from './backend.js';
import { parseHeaderFields, type HeaderField } from '../mime/index.js';

interface Content {
  raw: Buffer;
  headers: HeaderField[];
  body?: string;
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

async function readAll(iter: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of iter) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf < 0 && lf < 0) return raw.length;
  if (crlf < 0) return lf + 2;
  if (lf < 0) return crlf + 4;
  return Math.min(crlf + 4, lf + 2);
}

export class SearchEvaluator {
  constructor(
    private readonly account: AccountBackend,
    private readonly mailboxId: string,
  ) {}

  private async content(meta: MessageMeta, cache: { value?: Content }): Promise<Content> {
    if (!cache.value) {
      const raw = await readAll(await this.account.readMessage(this.mailboxId, meta.uid));
      const headers = parseHeaderFields(raw.subarray(0, headerEnd(raw)).toString('utf8'));
      cache.value = { raw, headers };
    }
    return cache.value;
  }

  private async bodyText(content: Content): Promise<string> {
    if (content.body === undefined) {
      try {
        const parsed = await simpleParser(content.raw, {
          skipHtmlToText: true,
          skipTextLinks: true,
          skipImageLinks: true,
        });
        content.body = [parsed.text ?? '', typeof parsed.html === 'string' ? parsed.html : ''].join(
          '\n',
        );
      } catch {
        content.body = content.raw.subarray(headerEnd(content.raw)).toString('utf8');
      }
    }
    return content.body;
  }

  private async matches(
    key: SearchKey,
    meta: MessageMeta,
    cache: { value?: Content },
  ): Promise<boolean> {
    switch (key.type) {
      case 'all':
        return true;
      case 'uid':
        return key.ranges.some((r) => meta.uid >= r.start && meta.uid <= r.end);
      case 'flag':
        return meta.flags.includes(key.flag) === key.set;
      case 'size':
        return key.op === 'larger' ? meta.size > key.size : meta.size < key.size;
      case 'modseq':
        return meta.modseq >= key.modseq;
      case 'date': {
        if (key.field === 'internal') return compareDay(dayOf(meta.internalDate), key.op, key.date);
        const value = (await this.content(meta, cache)).headers.find(
          (h) => h.name === 'date',
        )?.value;
        const parsed = value ? new Date(value) : null;
        if (!parsed || Number.isNaN(parsed.getTime())) return false;
        return compareDay(dayOf(parsed), key.op, key.date);
      }
      case 'header': {
        const field = key.field.toLowerCase();
        const headers = (await this.content(meta, cache)).headers.filter((h) => h.name === field);
        // An empty string matches every message that has the field (RFC 3501 6.4.4).
        return headers.some(
          (h) =>
            key.value === '' ||
            includesFolded(decodeHeader(h.value), key.value) ||
            includesFolded(h.value, key.value),
        );
      }
      case 'text': {
        const content = await this.content(meta, cache);
        if (includesFolded(await this.bodyText(content), key.value)) return true;
        return (
          key.where === 'text' &&
          content.headers.some((h) => includesFolded(decodeHeader(h.value), key.value))
        );
      }
      case 'not':
        return !(await this.matches(key.key, meta, cache));
      case 'or':
        return (
          (await this.matches(key.left, meta, cache)) ||
          (await this.matches(key.right, meta, cache))
        );
      case 'and':
        for (const k of key.keys) if (!(await this.matches(k, meta, cache))) return false;
        return true;
    }
  }

  /** UIDs matching `key` within `scope`, ascending. */
  async search(
    key: SearchKey,
    scope: UidRange[] = [{ start: 1, end: Infinity }],
  ): Promise<number[]> {
    if (this.account.search) {
      const fast = await this.account.search(this.mailboxId, key);
      if (fast) return fast.filter((uid) => scope.some((r) => uid >= r.start && uid <= r.end));
    }
    const out: number[] = [];
    for await (const meta of this.account.fetch(this.mailboxId, scope)) {
      const cache: { value?: Content } = {};
      if (await this.matches(key, meta, cache)) out.push(meta.uid);
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
