import { deletedUids, uidsToRanges } from '../search.js';
import { SELECTED, ok, type Command } from './types.js';

/**
 * CLOSE removes \Deleted messages without EXPUNGE responses (RFC 3501 6.4.2) unless the
 * mailbox is read-only; UNSELECT (RFC 3691) only leaves.
 */
function closeCommand(expunge: boolean): Command {
  return {
    states: SELECTED,
    async run({ session, reader }) {
      reader.end();
      const selected = session.selected!;
      session.deselect();
      if (expunge && !selected.readOnly) {
        const uids = await deletedUids(session.account, selected.mailbox.id);
        if (uids.length)
          await session.account.expunge(selected.mailbox.id, uidsToRanges(uids), {
            origin: session,
          });
      }
      return ok(expunge ? 'CLOSE completed' : 'UNSELECT completed');
    },
  };
}

export const close = closeCommand(true);
export const unselect = closeCommand(false);
