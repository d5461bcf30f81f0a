/**
 * QRESYNC's catch-up (RFC 7162 3.2.5 and 3.2.6): what a client that was away missed, given
 * the MODSEQ it last saw, in two parts: the UIDs it knows that are gone (VANISHED (EARLIER))
 * and the messages whose flags changed (FETCH FLAGS MODSEQ). Used by SELECT/EXAMINE with the
 * QRESYNC parameter and by UID FETCH with the VANISHED modifier.
 */
import type { UidRange } from '../backend.js';
import { flagsUpdate, sequenceSet } from '../protocol/encoder.js';
import type { ImapSession } from '../session.js';

/** `* VANISHED (EARLIER) …` for the UIDs within `scope` expunged after `modseq`, if any. */
export async function reportVanished(
  session: ImapSession,
  modseq: number,
  scope: UidRange[],
): Promise<void> {
  const { mailbox, tracker } = session.selected!;
  const gone = session.account.expungedSince
    ? await session.account.expungedSince(mailbox.id, modseq, scope)
    : missingUids(scope, tracker.knownUids(), await nextUid(session));
  if (gone.length) session.send(`* VANISHED (EARLIER) ${sequenceSet(gone)}`);
}

/** `* n FETCH (UID u FLAGS (…) MODSEQ (m))` for the messages within `scope` changed after `modseq`. */
export async function reportChanged(
  session: ImapSession,
  modseq: number,
  scope: UidRange[],
): Promise<void> {
  const { mailbox, tracker } = session.selected!;
  for await (const meta of session.account.fetch(mailbox.id, scope, { changedSince: modseq })) {
    const seq = tracker.seqOf(meta.uid);
    if (!seq) continue;
    const flags = tracker.flagsOf(meta.uid, meta.flags);
    session.send(flagsUpdate(seq, flags, { uid: meta.uid, modseq: meta.modseq }));
  }
}

/**
 * Without a record of expunges: every UID in `scope` below UIDNEXT that does not exist now.
 * RFC 7162 3.2.5.1 lets a server report UIDs expunged before the client's MODSEQ too; a
 * client ignores the ones it never had.
 */
export function missingUids(
  scope: UidRange[],
  existing: readonly number[],
  uidNext: number,
): number[] {
  const present = new Set(existing);
  const gone: number[] = [];
  for (const range of scope) {
    const end = Math.min(range.end, uidNext - 1);
    for (let uid = Math.max(1, range.start); uid <= end; uid++)
      if (!present.has(uid)) gone.push(uid);
  }
  return [...new Set(gone)].sort((a, b) => a - b);
}

async function nextUid(session: ImapSession): Promise<number> {
  return (await session.account.status(session.selected!.mailbox.id)).uidNext;
}
