import type { SearchKey } from '../backend.js';
import { ParseError, type CommandReader } from '../protocol/parser.js';
import { SearchEvaluator } from '../search.js';
import type { ImapSession } from '../session.js';
import type { MailboxTracker } from '../tracker.js';
import { sequenceSet, string } from '../protocol/encoder.js';
import {
  SELECTED,
  no,
  ok,
  type Command,
  type CommandContext,
  type CommandResult,
} from './types.js';

const CHARSETS = new Set(['UTF-8', 'US-ASCII']);
const MAX_DEPTH = 32;
const MAX_KEYS = 1000;

const FLAG_KEYS: Record<string, [flag: string, set: boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};
const HEADER_KEYS: Record<string, string> = {
  BCC: 'bcc',
  CC: 'cc',
  FROM: 'from',
  SUBJECT: 'subject',
  TO: 'to',
};
const DATE_KEYS: Record<string, [field: 'internal' | 'header', op: 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['header', 'before'],
  SENTON: ['header', 'on'],
  SENTSINCE: ['header', 'since'],
};

interface KeyParser {
  reader: CommandReader;
  tracker: MailboxTracker;
  keys: number;
  usesModseq: boolean;
}

function readKey(p: KeyParser, depth: number): SearchKey {
  const { reader, tracker } = p;
  if (++p.keys > MAX_KEYS || depth > MAX_DEPTH) throw new ParseError('Search too complex');
  if (reader.peek() === 0x28) {
    const keys: SearchKey[] = [];
    reader.list(() => keys.push(readKey(p, depth + 1)), false);
    return { type: 'and', keys };
  }
  const c = reader.peek();
  if ((c >= 0x30 && c <= 0x39) || c === 0x2a || c === 0x24) {
    return { type: 'uid', ranges: tracker.sequenceToUids(reader.sequenceSet()) };
  }
  const name = reader.word();
  const flagKey = FLAG_KEYS[name];
  if (flagKey) return { type: 'flag', flag: flagKey[0], set: flagKey[1] };
  const header = HEADER_KEYS[name];
  if (header) {
    reader.sp();
    const value = reader.astring();
    return header === 'subject'
      ? { type: 'header', field: header, value }
      : { type: 'header', field: header, value, address: true };
  }
  const dateKey = DATE_KEYS[name];
  if (dateKey) {
    reader.sp();
    return { type: 'date', field: dateKey[0], op: dateKey[1], date: reader.date() };
  }
  switch (name) {
    case 'ALL':
      return { type: 'all' };
    case 'RECENT':
      return { type: 'uid', ranges: tracker.recentUids() };
    case 'OLD':
      return { type: 'not', key: { type: 'uid', ranges: tracker.recentUids() } };
    case 'NEW':
      return {
        type: 'and',
        keys: [
          { type: 'uid', ranges: tracker.recentUids() },
          { type: 'flag', flag: '\\Seen', set: false },
        ],
      };
    case 'KEYWORD':
    case 'UNKEYWORD':
      reader.sp();
      return { type: 'flag', flag: reader.atom(), set: name === 'KEYWORD' };
    case 'BODY':
    case 'TEXT':
      reader.sp();
      return { type: 'text', where: name === 'BODY' ? 'body' : 'text', value: reader.astring() };
    case 'HEADER': {
      reader.sp();
      const field = reader.astring();
      reader.sp();
      return { type: 'header', field, value: reader.astring() };
    }
    case 'LARGER':
    case 'SMALLER':
      reader.sp();
      return { type: 'size', op: name === 'LARGER' ? 'larger' : 'smaller', size: reader.number() };
    case 'NOT':
      reader.sp();
      return { type: 'not', key: readKey(p, depth + 1) };
    case 'OR': {
      reader.sp();
      const left = readKey(p, depth + 1);
      reader.sp();
      return { type: 'or', left, right: readKey(p, depth + 1) };
    }
    case 'UID':
      reader.sp();
      return { type: 'uid', ranges: tracker.uidSetToUids(reader.sequenceSet()) };
    case 'MODSEQ': {
      reader.sp();
      // RFC 7162: optional entry name and type, which only matter for per-flag modseqs.
      if (reader.peek() === 0x22) {
        reader.string();
        reader.sp();
        reader.atom();
        reader.sp();
      }
      p.usesModseq = true;
      return { type: 'modseq', modseq: reader.number64() };
    }
    default:
      throw new ParseError(`Unknown search key ${name}`);
  }
}

/** RFC 4731 search-return-opt; SAVE is RFC 5182's. */
type ReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE';
const RETURN_OPTIONS = new Set<string>(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE']);

/** `RETURN (...)`, or null for a plain SEARCH (answered with `* SEARCH`). */
function readReturn(reader: CommandReader): Set<ReturnOption> | null {
  if (!reader.peekWord('RETURN')) return null;
  reader.word();
  reader.sp();
  const options = new Set<ReturnOption>();
  reader.list(() => {
    const option = reader.word();
    if (!RETURN_OPTIONS.has(option)) throw new ParseError(`Unknown RETURN option ${option}`);
    options.add(option as ReturnOption);
  });
  reader.sp();
  // RFC 4731 3.1: RETURN () means RETURN (ALL).
  if (options.size === 0) options.add('ALL');
  return options;
}

/**
 * The messages a RETURN asks about: MIN and MAX alone need only those two (and SAVE then
 * keeps only them, RFC 5182 2.4), ALL and COUNT need every match.
 */
function returned(found: number[], options: Set<ReturnOption>): number[] {
  if (options.has('ALL') || options.has('COUNT') || found.length === 0) return found;
  const out: number[] = [];
  if (options.has('MIN')) out.push(found[0]!);
  if (options.has('MAX') && (out.length === 0 || found.at(-1) !== out[0])) out.push(found.at(-1)!);
  return options.has('MIN') || options.has('MAX') ? out : found;
}

/** RFC 4731 `* ESEARCH (TAG "t") [UID] MIN n MAX n ALL set COUNT n` (MIN, MAX, ALL when found). */
function esearchResponse(
  tag: string,
  uid: boolean,
  ids: number[],
  options: Set<ReturnOption>,
  modseq: string,
): string {
  let line = `* ESEARCH (TAG ${string(tag)})${uid ? ' UID' : ''}`;
  if (ids.length && options.has('MIN')) line += ` MIN ${ids[0]}`;
  if (ids.length && options.has('MAX')) line += ` MAX ${ids.at(-1)}`;
  // Dovecot's order (the RFC allows any).
  if (ids.length && options.has('ALL')) line += ` ALL ${sequenceSet(ids)}`;
  if (options.has('COUNT')) line += ` COUNT ${ids.length}`;
  return line + modseq;
}

export const search: Command = {
  states: SELECTED,
  uidVariant: true,
  allowsExpunge: (uid) => uid,
  announcesNewMail: false,
  async run(ctx) {
    const { session, reader } = ctx;
    const { tracker } = session.selected!;
    reader.sp();
    const options = readReturn(reader);
    if (!options?.has('SAVE')) return runSearch(ctx, options);
    try {
      const result = await runSearch(ctx, options);
      if (result.status !== 'OK') tracker.saveResult([]);
      return result;
    } catch (error) {
      // RFC 5182 2.1: a SEARCH that fails leaves `$` empty, so a pipelined FETCH $ does nothing.
      tracker.saveResult([]);
      throw error;
    }
  },
};

/** Whether SEARCH, SORT and THREAD can read strings in this charset. */
export function supportedCharset(charset: string): boolean {
  return CHARSETS.has(charset.toUpperCase());
}

export const BADCHARSET = 'BADCHARSET (UTF-8 US-ASCII)';

/** SEARCH criteria up to the end of the command (SORT and THREAD end with them too). */
export function readCriteria(
  reader: CommandReader,
  tracker: MailboxTracker,
): { key: SearchKey; usesModseq: boolean } {
  const parser: KeyParser = { reader, tracker, keys: 0, usesModseq: false };
  const keys: SearchKey[] = [readKey(parser, 0)];
  while (reader.maybeSp()) keys.push(readKey(parser, 0));
  reader.end();
  return {
    key: keys.length === 1 ? keys[0]! : { type: 'and', keys },
    usesModseq: parser.usesModseq,
  };
}

/** The UIDs matching `key` that the session knows and that are not expunged, ascending. */
export async function matchingUids(session: ImapSession, key: SearchKey): Promise<number[]> {
  const { tracker, mailbox } = session.selected!;
  return (await new SearchEvaluator(session.account, mailbox.id).search(key)).filter((u) =>
    tracker.isLive(u),
  );
}

/** RFC 7162 3.1.5: the highest MODSEQ of the matches, once a criterion named MODSEQ. */
export async function highestModseq(session: ImapSession, uids: number[]): Promise<number> {
  session.condstore = true;
  let highest = 0;
  const ranges = uids.map((u) => ({ start: u, end: u }));
  if (ranges.length)
    for await (const m of session.account.fetch(session.selected!.mailbox.id, ranges))
      highest = Math.max(highest, m.modseq);
  return highest;
}

async function runSearch(
  { session, reader, uid, tag }: CommandContext,
  options: Set<ReturnOption> | null,
): Promise<CommandResult> {
  const { tracker } = session.selected!;
  if (reader.peekWord('CHARSET')) {
    reader.word();
    reader.sp();
    if (!supportedCharset(reader.astring())) return no('Unsupported charset', BADCHARSET);
    reader.sp();
  }
  const { key, usesModseq } = readCriteria(reader, tracker);
  const found = await matchingUids(session, key);
  // What the answer is about: every match, or MIN/MAX alone.
  const subject = options ? returned(found, options) : found;
  if (options?.has('SAVE')) tracker.saveResult(subject);
  let modseq = '';
  if (usesModseq) {
    // Over every match, also for MIN or MAX alone (as Dovecot answers).
    const highest = await highestModseq(session, found);
    if (highest) modseq = options ? ` MODSEQ ${highest}` : ` (MODSEQ ${highest})`;
  }
  const ids = uid ? found : tracker.seqsOf(found);
  if (!options) session.send(`* SEARCH${ids.map((n) => ' ' + n).join('')}${modseq}`);
  // RFC 5182 2.4: SAVE alone gets no ESEARCH response.
  else if (options.size > 1 || !options.has('SAVE'))
    session.send(esearchResponse(tag, uid, ids, options, modseq));
  return ok('SEARCH completed');
}
