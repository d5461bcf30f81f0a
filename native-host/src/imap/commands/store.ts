import type { FlagOperation } from '../backend.js';
import { flagsUpdate, sequenceSet } from '../protocol/encoder.js';
import { ParseError } from '../protocol/parser.js';
import { SELECTED, no, ok, type Command } from './types.js';
import { storableFlags } from './util.js';

const OPERATIONS: Record<string, FlagOperation> = { '+': 'add', '-': 'remove', '': 'replace' };

export const store: Command = {
  states: SELECTED,
  uidVariant: true,
  allowsExpunge: (uid) => uid,
  announcesNewMail: false,
  async run({ session, reader, uid }) {
    reader.sp();
    const set = reader.sequenceSet();
    reader.sp();
    let unchangedSince: number | undefined;
    if (reader.peek() === 0x28) {
      reader.list(() => {
        if (reader.word() !== 'UNCHANGEDSINCE') throw new ParseError('Unknown STORE modifier');
        reader.sp();
        unchangedSince = reader.number64();
      }, false);
      reader.sp();
    }
    const sign = reader.maybe('+') ? '+' : reader.maybe('-') ? '-' : '';
    const item = reader.word();
    if (item !== 'FLAGS' && item !== 'FLAGS.SILENT')
      throw new ParseError('Expected FLAGS or FLAGS.SILENT');
    reader.sp();
    let flags: string[];
    if (reader.peek() === 0x28) {
      flags = reader.flagList();
    } else {
      flags = [reader.flag()];
      while (reader.maybeSp()) flags.push(reader.flag());
    }
    reader.end();
    const { tracker, mailbox, readOnly } = session.selected!;
    if (readOnly) return no('The mailbox is read-only', 'READ-ONLY');
    const ranges = uid ? tracker.uidSetToUids(set) : tracker.sequenceToUids(set);
    if (unchangedSince !== undefined) session.condstore = true;
    const result = await session.account.storeFlags(
      mailbox.id,
      ranges,
      { operation: OPERATIONS[sign]!, flags: storableFlags(flags), unchangedSince },
      { origin: session },
    );
    if (item === 'FLAGS') {
      for (const m of result.changed) {
        const seq = tracker.seqOf(m.uid);
        if (!seq) continue;
        const modseq = session.condstore ? m.modseq : undefined;
        const flags = tracker.flagsOf(m.uid, m.flags);
        session.send(flagsUpdate(seq, flags, { uid: uid ? m.uid : undefined, modseq }));
        tracker.reported(m.uid, m.modseq);
      }
    }
    if (result.conflicts.length) {
      const ids = uid ? result.conflicts : tracker.seqsOf(result.conflicts);
      return ok('Some messages were modified meanwhile', `MODIFIED ${sequenceSet(ids)}`);
    }
    return ok('STORE completed');
  },
};
