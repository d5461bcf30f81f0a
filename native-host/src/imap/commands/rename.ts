import { AUTHENTICATED, ok, type Command } from './types.js';

export const rename: Command = {
  states: AUTHENTICATED,
  async run({ session, reader }) {
    reader.sp();
    const from = reader.mailbox();
    reader.sp();
    const to = reader.mailbox();
    reader.end();
    await session.account.renameMailbox(from, to);
    return ok('RENAME completed');
  },
};
