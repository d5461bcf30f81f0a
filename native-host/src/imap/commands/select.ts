import { ParseError } from '../protocol/parser.js';
import { AUTHENTICATED, ok, type Command } from './types.js';
import { SYSTEM_FLAG_LIST, requireMailbox } from './util.js';

function selectCommand(readOnly: boolean): Command {
  return {
    states: AUTHENTICATED,
    async run({ session, reader }) {
      reader.sp();
      const name = reader.mailbox();
      let condstore = false;
      if (reader.maybeSp()) {
        // RFC 7162 select-param: (CONDSTORE)
        reader.list(() => {
          if (reader.keyword() !== 'CONDSTORE') throw new ParseError('Unknown SELECT parameter');
          condstore = true;
        });
      }
      reader.end();
      // A failed SELECT leaves no mailbox selected (RFC 3501 6.3.1).
      session.deselect();
      const mailbox = await requireMailbox(session, name);
      if (condstore) session.condstore = true;
      const snapshot = await session.select(mailbox, readOnly);
      const flags = [SYSTEM_FLAG_LIST, ...snapshot.keywords].join(' ');
      session.send(`* FLAGS (${flags})`);
      session.send(
        readOnly
          ? '* OK [PERMANENTFLAGS ()] Read-only mailbox'
          : `* OK [PERMANENTFLAGS (${flags} \\*)] Flags permitted`,
      );
      session.send(`* ${snapshot.uids.length} EXISTS`);
      session.send('* 0 RECENT');
      if (snapshot.firstUnseenUid !== null) {
        const seq = session.selected!.tracker.seqOf(snapshot.firstUnseenUid);
        if (seq) session.send(`* OK [UNSEEN ${seq}] First unseen`);
      }
      session.send(`* OK [UIDVALIDITY ${snapshot.status.uidValidity}] UIDs valid`);
      session.send(`* OK [UIDNEXT ${snapshot.status.uidNext}] Predicted next UID`);
      session.send(`* OK [HIGHESTMODSEQ ${snapshot.status.highestModseq}] Highest`);
      return ok(
        `${readOnly ? 'EXAMINE' : 'SELECT'} completed`,
        readOnly ? 'READ-ONLY' : 'READ-WRITE',
      );
    },
  };
}

export const select = selectCommand(false);
export const examine = selectCommand(true);
