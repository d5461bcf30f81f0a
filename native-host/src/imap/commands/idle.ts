import { AUTHENTICATED, bad, ok, type Command } from './types.js';

/** RFC 2177: updates are written as they happen until the client sends DONE. */
export const idle: Command = {
  states: AUTHENTICATED,
  async run({ session, reader }) {
    reader.end();
    session.queueUpdates(true);
    session.send('+ idling');
    await session.flushOutput();
    session.setIdling(true);
    try {
      const line = await session.readLine();
      if (line === null) return bad('IDLE ended');
      if (line.trim().toUpperCase() !== 'DONE') return bad('Expected DONE');
    } finally {
      session.setIdling(false);
    }
    return ok('IDLE terminated');
  },
};
