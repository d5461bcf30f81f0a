import { ParseError } from '../protocol/parser.js';
import { ANY_STATE, ok, type Command } from './types.js';

/** RFC 2971: the client's fields are read (and bounded) but not logged, they identify the user's software. */
export const id: Command = {
  states: ANY_STATE,
  async run({ session, reader }) {
    reader.sp();
    if (reader.peekWord('NIL')) {
      reader.atom();
    } else {
      let count = 0;
      reader.list(() => {
        if (++count > 60) throw new ParseError('Too many ID fields');
        reader.string();
        reader.sp();
        reader.nstring();
      });
    }
    reader.end();
    session.send('* ID ("name" "Leapbird" "vendor" "Leapbird")');
    return ok('ID completed');
  },
};
