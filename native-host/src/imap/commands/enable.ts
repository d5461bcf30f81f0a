import { AUTHENTICATED, ok, type Command } from './types.js';

/** RFC 5161: CONDSTORE and QRESYNC (which implies CONDSTORE, RFC 7162 3.2.3) can be enabled. */
export const enable: Command = {
  states: AUTHENTICATED,
  async run({ session, reader }) {
    const enabled: string[] = [];
    do {
      reader.sp();
      const name = reader.keyword();
      if (name === 'CONDSTORE' && !enabled.includes(name)) {
        session.condstore = true;
        enabled.push(name);
      }
      if (name === 'QRESYNC' && !enabled.includes(name)) {
        session.condstore = session.qresync = true;
        enabled.push(name);
      }
    } while (!reader.atEnd());
    session.send(`* ENABLED${enabled.map((e) => ' ' + e).join('')}`);
    return ok('ENABLE completed');
  },
};
