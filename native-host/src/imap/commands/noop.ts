import { ANY_STATE, ok, type Command } from './types.js';

/** NOOP does nothing but lets pending updates out (the session sends them after every command). */
export const noop: Command = {
  states: ANY_STATE,
  async run({ reader }) {
    reader.end();
    return ok('NOOP completed');
  },
};
