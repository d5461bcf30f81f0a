/**
 * One session's view of its selected mailbox (after go-imap's tracker.go): the UID behind each
 * sequence number, and the changes made elsewhere that this client has not been told about
 * yet. Expunges wait until a command allows EXPUNGE responses (RFC 3501 7.4.1: never during
 * FETCH, STORE or SEARCH), so sequence numbers never shift under a client's feet.
 */
import type { MailboxChange, MailboxSnapshot, UidRange } from './backend.js';
import { flagsUpdate, sequenceSet } from './protocol/encoder.js';
import { ParseError, type SequenceSet } from './protocol/parser.js';
import { uidsToRanges } from './search.js';

export class MailboxTracker {
  /** UIDs in sequence order as the client knows them (including expunges not yet reported). */
  private readonly uids: number[];
  private readonly pendingExpunges = new Set<number>();
  private readonly pendingAdded: number[] = [];
  private readonly pendingFlags = new Map<number, { flags: string[]; modseq: number }>();
  private readonly snapshotModseq: number;
  /** Keywords the client was told of (FLAGS); a new one is announced before its FETCH. */
  private readonly keywords: Set<string>;
  private keywordsChanged = false;
  highestModseq: number;
  /** The mailbox disappeared or its UIDs were reassigned: the session must end. */
  invalidated = false;
  /** Messages that are \Recent in this session (see recent.ts). */
  private readonly recent = new Set<number>();
  /**
   * RFC 5182 search result variable (`$`): UIDs, ascending, saved by SEARCH RETURN (SAVE).
   * Lives with the selection, so SELECT and UNSELECT empty it.
   */
  private savedResult: number[] = [];

  constructor(
    snapshot: MailboxSnapshot,
    private readonly mailboxId: string,
    /** Flag changes this session made itself are answered by its STORE, not again here. */
    private readonly origin: unknown,
    /** Takes (or, read-only, reads) the not yet recent messages up to a UID this client knows. */
    private readonly claimRecent: (upToUid: number) => number[] = () => [],
  ) {
    this.uids = Array.from(snapshot.uids);
    this.keywords = new Set(snapshot.keywords);
    this.snapshotModseq = snapshot.status.highestModseq;
    this.highestModseq = snapshot.status.highestModseq;
    this.takeRecent();
  }

  private takeRecent(): boolean {
    const before = this.recent.size;
    for (const uid of this.claimRecent(this.lastUid)) this.recent.add(uid);
    return this.recent.size > before;
  }

  /** The RECENT count (RFC 3501 7.3.2). */
  get recentCount(): number {
    return this.recent.size;
  }

  /** What SEARCH RECENT matches. */
  recentUids(): UidRange[] {
    // Claimed in bursts of consecutive UIDs, so few ranges: SEARCH stays one SQL statement.
    return uidsToRanges([...this.recent].sort((a, b) => a - b));
  }

  /**
   * A message's flags as this session shows them: \Recent added, after the other system flags
   * and before the keywords as Dovecot writes it, where this session holds the message.
   */
  flagsOf(uid: number, flags: readonly string[]): readonly string[] {
    if (!this.recent.has(uid)) return flags;
    const system = flags.filter((f) => f.startsWith('\\'));
    return [...system, '\\Recent', ...flags.filter((f) => !f.startsWith('\\'))];
  }

  get count(): number {
    return this.uids.length + this.pendingAdded.length;
  }

  /** Highest UID this client knows of (0 when none). */
  get lastUid(): number {
    return this.uids.length ? this.uids[this.uids.length - 1]! : 0;
  }

  hasPending(): boolean {
    return (
      this.pendingAdded.length > 0 || this.pendingExpunges.size > 0 || this.pendingFlags.size > 0
    );
  }

  apply(change: MailboxChange): void {
    switch (change.type) {
      case 'messages-added': {
        if (change.mailboxId !== this.mailboxId) return;
        const last = this.pendingAdded.at(-1) ?? this.lastUid;
        let max = last;
        for (const m of change.messages) {
          this.learnKeywords(m.flags);
          if (m.modseq <= this.snapshotModseq || m.uid <= max) continue;
          this.pendingAdded.push(m.uid);
          max = m.uid;
          this.highestModseq = Math.max(this.highestModseq, m.modseq);
        }
        return;
      }
      case 'flags-changed': {
        if (change.mailboxId !== this.mailboxId) return;
        for (const m of change.messages) {
          if (m.modseq <= this.snapshotModseq) continue;
          // Learnt from the session's own STORE too, so it is announced once, now.
          this.learnKeywords(m.flags);
          this.highestModseq = Math.max(this.highestModseq, m.modseq);
          const pending = this.pendingFlags.get(m.uid);
          if (pending && pending.modseq >= m.modseq) continue;
          // The session's own change is answered by its STORE; but an older change from
          // elsewhere still waiting for this UID must not be sent after that answer, so it
          // takes the newest state (a .SILENT STORE still learns the other session's part).
          if (change.origin !== undefined && change.origin === this.origin && !pending) continue;
          this.pendingFlags.set(m.uid, { flags: m.flags, modseq: m.modseq });
        }
        return;
      }
      case 'messages-expunged': {
        if (change.mailboxId !== this.mailboxId || change.modseq <= this.snapshotModseq) return;
        this.highestModseq = Math.max(this.highestModseq, change.modseq);
        for (const uid of change.uids) {
          const added = this.pendingAdded.indexOf(uid);
          // A message added and removed before the client heard of it never existed for it.
          if (added >= 0) this.pendingAdded.splice(added, 1);
          else this.pendingExpunges.add(uid);
          this.pendingFlags.delete(uid);
        }
        return;
      }
      case 'mailbox-deleted':
      case 'uidvalidity-changed':
        if (change.mailboxId === this.mailboxId) this.invalidated = true;
        return;
      default:
        return;
    }
  }

  private learnKeywords(flags: readonly string[]): void {
    for (const flag of flags) {
      if (flag.startsWith('\\') || this.keywords.has(flag)) continue;
      this.keywords.add(flag);
      this.keywordsChanged = true;
    }
  }

  /**
   * The mailbox's keywords when one was added since the client last heard (Dovecot sends
   * FLAGS and PERMANENTFLAGS then, RFC 3501 7.2.6); null otherwise.
   */
  newKeywords(): string[] | null {
    if (!this.keywordsChanged) return null;
    this.keywordsChanged = false;
    return [...this.keywords];
  }

  /** The client was just sent this UID's flags as of `modseq` (a STORE answer): nothing older is pending. */
  reported(uid: number, modseq: number): void {
    const pending = this.pendingFlags.get(uid);
    if (pending && pending.modseq <= modseq) this.pendingFlags.delete(uid);
  }

  /** Sequence number of a UID, or 0 when the client does not know it. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.uids[mid]!;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  uidOf(seq: number): number {
    return this.uids[seq - 1] ?? 0;
  }

  /** The UIDs the client knows (in the snapshot or reported since), ascending. */
  knownUids(): readonly number[] {
    return this.uids;
  }

  /** A message the client knows and that has not been expunged since. */
  isLive(uid: number): boolean {
    return this.seqOf(uid) > 0 && !this.pendingExpunges.has(uid);
  }

  /**
   * Sequence numbers → UID ranges. `*` is the last message. A range reaching past the end is
   * cut there (as Dovecot does); a number or range wholly beyond it is an error (RFC 3501
   * 6.4.8 wants BAD), except `*` in an empty mailbox, which means nothing.
   */
  sequenceToUids(set: SequenceSet): UidRange[] {
    if (set.saved) return this.savedRanges();
    const n = this.uids.length;
    const ranges: UidRange[] = [];
    for (const r of set.ranges) {
      if (n === 0 && (r.start === 0 || r.end === 0)) continue;
      const a = r.start === 0 ? n : r.start;
      const b = r.end === 0 ? n : r.end;
      const lo = Math.min(a, b);
      const hi = Math.min(Math.max(a, b), n);
      if (lo > n) throw new ParseError('Invalid message sequence number.');
      ranges.push({ start: this.uids[lo - 1]!, end: this.uids[hi - 1]! });
    }
    return ranges;
  }

  /** UID set → UID ranges, `*` being the highest UID the client knows (RFC 3501 6.4.8). */
  uidSetToUids(set: SequenceSet): UidRange[] {
    if (set.saved) return this.savedRanges();
    const last = this.lastUid;
    return set.ranges
      .map((r) => {
        const a = r.start === 0 ? last : r.start;
        const b = r.end === 0 ? last : r.end;
        return { start: Math.min(a, b), end: Math.max(a, b) };
      })
      .filter((r) => r.end > 0);
  }

  /** SEARCH RETURN (SAVE): `uids` (ascending) become what `$` means. */
  saveResult(uids: readonly number[]): void {
    this.savedResult = [...uids];
  }

  /**
   * `$` as UID ranges. An expunged message drops out of it (RFC 5182 2.1): the UIDs of
   * messages no longer here match nothing in a backend, and never come back.
   */
  private savedRanges(): UidRange[] {
    return uidsToRanges(this.savedResult.filter((u) => !this.pendingExpunges.has(u)));
  }

  /** Sequence numbers of the client-known UIDs in a set, ascending (for SEARCH and MODIFIED). */
  seqsOf(uids: Iterable<number>): number[] {
    const out: number[] = [];
    for (const uid of uids) {
      const seq = this.seqOf(uid);
      if (seq) out.push(seq);
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * Untagged responses for what changed: EXPUNGE (only when allowed), FETCH FLAGS, EXISTS.
   * `withModseq` adds MODSEQ to FETCH once CONDSTORE is enabled (RFC 7162 3.2); `vanished`
   * reports expunges as one VANISHED response once QRESYNC is enabled (RFC 7162 3.2.10);
   * without `announceNew`, new messages wait (EXISTS) for a later flush.
   */
  flush(
    allowExpunge: boolean,
    withModseq: boolean,
    vanished = false,
    announceNew = true,
  ): string[] {
    const lines: string[] = [];
    if (allowExpunge && this.pendingExpunges.size) {
      // Each EXPUNGE renumbers the messages after it, so the number sent is the position
      // among the messages kept so far; one pass keeps large mailboxes linear.
      let kept = 0;
      const gone: number[] = [];
      for (let i = 0; i < this.uids.length; i++) {
        const uid = this.uids[i]!;
        if (!this.pendingExpunges.has(uid)) this.uids[kept++] = uid;
        else {
          this.recent.delete(uid);
          if (vanished) gone.push(uid);
          else lines.push(`* ${kept + 1} EXPUNGE`);
        }
      }
      if (gone.length) lines.push(`* VANISHED ${sequenceSet(gone)}`);
      this.uids.length = kept;
      this.pendingExpunges.clear();
    }
    for (const [uid, { flags, modseq }] of this.pendingFlags) {
      const seq = this.seqOf(uid);
      if (!seq || this.pendingExpunges.has(uid)) continue;
      lines.push(
        flagsUpdate(seq, this.flagsOf(uid, flags), {
          uid,
          modseq: withModseq ? modseq : undefined,
        }),
      );
    }
    this.pendingFlags.clear();
    if (announceNew && this.pendingAdded.length) {
      this.uids.push(...this.pendingAdded);
      this.pendingAdded.length = 0;
      lines.push(`* ${this.uids.length} EXISTS`);
      if (this.takeRecent()) lines.push(`* ${this.recent.size} RECENT`);
    }
    return lines;
  }
}
