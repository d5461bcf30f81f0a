import type { UidRange } from '../backend.js';
import { ParseError, type CommandReader } from '../protocol/parser.js';
import { reportChanged, reportVanished } from './qresync.js';
import { AUTHENTICATED, bad, ok, type Command } from './types.js';
import { flagsAnnouncement, requireMailbox } from './util.js';

/** RFC 7162 3.2.5: what the client remembers of the mailbox from last time. */
interface QresyncParameter {
  uidValidity: number;
  modseq: number;
  /** known-uids; all UIDs when the client sent none. */
  knownUids: UidRange[];
}

/** `(uidvalidity modseq [known-uids] [(seq-match-data)])`; the match data is only a hint. */
function readQresync(reader: CommandReader): QresyncParameter {
  let knownUids: UidRange[] = [{ start: 1, end: Infinity }];
  reader.expect('(');
  const uidValidity = reader.nzNumber();
  reader.sp();
  const modseq = reader.number64();
  if (reader.maybeSp() && reader.peek() !== 0x28) {
    const set = reader.sequenceSet();
    if (set.saved) throw new ParseError('known-uids may not be $');
    knownUids = set.ranges.map((r) => {
      if (r.start === 0 || r.end === 0) throw new ParseError('known-uids may not use *');
      return { start: r.start, end: r.end };
    });
    reader.maybeSp();
  }
  if (reader.peek() === 0x28) {
    reader.list(() => {
      reader.sequenceSet();
      reader.sp();
      reader.sequenceSet();
    }, false);
  }
  reader.expect(')');
  return { uidValidity, modseq, knownUids };
}

/** RFC 7162 select-param, when present: `(CONDSTORE)` and/or `(QRESYNC (...))`. */
function readSelectParameters(reader: CommandReader): {
  condstore: boolean;
  qresync: QresyncParameter | null;
} {
  const params = { condstore: false, qresync: null as QresyncParameter | null };
  if (!reader.maybeSp()) return params;
  reader.list(() => {
    const parameter = reader.keyword();
    if (parameter === 'CONDSTORE') params.condstore = true;
    else if (parameter === 'QRESYNC') {
      reader.sp();
      params.qresync = readQresync(reader);
    } else throw new ParseError('Unknown SELECT parameter');
  });
  return params;
}

function selectCommand(readOnly: boolean): Command {
  return {
    states: AUTHENTICATED,
    async run({ session, reader }) {
      reader.sp();
      const name = reader.mailbox();
      const { condstore, qresync } = readSelectParameters(reader);
      reader.end();
      if (qresync && !session.qresync) return bad('QRESYNC must be enabled first');
      // RFC 7162 3.2.11: the mailbox a SELECT replaces is announced as closed.
      if (session.selected) session.send('* OK [CLOSED] Previous mailbox closed');
      // A failed SELECT leaves no mailbox selected (RFC 3501 6.3.1).
      session.deselect();
      const mailbox = await requireMailbox(session, name);
      if (condstore) session.condstore = true;
      const snapshot = await session.select(mailbox, readOnly);
      for (const line of flagsAnnouncement(snapshot.keywords, readOnly)) session.send(line);
      session.send(`* ${snapshot.uids.length} EXISTS`);
      session.send(`* ${session.selected!.tracker.recentCount} RECENT`);
      if (snapshot.firstUnseenUid !== null) {
        const seq = session.selected!.tracker.seqOf(snapshot.firstUnseenUid);
        if (seq) session.send(`* OK [UNSEEN ${seq}] First unseen`);
      }
      session.send(`* OK [UIDVALIDITY ${snapshot.status.uidValidity}] UIDs valid`);
      session.send(`* OK [UIDNEXT ${snapshot.status.uidNext}] Predicted next UID`);
      session.send(`* OK [HIGHESTMODSEQ ${snapshot.status.highestModseq}] Highest`);
      // A different UIDVALIDITY means the client's copy is void: it gets nothing to catch up.
      if (qresync && qresync.uidValidity === snapshot.status.uidValidity) {
        await reportVanished(session, qresync.modseq, qresync.knownUids);
        await reportChanged(session, qresync.modseq, qresync.knownUids);
      }
      return ok(
        `${readOnly ? 'EXAMINE' : 'SELECT'} completed`,
        readOnly ? 'READ-ONLY' : 'READ-WRITE',
      );
    },
  };
}

export const select = selectCommand(false);
export const examine = selectCommand(true);
