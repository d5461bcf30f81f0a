/**
 * IMAP SEARCH keys compiled to SQL over the messages table (`m`) and, for header keys, the
 * kept headers (`h`, content_headers, which the SQL functions below read), for the keys the
 * index can answer. Semantics follow the server's own evaluator (imap/search.ts), whose
 * header predicates the functions call: internal dates compare by UTC day, sent dates by the day written in the Date header, MODSEQ is "at least",
 * flags and text are matched case-insensitively. Text keys (BODY, TEXT) and SUBJECT, FROM,
 * TO, CC, BCC compile to the full-text index (text-index.ts) when asked, which answers
 * substrings of three characters or more exactly as the evaluator would.
 */
import { headerDay, headerFieldMatches, type SearchKey } from '../imap/index.js';
import { parseHeaderFields } from '../mime/index.js';
import { systemFlagBit } from './flags.js';
import type { SqliteDatabase } from './database.js';
import { rangesSql } from './uid-ranges.js';
import { matchQuery, type SearchColumn } from './search-text.js';
import { TextIndex } from './text-index.js';

const MAX_UID = 0xffffffff;

export interface CompiledSearch {
  sql: string;
  params: (string | number)[];
  /** Reads `h.header`: the query must join content_headers, and every message must have it kept. */
  needsHeader: boolean;
  /** Asks the full-text index: messages it has no document for must be evaluated apart. */
  needsTextIndex?: boolean;
}

export interface CompileOptions {
  /** Text keys (and SUBJECT, FROM, TO, CC, BCC) may be answered from the full-text index. */
  fullText?: boolean;
}

/** Header keys with a column of their own in the full-text index (search-text.ts). */
const FIELD_COLUMN: Record<string, { column: SearchColumn; address: boolean }> = {
  subject: { column: 'subject', address: false },
  from: { column: 'hfrom', address: true },
  to: { column: 'hto', address: true },
  cc: { column: 'hcc', address: true },
  bcc: { column: 'hbcc', address: true },
};

/** The SQL functions header keys compile to; registered once per connection. */
export function registerSearchFunctions(db: SqliteDatabase): void {
  // Headers are kept as latin1 text (schema.ts, headerText); fields are read as UTF-8.
  const fields = (header: string) =>
    parseHeaderFields(Buffer.from(header, 'latin1').toString('utf8'));
  db.function('imap_header_matches', { deterministic: true }, (header, field, value, address) => {
    if (typeof header !== 'string') return 0;
    const needle = String(value);
    if (cannotContain(header, needle, address === 1)) return 0;
    return headerFieldMatches(fields(header), String(field), needle, address === 1) ? 1 : 0;
  });
  db.function('imap_header_day', { deterministic: true }, (header) =>
    typeof header === 'string' ? headerDay(fields(header)) : null,
  );
}

/**
 * Null when a key needs the message text (and the full-text index cannot answer it: not
 * asked to, or a needle under three characters), or too many UID ranges.
 */
export function compileSearch(key: SearchKey, options: CompileOptions = {}): CompiledSearch | null {
  const recurse = (k: SearchKey) => compileSearch(k, options);
  switch (key.type) {
    case 'all':
      return plain('1');
    case 'uid': {
      // A long list is left to the server's evaluator rather than a huge statement.
      const ranges = rangesSql(key.ranges, MAX_UID);
      return ranges && { ...ranges, needsHeader: false };
    }
    case 'flag': {
      const lower = key.flag.toLowerCase();
      const bit = systemFlagBit(lower);
      if (bit !== undefined) return plain(`(m.system_flags & ${bit}) ${key.set ? '<>' : '='} 0`);
      // \Recent and unknown system flags are never stored.
      if (lower.startsWith('\\')) return plain(key.set ? '0' : '1');
      return plain(
        `${key.set ? '' : 'NOT '}EXISTS (SELECT 1 FROM json_each(m.keywords) WHERE lower(value) = ?)`,
        [lower],
      );
    }
    case 'size':
      return plain(key.op === 'larger' ? 'm.size > ?' : 'm.size < ?', [key.size]);
    case 'modseq':
      return plain('m.modseq >= ?', [key.modseq]);
    case 'date': {
      const op = key.op === 'before' ? '<' : key.op === 'on' ? '=' : '>=';
      if (key.field === 'internal') {
        return plain(`date(m.internal_date / 1000, 'unixepoch') ${op} ?`, [key.date]);
      }
      // An unreadable Date matches nothing, and its NOT everything, as in the evaluator.
      return {
        sql: `coalesce(imap_header_day(h.header) ${op} ?, 0)`,
        params: [key.date],
        needsHeader: true,
      };
    }
    case 'text': {
      if (!options.fullText) return null;
      const query = matchQuery(key.where === 'text' ? ['body', 'headers'] : ['body'], key.value);
      return query === null ? null : fullText(query);
    }
    case 'header': {
      const indexed = options.fullText ? FIELD_COLUMN[key.field.toLowerCase()] : undefined;
      const query =
        indexed && indexed.address === (key.address === true) && key.value !== ''
          ? matchQuery([indexed.column], key.value)
          : null;
      if (query) return fullText(query);
      return {
        sql: 'imap_header_matches(h.header, ?, ?, ?)',
        params: [key.field, key.value, key.address ? 1 : 0],
        needsHeader: true,
      };
    }
    case 'not': {
      const inner = recurse(key.key);
      return inner && { ...inner, sql: `NOT (${inner.sql})` };
    }
    case 'or':
    case 'and': {
      const parts = (key.type === 'or' ? [key.left, key.right] : key.keys).map(recurse);
      if (parts.some((p) => p === null)) return null;
      if (parts.length === 0) return plain('1');
      return {
        sql: parts.map((p) => `(${p!.sql})`).join(key.type === 'or' ? ' OR ' : ' AND '),
        params: parts.flatMap((p) => p!.params),
        needsHeader: parts.some((p) => p!.needsHeader),
        needsTextIndex: parts.some((p) => p!.needsTextIndex),
      };
    }
    default:
      return null;
  }
}

function fullText(query: string): CompiledSearch {
  return { sql: TextIndex.matchSql(), params: [query], needsHeader: false, needsTextIndex: true };
}

function plain(sql: string, params: (string | number)[] = []): CompiledSearch {
  return { sql, params, needsHeader: false };
}

/**
 * True when the header `text` certainly has no field containing `needle`: plain ASCII without encoded
 * words decodes to itself, so if the needle (ASCII too) is nowhere in it, ignoring case, no
 * field can match. A needle with white space may span a folded line, so it is looked for
 * with the line breaks taken out. Most messages of a search are ruled out here, unparsed.
 * An address is matched as parsed and written again (comments and spaces dropped, `<>`
 * added), so there each piece of the needle between such characters must be in the text.
 */
function cannotContain(text: string, needle: string, address: boolean): boolean {
  if (needle === '' || NOT_ASCII.test(needle)) return false;
  if (NOT_ASCII.test(text) || text.includes('=?')) return false;
  if (address) {
    // A backslash escape disappears in parsing: pieces could then be split in the text.
    if (text.includes('\\')) return false;
    return needle
      .split(ADDRESS_SEPARATORS)
      .some((piece) => piece !== '' && !includesFolded(text, piece));
  }
  const pattern = needlePattern(needle);
  return !pattern.test(/\s/.test(needle) ? text.replace(/\r?\n/g, '') : text);
}

const NOT_ASCII = /[\u0080-\uffff]/;
/** What parsing an address adds or removes between the pieces of its text. */
const ADDRESS_SEPARATORS = /[\s<>@",:;()]+/;

function includesFolded(text: string, piece: string): boolean {
  return text.toLowerCase().includes(piece.toLowerCase());
}

/** The last needle's pattern: a search asks the same of every message. */
let lastNeedle: { needle: string; pattern: RegExp } | null = null;

function needlePattern(needle: string): RegExp {
  if (lastNeedle?.needle !== needle) {
    const escaped = needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    lastNeedle = { needle, pattern: new RegExp(escaped, 'i') };
  }
  return lastNeedle.pattern;
}
