import { AUTHENTICATED, ok, type Command } from './types.js';

export const deleteCommand: Command = {
  states: AUTHENTICATED,
  async run({ session, reader }) {
    reader.sp();
    const name = reader.mailbox();
    reader.end();
    await session.account.deleteMailbox(name);
    return ok('DELETE completed');
  },
};
