import { AUTHENTICATED, no, ok, type Command } from './types.js';
import { storableFlags } from './util.js';

export const append: Command = {
  states: AUTHENTICATED,
  async run({ session, reader }) {
    reader.sp();
    const name = reader.mailbox();
    reader.sp();
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
    if (!reader.atLiteral()) return no('APPEND needs the message as a literal');
    const content = reader.stringBytes();
    reader.end();
    const mailbox = await session.account.getMailbox(name);
    if (!mailbox) return no('No such mailbox', 'TRYCREATE');
    const result = await session.account.append(
      mailbox.id,
      { content, flags, internalDate },
      { origin: session },
    );
    return ok('APPEND completed', `APPENDUID ${result.uidValidity} ${result.uid}`);
  },
};
