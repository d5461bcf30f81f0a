/**
 * IMAP SEARCH keys compiled to SQL over the messages table, for the keys the index can
 * answer. Semantics follow the server's own evaluator (imap/search.ts): dates compare by
 * UTC day, MODSEQ is "at least", flags are matched case-insensitively.
 */
import type { SearchKey } from '../imap/index.js';
import { systemFlagBit } from './flags.js';
import { rangesSql } from './uid-ranges.js';

const MAX_UID = 0xffffffff;

export interface CompiledSearch {
  sql: string;
  params: (string | number)[];
}

/** Null when a key needs the message content (headers, text, the Date header). */
export function compileSearch(key: SearchKey): CompiledSearch | null {
  switch (key.type) {
    case 'all':
      return { sql: '1', params: [] };
    case 'uid': {
      // A long list is left to the server's evaluator rather than a huge statement.
      return rangesSql(key.ranges, MAX_UID);
    }
    case 'flag': {
      const lower = key.flag.toLowerCase();
      const bit = systemFlagBit(lower);
      if (bit !== undefined) {
        return { sql: `(system_flags & ${bit}) ${key.set ? '<>' : '='} 0`, params: [] };
      }
      // \Recent and unknown system flags are never stored.
      if (lower.startsWith('\\')) return { sql: key.set ? '0' : '1', params: [] };
      return {
        sql: `${key.set ? '' : 'NOT '}EXISTS (SELECT 1 FROM json_each(keywords) WHERE lower(value) = ?)`,
        params: [lower],
      };
    }
    case 'size':
      return { sql: key.op === 'larger' ? 'size > ?' : 'size < ?', params: [key.size] };
    case 'modseq':
      return { sql: 'modseq >= ?', params: [key.modseq] };
    case 'date': {
      if (key.field !== 'internal') return null;
      const op = key.op === 'before' ? '<' : key.op === 'on' ? '=' : '>=';
      return { sql: `date(internal_date / 1000, 'unixepoch') ${op} ?`, params: [key.date] };
    }
    case 'not': {
      const inner = compileSearch(key.key);
      return inner && { sql: `NOT (${inner.sql})`, params: inner.params };
    }
    case 'or':
    case 'and': {
      const parts = (key.type === 'or' ? [key.left, key.right] : key.keys).map(compileSearch);
      if (parts.some((p) => p === null)) return null;
      if (parts.length === 0) return { sql: '1', params: [] };
      return {
        sql: parts.map((p) => `(${p!.sql})`).join(key.type === 'or' ? ' OR ' : ' AND '),
        params: parts.flatMap((p) => p!.params),
      };
    }
    default:
      return null;
  }
}
