import type { MailboxInfo } from '../backend.js';
import { string } from '../protocol/encoder.js';
import { ParseError, type CommandReader } from '../protocol/parser.js';
import { encodeMailboxName } from '../protocol/utf7.js';
import type { ImapSession } from '../session.js';
import { AUTHENTICATED, ok, type Command } from './types.js';
import { requireMailbox } from './util.js';

const STATUS_ITEMS = [
  'MESSAGES',
  'RECENT',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'HIGHESTMODSEQ',
] as const;
type StatusItem = (typeof STATUS_ITEMS)[number];

export function readStatusItems(reader: CommandReader): StatusItem[] {
  const items: StatusItem[] = [];
  reader.list(() => {
    const item = reader.keyword();
    if (!(STATUS_ITEMS as readonly string[]).includes(item))
      throw new ParseError(`Unknown STATUS item ${item}`);
    items.push(item as StatusItem);
  }, false);
  return items;
}

/** The `* STATUS` line, shared by STATUS and LIST ... RETURN (STATUS). */
export async function statusLine(
  session: ImapSession,
  mailbox: MailboxInfo,
  items: StatusItem[],
): Promise<string> {
  const status = await session.account.status(mailbox.id);
  const values: Record<StatusItem, number> = {
    MESSAGES: status.messages,
    RECENT: session.recentCount(mailbox.id),
    UIDNEXT: status.uidNext,
    UIDVALIDITY: status.uidValidity,
    UNSEEN: status.unseen,
    HIGHESTMODSEQ: status.highestModseq,
  };
  if (items.includes('HIGHESTMODSEQ')) session.condstore = true;
  return `* STATUS ${string(encodeMailboxName(mailbox.name))} (${items.map((i) => `${i} ${values[i]}`).join(' ')})`;
}

export const status: Command = {
  states: AUTHENTICATED,
  async run({ session, reader }) {
    reader.sp();
    const name = reader.mailbox();
    reader.sp();
    const items = readStatusItems(reader);
    reader.end();
    const mailbox = await requireMailbox(session, name);
    session.send(await statusLine(session, mailbox, items));
    return ok('STATUS completed');
  },
};
