/**
 * How two devices' concurrent edits of one document become one state. RxDB calls these on
 * the device whose push conflicted; the result is pushed, so both devices end with it.
 *
 * The rules follow what the key manager would have decided had it seen both edits:
 * - a contact keeps the key with the higher validation level (LEAP: a key from a weaker source
 *   never pushes out a verified one), and everything both devices learned about that key
 *   (usage, dates, history); a key that loses goes into the history;
 * - an own key keeps the later expiry (a renewal) and its publication date;
 * - a delete against an edit: the state the provider already has wins (the first device to
 *   sync decides), as RxDB does by default.
 */
import type { RxConflictHandlerInput, WithDeleted } from 'rxdb';
import {
  levelValue,
  type ContactKeyRecord,
  type KeyHistoryEntry,
  type OwnKeyRecord,
} from '../keys/index.js';
import { pickContact, pickHistory, pickOwnKey } from './records.js';

type Merge<T> = (input: RxConflictHandlerInput<T>) => WithDeleted<T>;

export const mergeContact: Merge<ContactKeyRecord> = ({
  newDocumentState: mine,
  realMasterState: theirs,
}) => {
  if (mine._deleted || theirs._deleted) return theirs;
  const history = unionHistory(mine.history, theirs.history);
  if (mine.fingerprint === theirs.fingerprint) {
    const stronger = levelValue(mine.validation) > levelValue(theirs.validation) ? mine : theirs;
    const fresher = mine.refreshedAt > theirs.refreshedAt ? mine : theirs;
    return {
      ...pickContact(theirs),
      // A refresh may bring new subkeys or a new expiry for the same fingerprint.
      armored: fresher.armored,
      expires: fresher.expires,
      validation: stronger.validation,
      source: stronger.source,
      firstSeen: Math.min(mine.firstSeen, theirs.firstSeen),
      lastSeen: Math.max(mine.lastSeen, theirs.lastSeen),
      refreshedAt: Math.max(mine.refreshedAt, theirs.refreshedAt),
      encrUsed: mine.encrUsed || theirs.encrUsed,
      signUsed: mine.signUsed || theirs.signUsed,
      history,
      _deleted: false,
    };
  }
  const mineWins =
    levelValue(mine.validation) > levelValue(theirs.validation) ||
    (mine.validation === theirs.validation && mine.lastSeen > theirs.lastSeen);
  const [winner, loser] = mineWins ? [mine, theirs] : [theirs, mine];
  const replaced: KeyHistoryEntry = {
    fingerprint: loser.fingerprint,
    validation: loser.validation,
    source: loser.source,
    firstSeen: loser.firstSeen,
    replacedAt: Math.max(mine.lastSeen, theirs.lastSeen),
    reason: 'another device kept a better-validated or newer key',
  };
  return {
    ...pickContact(winner),
    history: unionHistory(history, [replaced]).filter((h) => h.fingerprint !== winner.fingerprint),
    _deleted: false,
  };
};

export const mergeOwnKey: Merge<OwnKeyRecord> = ({
  newDocumentState: mine,
  realMasterState: theirs,
}) => {
  if (mine._deleted || theirs._deleted) return theirs;
  const winner = mine.expires > theirs.expires ? mine : theirs;
  const published =
    mine.publicArmored === theirs.publicArmored
      ? latest(mine.publishedAt, theirs.publishedAt)
      : winner.publishedAt;
  return { ...pickOwnKey(winner), publishedAt: published, _deleted: false };
};

function latest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}

/** Both devices' history, each entry once, oldest replacement first. */
function unionHistory(a: KeyHistoryEntry[], b: KeyHistoryEntry[]): KeyHistoryEntry[] {
  const seen = new Map<string, KeyHistoryEntry>();
  for (const entry of [...a, ...b]) {
    const key = `${entry.fingerprint}|${entry.replacedAt}`;
    if (!seen.has(key)) seen.set(key, pickHistory(entry));
  }
  return [...seen.values()].sort(
    (x, y) => x.replacedAt - y.replacedAt || (x.fingerprint < y.fingerprint ? -1 : 1),
  );
}
