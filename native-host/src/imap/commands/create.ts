import { MAILBOX_DELIMITER } from '../backend.js';
import { AUTHENTICATED, no, ok, type Command } from './types.js';

export const create: Command = {
  states: AUTHENTICATED,
  async run({ session, reader }) {
    reader.sp();
    let name = reader.mailbox();
    let specialUse: string | undefined;
    if (reader.maybeSp()) {
      // RFC 6154 CREATE-SPECIAL-USE: (USE (\Sent)); only parsed so the name is not misread.
      reader.list(() => {
        reader.keyword();
        reader.sp();
        reader.list(() => {
          reader.expect('\\');
          specialUse = '\\' + reader.atom();
        });
      });
    }
    reader.end();
    // A trailing delimiter only says the client intends to create children (RFC 3501 6.3.3).
    if (name.endsWith(MAILBOX_DELIMITER)) name = name.slice(0, -1);
    if (name === 'INBOX') return no('INBOX always exists', 'ALREADYEXISTS');
    if (specialUse !== undefined)
      return no('Creating special-use mailboxes is not supported', 'USEATTR');
    await session.account.createMailbox(name);
    return ok('CREATE completed');
  },
};
