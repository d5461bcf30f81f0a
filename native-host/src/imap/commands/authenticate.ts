import { bad, no, ok, type Command } from './types.js';

/** SASL PLAIN (RFC 4616), with or without an initial response (SASL-IR, RFC 4959). */
export const authenticate: Command = {
  states: ['not-authenticated'],
  async run({ session, reader }) {
    reader.sp();
    const mechanism = reader.atom().toUpperCase();
    let initial: string | null = null;
    if (reader.maybeSp()) {
      const ir = reader.rest();
      initial = ir === '=' ? '' : ir;
    }
    if (initial !== null && initial.includes(' ')) return bad('Invalid initial response');
    reader.end();
    if (mechanism !== 'PLAIN') return no('Unsupported authentication mechanism', 'CANNOT');
    let response = initial;
    if (response === null) {
      await session.write('+ \r\n');
      response = await session.readLine();
      if (response === null) return bad('Authentication aborted');
    }
    if (response.trim() === '*') return bad('Authentication cancelled');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(response.trim()))
      return bad('Invalid base64 in the response');
    const parts = Buffer.from(response.trim(), 'base64').toString('utf8').split('\0');
    if (parts.length !== 3) return bad('Invalid PLAIN response');
    const [authzid, user, password] = parts as [string, string, string];
    // Acting as another user (a different authorization identity) is not supported.
    if (authzid !== '' && authzid !== user)
      return no('Authorization identity not allowed', 'AUTHORIZATIONFAILED');
    if (!(await session.login(user, password)))
      return no('Invalid credentials', 'AUTHENTICATIONFAILED');
    return ok('Logged in', `CAPABILITY ${session.capabilities().join(' ')}`);
  },
};
