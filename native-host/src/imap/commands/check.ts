import { SELECTED, ok, type Command } from './types.js';

/** Every change is durable when its command completes, so there is nothing to checkpoint. */
export const check: Command = {
  states: SELECTED,
  async run({ reader }) {
    reader.end();
    return ok('CHECK completed');
  },
};
