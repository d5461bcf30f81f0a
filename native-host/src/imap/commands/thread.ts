import { readAll } from '../bytes.js';
import { parseHeaderFields } from '../../mime/index.js';
import type { MessageMeta } from '../backend.js';
import { ParseError } from '../protocol/parser.js';
import type { ImapSession } from '../session.js';
import {
  THREAD_ALGORITHMS,
  messageIds,
  threads,
  type ThreadAlgorithm,
  type ThreadItem,
} from '../thread.js';
import { BADCHARSET, matchingUids, readCriteria, supportedCharset } from './search.js';
import { sortMetas } from './sort.js';
import { SELECTED, no, ok, type Command } from './types.js';

/**
 * The References header from the header the backend keeps with the message; a message
 * whose header is too big to be kept has only its header bytes read, never its body.
 */
async function referencesOf(session: ImapSession, meta: MessageMeta): Promise<string[]> {
  let header = meta.header;
  if (header === undefined) {
    const { mailbox } = session.selected!;
    let end = 0;
    for await (const m of session.account.fetch(mailbox.id, [{ start: meta.uid, end: meta.uid }], {
      want: { layout: true },
    }))
      end = m.layout?.headerEnd ?? 0;
    if (!end) return [];
    const bytes = await readAll(
      await session.account.readMessage(mailbox.id, meta.uid, { start: 0, end }),
    );
    header = bytes.toString('latin1');
  }
  return parseHeaderFields(header)
    .filter((f) => f.name === 'references')
    .flatMap((f) => messageIds(f.value));
}

/** THREAD and UID THREAD (RFC 5256): `THREAD algorithm charset search-criteria`. */
export const thread: Command = {
  states: SELECTED,
  uidVariant: true,
  allowsExpunge: (uid) => uid,
  announcesNewMail: false,
  async run({ session, reader, uid }) {
    const { tracker } = session.selected!;
    reader.sp();
    const algorithm = reader.word();
    if (!THREAD_ALGORITHMS.has(algorithm))
      throw new ParseError(`Unknown threading algorithm ${algorithm}`);
    reader.sp();
    const charsetOk = supportedCharset(reader.astring());
    reader.sp();
    const { key } = readCriteria(reader, tracker);
    if (!charsetOk) return no('Unsupported charset', BADCHARSET);
    const found = await matchingUids(session, key);
    const items: ThreadItem[] = [];
    const withReferences = algorithm === 'REFERENCES';
    for await (const { meta, envelope } of sortMetas(session, found, withReferences))
      items.push({
        uid: meta.uid,
        internalDate: meta.internalDate,
        size: meta.size,
        envelope,
        references: withReferences ? await referencesOf(session, meta) : [],
      });
    const list = threads(algorithm as ThreadAlgorithm, items, (u) => (uid ? u : tracker.seqOf(u)));
    session.send(list ? `* THREAD ${list}` : '* THREAD');
    return ok('THREAD completed');
  },
};
