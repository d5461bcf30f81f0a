import { AUTHENTICATED, ok, type Command } from './types.js';

/** One personal namespace, no shared or other users' mailboxes (RFC 2342). */
export const namespace: Command = {
  states: AUTHENTICATED,
  async run({ session, reader }) {
    reader.end();
    session.send('* NAMESPACE (("" "/")) NIL NIL');
    return ok('NAMESPACE completed');
  },
};
