import { ANY_STATE, ok, type Command } from './types.js';

export const capability: Command = {
  states: ANY_STATE,
  async run({ session, reader }) {
    reader.end();
    session.send(`* CAPABILITY ${session.capabilities().join(' ')}`);
    return ok('CAPABILITY completed');
  },
};
