import { no, ok, type Command } from './types.js';

export const login: Command = {
  states: ['not-authenticated'],
  async run({ session, reader }) {
    reader.sp();
    const user = reader.astring();
    reader.sp();
    const password = reader.astring();
    reader.end();
    if (!(await session.login(user, password)))
      return no('Invalid credentials', 'AUTHENTICATIONFAILED');
    return ok('Logged in', `CAPABILITY ${session.capabilities().join(' ')}`);
  },
};
