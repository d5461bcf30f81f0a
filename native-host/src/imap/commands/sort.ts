import type { MessageMeta } from '../backend.js';
import type { Envelope } from '../../mime/index.js';
import { ParseError } from '../protocol/parser.js';
import { uidsToRanges } from '../search.js';
import type { ImapSession } from '../session.js';
import {
  SORT_KEYS,
  sortUids,
  type SortCriterion,
  type SortItem,
  type SortKeyName,
} from '../sort.js';
import {
  BADCHARSET,
  highestModseq,
  matchingUids,
  readCriteria,
  supportedCharset,
} from './search.js';
import { SELECTED, no, ok, type Command } from './types.js';

const NO_ENVELOPE: Envelope = {
  date: null,
  subject: null,
  from: null,
  sender: null,
  replyTo: null,
  to: null,
  cc: null,
  bcc: null,
  inReplyTo: null,
  messageId: null,
};

/**
 * The envelope, date and size of the messages, from the backend's precomputed fields (the
 * store keeps the ENVELOPE per message): no message is read.
 */
export async function sortItems(session: ImapSession, uids: number[]): Promise<SortItem[]> {
  const items: SortItem[] = [];
  for await (const { meta } of sortMetas(session, uids, false))
    items.push({
      uid: meta.uid,
      internalDate: meta.internalDate,
      size: meta.size,
      envelope: meta.envelope ?? NO_ENVELOPE,
    });
  return items;
}

/** The messages' metadata with the envelope (and the header, for THREAD's References). */
export async function* sortMetas(
  session: ImapSession,
  uids: number[],
  header: boolean,
): AsyncGenerator<{ meta: MessageMeta; envelope: Envelope }> {
  if (!uids.length) return;
  const ranges = uidsToRanges(uids);
  const wanted = new Set(uids);
  for await (const meta of session.account.fetch(session.selected!.mailbox.id, ranges, {
    want: { envelope: true, header },
  })) {
    if (wanted.has(meta.uid)) yield { meta, envelope: meta.envelope ?? NO_ENVELOPE };
  }
}

/** SORT and UID SORT (RFC 5256, RFC 5957): `SORT (criteria) charset search-criteria`. */
export const sort: Command = {
  states: SELECTED,
  uidVariant: true,
  allowsExpunge: (uid) => uid,
  announcesNewMail: false,
  async run({ session, reader, uid }) {
    const { tracker } = session.selected!;
    reader.sp();
    const criteria: SortCriterion[] = [];
    let reverse = false;
    reader.list(() => {
      const name = reader.word();
      if (name === 'REVERSE') {
        reverse = true;
        return;
      }
      if (!SORT_KEYS.has(name)) throw new ParseError(`Unknown sort key ${name}`);
      criteria.push({ key: name as SortKeyName, reverse });
      reverse = false;
    }, false);
    if (reverse || !criteria.length) throw new ParseError('REVERSE must precede a sort key');
    reader.sp();
    const charsetOk = supportedCharset(reader.astring());
    reader.sp();
    const { key, usesModseq } = readCriteria(reader, tracker);
    if (!charsetOk) return no('Unsupported charset', BADCHARSET);
    const found = await matchingUids(session, key);
    const sorted = sortUids(await sortItems(session, found), criteria);
    const ids = uid ? sorted : sorted.map((u) => tracker.seqOf(u));
    let modseq = '';
    if (usesModseq) {
      const highest = await highestModseq(session, found);
      if (highest) modseq = ` (MODSEQ ${highest})`;
    }
    session.send(`* SORT${ids.map((n) => ' ' + n).join('')}${modseq}`);
    return ok('SORT completed');
  },
};
