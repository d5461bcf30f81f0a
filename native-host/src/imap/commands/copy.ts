import { sequenceSet } from '../protocol/encoder.js';
import { SELECTED, no, ok, type Command } from './types.js';

/** COPY and MOVE (RFC 6851), both answering with UIDPLUS COPYUID (RFC 4315). */
function transfer(move: boolean): Command {
  return {
    states: SELECTED,
    uidVariant: true,
    async run({ session, reader, uid }) {
      reader.sp();
      const set = reader.sequenceSet();
      reader.sp();
      const name = reader.mailbox();
      reader.end();
      const { tracker, mailbox, readOnly } = session.selected!;
      if (move && readOnly) return no('The mailbox is read-only', 'READ-ONLY');
      const ranges = uid ? tracker.uidSetToUids(set) : tracker.sequenceToUids(set);
      const destination = await session.account.getMailbox(name);
      if (!destination) return no('No such mailbox', 'TRYCREATE');
      if (ranges.length === 0) return ok(`${move ? 'MOVE' : 'COPY'} completed`);
      const result = move
        ? await session.account.moveMessages(mailbox.id, ranges, destination.id, {
            origin: session,
          })
        : await session.account.copyMessages(mailbox.id, ranges, destination.id, {
            origin: session,
          });
      if (result.sourceUids.length === 0) return ok(`${move ? 'MOVE' : 'COPY'} completed`);
      const code = `COPYUID ${result.uidValidity} ${sequenceSet(result.sourceUids)} ${sequenceSet(result.destinationUids)}`;
      if (move) {
        // RFC 6851 3.3: COPYUID goes in an untagged OK before the EXPUNGE responses.
        session.send(`* OK [${code}] Moved`);
        return ok('MOVE completed');
      }
      return ok('COPY completed', code);
    },
  };
}

export const copy = transfer(false);
export const move = transfer(true);
