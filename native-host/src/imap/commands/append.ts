import type { AppendRequest } from '../backend.js';
import { sequenceSet } from '../protocol/encoder.js';
import type { CommandReader } from '../protocol/parser.js';
import { AUTHENTICATED, no, ok, type Command } from './types.js';
import { storableFlags } from './util.js';

/** One message of an APPEND: `[flag-list SP] [date-time SP] literal`; null when no literal. */
function readMessage(reader: CommandReader): AppendRequest | null {
  let flags: string[] = [];
  let internalDate: Date | undefined;
  if (reader.peek() === 0x28) {
    flags = storableFlags(reader.flagList());
    reader.sp();
  }
  if (reader.peek() === 0x22) {
    internalDate = reader.dateTime();
    reader.sp();
  }
  // RFC 3516 literal8 (`~{n}`): the message may hold NULs, which a plain literal may not.
  reader.maybe('~');
  if (!reader.atLiteral()) return null;
  return { content: reader.stringBytes(), flags, internalDate };
}

/** APPEND, with MULTIAPPEND (RFC 3502): several messages in one command, stored all or none. */
export const append: Command = {
  states: AUTHENTICATED,
  async run({ session, reader }) {
    reader.sp();
    const name = reader.mailbox();
    reader.sp();
    const requests: AppendRequest[] = [];
    do {
      const request = readMessage(reader);
      if (!request) return no('APPEND needs each message as a literal');
      requests.push(request);
    } while (reader.maybeSp());
    reader.end();
    const mailbox = await session.account.getMailbox(name);
    if (!mailbox) return no('No such mailbox', 'TRYCREATE');
    const results =
      requests.length === 1
        ? [await session.account.append(mailbox.id, requests[0]!, { origin: session })]
        : await session.account.appendMany(mailbox.id, requests, { origin: session });
    const uids = sequenceSet(results.map((r) => r.uid));
    return ok('APPEND completed', `APPENDUID ${results[0]!.uidValidity} ${uids}`);
  },
};
