import { deletedUids, uidsToRanges } from '../search.js';
import { SELECTED, no, ok, type Command } from './types.js';

/** EXPUNGE, and UID EXPUNGE (RFC 4315) limited to a UID set. */
export const expunge: Command = {
  states: SELECTED,
  uidVariant: true,
  async run({ session, reader, uid }) {
    const { tracker, mailbox, readOnly } = session.selected!;
    let scope;
    if (uid) {
      reader.sp();
      scope = tracker.uidSetToUids(reader.sequenceSet());
      if (scope.length === 0) {
        reader.end();
        return ok('UID EXPUNGE completed');
      }
    }
    reader.end();
    if (readOnly) return no('The mailbox is read-only', 'READ-ONLY');
    const uids = await deletedUids(session.account, mailbox.id, scope);
    // The EXPUNGE responses come from the change feed, flushed after this command.
    if (uids.length)
      await session.account.expunge(mailbox.id, uidsToRanges(uids), { origin: session });
    return ok('EXPUNGE completed');
  },
};
