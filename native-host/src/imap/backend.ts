/**
 * The storage interface behind the local IMAP server (after go-imap v2's `imapserver.Session`
 * and gluon's state/db split). The wire layer knows nothing of storage and storage knows
 * nothing of the wire: mailboxes are addressed by a stable id, messages by UID; sequence
 * numbers exist only inside a session (see tracker.ts).
 *
 * Implemented by `native-host/src/store/` (encrypted SQLite + blobs) and by `memory/` for the
 * server's own tests. `test/imap/backend-contract.ts` is the executable version of the rules
 * written in the comments below; every implementation must pass it.
 */
import type { Envelope, BodyStructure, PartLayout } from '../mime/index.js';

/** The hierarchy delimiter of every mailbox name. */
export const MAILBOX_DELIMITER = '/';

/** RFC 6154 special-use attributes. */
export type SpecialUse =
  '\\All' | '\\Archive' | '\\Drafts' | '\\Flagged' | '\\Junk' | '\\Sent' | '\\Trash';

/** System flags the server knows; any other flag is a keyword (atom). \Recent is not stored. */
export const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const;

export interface MailboxInfo {
  /** Stable across RENAME, never reused. */
  id: string;
  /** Full name with '/' as delimiter; the inbox is always exactly "INBOX". */
  name: string;
  specialUse: SpecialUse | null;
  subscribed: boolean;
}

export interface MailboxStatus {
  /** Non-zero 32-bit value; changes only when UIDs are really reassigned. */
  uidValidity: number;
  /** The UID the next appended message will get (strictly greater than every UID ever given). */
  uidNext: number;
  /** Greater than or equal to every message's modseq and every expunge's modseq; >= 1. */
  highestModseq: number;
  messages: number;
  unseen: number;
}

export interface MessageFlags {
  uid: number;
  /** Flags as IMAP atoms, e.g. "\\Seen", "$Forwarded"; no duplicates, no \Recent. */
  flags: string[];
  /** CONDSTORE modification sequence: raised on every flag change, unique per change within a mailbox. */
  modseq: number;
}

/** What SELECT needs, taken atomically at one modseq. */
export interface MailboxSnapshot {
  mailbox: MailboxInfo;
  status: MailboxStatus;
  /** Every UID in the mailbox, ascending. Sequence number n is uids[n-1] for the session. */
  uids: Uint32Array;
  /** Keywords in use in the mailbox (for the FLAGS response); system flags not included. */
  keywords: string[];
  /** Lowest UID without \Seen, or null. */
  firstUnseenUid: number | null;
}

/** Inclusive UID range; `end` may be Infinity (meaning "up to the highest UID"). */
export interface UidRange {
  start: number;
  end: number;
}

/** Which of the precomputed fields a FETCH needs, so a store can skip decoding the others. */
export interface FetchWant {
  envelope?: boolean;
  bodyStructure?: boolean;
  /** Part byte ranges, needed for BODY[section] other than the whole message. */
  layout?: boolean;
  /** The top-level header section, for BODY[HEADER...] without a readMessage per message. */
  header?: boolean;
  /**
   * The server accepts `encoded` wire forms in place of the envelope and body structure
   * objects (a backend that has them precomputed skips decoding and the server skips
   * encoding: most of the cost of a client's first look at a mailbox).
   */
  encoded?: boolean;
}

export interface MessageMeta extends MessageFlags {
  internalDate: Date;
  /** RFC822.SIZE: octets of the raw message. */
  size: number;
  /** Present when asked for in FetchWant. */
  envelope?: Envelope;
  bodyStructure?: BodyStructure;
  layout?: PartLayout;
  /**
   * The raw top-level header section including its blank line, as a latin1 string (one
   * character per octet, so nothing is lost), when asked for and the backend has it at hand
   * (it may leave it out, e.g. for a huge header: the server then reads it through
   * readMessage). A string, because that is what the server filters and sends, and what
   * a database hands out cheapest.
   */
  header?: string;
  /** Wire forms (see FetchWant.encoded); each replaces the object of the same name. */
  encoded?: { envelope?: string; bodyStructure?: string };
}

/**
 * Message bytes a backend already holds in memory, handed out as the stream the interface
 * promises; the server recognises them and skips the iteration (readMessage is on the path
 * of every message a client opens, so its per-call cost matters).
 */
export class MessageBytes implements AsyncIterable<Uint8Array> {
  constructor(readonly bytes: Uint8Array) {}
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    yield this.bytes;
  }
}

export interface FetchOptions {
  want?: FetchWant;
  /** CONDSTORE CHANGEDSINCE: only messages whose modseq is greater. */
  changedSince?: number;
}

/** Half-open byte range [start, end) of the raw message; end is clamped to the size. */
export interface ByteRange {
  start: number;
  end: number;
}

export type FlagOperation = 'add' | 'remove' | 'replace';

export interface StoreFlagsRequest {
  operation: FlagOperation;
  flags: string[];
  /** CONDSTORE UNCHANGEDSINCE: messages whose modseq is greater are not changed and are reported in `conflicts`. */
  unchangedSince?: number;
}

export interface StoreFlagsResult {
  /** Messages whose flags changed (new flags and new modseq), ascending by UID. Unchanged messages are absent. */
  changed: MessageFlags[];
  /** UIDs that failed the UNCHANGEDSINCE test, ascending. */
  conflicts: number[];
}

/** UIDPLUS COPYUID/APPENDUID data: source UID i went to destination UID i. */
export interface CopyResult {
  uidValidity: number;
  sourceUids: number[];
  destinationUids: number[];
}

export interface AppendRequest {
  /** The raw message, in chunks; may be consumed once. */
  content: AsyncIterable<Uint8Array> | Uint8Array;
  flags?: string[];
  internalDate?: Date;
}

export interface AppendResult {
  uidValidity: number;
  uid: number;
}

/**
 * Who made a change: the server passes an opaque token per session so a session can tell
 * its own changes from others' in the change feed (it has already answered its own STORE).
 */
export interface ChangeOptions {
  origin?: unknown;
}

/**
 * A search criterion with sequence numbers already translated to UIDs by the session.
 * Header/body/text matching is case-insensitive substring matching on decoded text
 * (RFC 3501 section 6.4.4); dates compare by day, ignoring time and timezone.
 */
export type SearchKey =
  | { type: 'all' }
  | { type: 'uid'; ranges: UidRange[] }
  | { type: 'flag'; flag: string; set: boolean }
  | {
      type: 'date';
      field: 'internal' | 'header';
      op: 'before' | 'on' | 'since';
      date: string; /* YYYY-MM-DD */
    }
  | { type: 'size'; op: 'larger' | 'smaller'; size: number }
  /** `address`: FROM, TO, CC, BCC, which match the parsed addresses (HEADER matches the text). */
  | { type: 'header'; field: string; value: string; address?: boolean }
  | { type: 'text'; where: 'body' | 'text'; value: string }
  | { type: 'modseq'; modseq: number }
  | { type: 'not'; key: SearchKey }
  | { type: 'or'; left: SearchKey; right: SearchKey }
  | { type: 'and'; keys: SearchKey[] };

/** A SEARCH answer for all messages but `unsure`, which the server evaluates itself. */
export interface PartialSearchAnswer {
  /** Matches among the messages not in `unsure`, ascending. */
  uids: number[];
  /** Messages the backend could not decide, ascending. */
  unsure: number[];
}

export type MailboxChange =
  | { type: 'messages-added'; mailboxId: string; messages: MessageFlags[]; origin?: unknown }
  | { type: 'flags-changed'; mailboxId: string; messages: MessageFlags[]; origin?: unknown }
  | {
      type: 'messages-expunged';
      mailboxId: string;
      uids: number[];
      modseq: number;
      origin?: unknown;
    }
  | { type: 'mailbox-created'; mailbox: MailboxInfo }
  | { type: 'mailbox-renamed'; mailbox: MailboxInfo; oldName: string }
  | { type: 'mailbox-deleted'; mailboxId: string; name: string }
  /** UIDs were reassigned: every session that has the mailbox selected must drop it. */
  | { type: 'uidvalidity-changed'; mailboxId: string };

export type MailboxChangeListener = (change: MailboxChange) => void;

/** Error codes a backend throws as BackendError; the server maps them to IMAP response codes. */
export type BackendErrorCode =
  | 'nonexistent' // [NONEXISTENT] / [TRYCREATE] for COPY, MOVE, APPEND
  | 'already-exists' // [ALREADYEXISTS]
  | 'cannot' // [CANNOT]: e.g. deleting INBOX, renaming into own child
  | 'too-big' // [TOOBIG]
  | 'bad-name' // invalid mailbox name
  | 'over-quota' // [OVERQUOTA]
  | 'unavailable'; // [UNAVAILABLE]: store locked, disk error; retry later

export class BackendError extends Error {
  constructor(
    readonly code: BackendErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BackendError';
  }
}

/**
 * One account's mailboxes. All mailbox names are full names with '/' delimiters; "INBOX"
 * is matched case-insensitively by the caller and passed as "INBOX".
 */
export interface AccountBackend {
  listMailboxes(): Promise<MailboxInfo[]>;
  /** Null when absent. */
  getMailbox(name: string): Promise<MailboxInfo | null>;
  /**
   * Creates the mailbox and any missing parents (RFC 3501 section 6.3.3).
   * Throws 'already-exists', 'bad-name'.
   */
  createMailbox(name: string, options?: { specialUse?: SpecialUse }): Promise<MailboxInfo>;
  /**
   * Renames the mailbox and its children, keeping ids and UIDVALIDITY. Renaming INBOX moves
   * its messages into a new mailbox and leaves INBOX empty (RFC 3501). Throws 'nonexistent',
   * 'already-exists', 'cannot'.
   */
  renameMailbox(from: string, to: string): Promise<MailboxInfo>;
  /** Deletes the mailbox and its messages (not its children). Throws 'nonexistent', 'cannot' (INBOX). */
  deleteMailbox(name: string): Promise<void>;
  /** Subscription does not require the mailbox to exist (RFC 3501 section 6.3.6). */
  setSubscribed(name: string, subscribed: boolean): Promise<void>;
  /** Names subscribed to, including names of mailboxes that no longer exist. */
  listSubscriptions(): Promise<string[]>;

  status(mailboxId: string): Promise<MailboxStatus>;
  openMailbox(mailboxId: string): Promise<MailboxSnapshot>;

  /** Metadata of the existing messages with UIDs in `ranges`, ascending by UID. */
  fetch(mailboxId: string, ranges: UidRange[], options?: FetchOptions): AsyncIterable<MessageMeta>;
  /**
   * The raw message bytes (decrypted), or the given part of them. Throws 'nonexistent' when
   * the message is gone.
   */
  readMessage(
    mailboxId: string,
    uid: number,
    range?: ByteRange,
  ): Promise<AsyncIterable<Uint8Array>>;

  storeFlags(
    mailboxId: string,
    uids: UidRange[],
    request: StoreFlagsRequest,
    options?: ChangeOptions,
  ): Promise<StoreFlagsResult>;
  /** Copies the messages in UID order; throws 'nonexistent' when the destination is missing. */
  copyMessages(
    mailboxId: string,
    uids: UidRange[],
    destinationId: string,
    options?: ChangeOptions,
  ): Promise<CopyResult>;
  /** As copyMessages, then expunges the sources, atomically (RFC 6851). */
  moveMessages(
    mailboxId: string,
    uids: UidRange[],
    destinationId: string,
    options?: ChangeOptions,
  ): Promise<CopyResult>;
  /** Removes the given messages (callers pass only \Deleted ones); returns the UIDs removed, ascending. */
  expunge(mailboxId: string, uids: UidRange[], options?: ChangeOptions): Promise<number[]>;
  append(mailboxId: string, request: AppendRequest, options?: ChangeOptions): Promise<AppendResult>;
  /**
   * MULTIAPPEND (RFC 3502): all the messages or none. They get consecutive UIDs in request
   * order and are announced in one change; when one cannot be stored (too big, the mailbox
   * went away) nothing is stored and the error is thrown.
   */
  appendMany(
    mailboxId: string,
    requests: AppendRequest[],
    options?: ChangeOptions,
  ): Promise<AppendResult[]>;

  /**
   * Optional fast path for SEARCH: the UIDs (ascending) matching `key` among the existing
   * messages, or null when this backend cannot evaluate it (the server then evaluates the key
   * itself through fetch and readMessage), or a partial answer that leaves some messages
   * (not yet in the backend's index, say) to the server.
   */
  search?(mailboxId: string, key: SearchKey): Promise<number[] | PartialSearchAnswer | null>;

  /**
   * Optional, for QRESYNC (RFC 7162): the UIDs within `ranges` expunged with a modseq
   * greater than `modseq`, ascending. Without it the server reports every UID a client may
   * know of that no longer exists, which the RFC allows but which is longer.
   */
  expungedSince?(mailboxId: string, modseq: number, ranges: UidRange[]): Promise<number[]>;

  /**
   * Subscribes to changes of this account from any source (other sessions, the sync engine).
   * Rules the server relies on:
   * - listeners are called synchronously, in modseq order per mailbox, and before the
   *   promise of the mutating call that caused the change resolves;
   * - every message added, flag change and expunge carries a modseq greater than the
   *   snapshot's highestModseq of any openMailbox that resolved before it, so a session that
   *   subscribes first and then opens a snapshot can drop the events already in the snapshot.
   * Returns the unsubscribe function.
   */
  watch(listener: MailboxChangeListener): () => void;
}

/** The whole store: one AccountBackend per authenticated account id. */
export interface MailboxBackend {
  account(accountId: string): Promise<AccountBackend>;
}
