import { ANY_STATE, ok, type Command } from './types.js';

export const logout: Command = {
  states: ANY_STATE,
  async run({ session, reader }) {
    reader.end();
    session.send('* BYE Logging out');
    session.state = 'logout';
    return ok('LOGOUT completed');
  },
};
