/**
 * One account's mail: the encrypted database (index) plus the encrypted blob store (bodies),
 * served to the local IMAP server through `AccountBackend` and to the sync engine through
 * the upstream-aware methods and the change queue.
 *
 * Ordering rules that make kill -9 safe: a blob is on disk (fsynced, renamed, directory
 * fsynced) before the row that points at it commits; UIDNEXT and HIGHESTMODSEQ move in the
 * same transaction as the rows that use them, so a UID is never handed out twice; blob files
 * are removed only after the transaction that dropped their last reference has committed.
 */
import { mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  BackendError,
  MAILBOX_DELIMITER,
  MessageBytes,
  type AccountBackend,
  type AppendRequest,
  type AppendResult,
  type ByteRange,
  type ChangeOptions,
  type CopyResult,
  type FetchOptions,
  type MailboxChange,
  type MailboxChangeListener,
  type MailboxInfo,
  type MailboxSnapshot,
  type MailboxStatus,
  type MessageFlags,
  type MessageMeta,
  type PartialSearchAnswer,
  type SearchKey,
  type SpecialUse,
  type StoreFlagsRequest,
  type StoreFlagsResult,
  type UidRange,
} from '../imap/index.js';
import {
  createMimeAnalyzer,
  rewriteHeaderStream,
  textPartRanges,
  type MessageAnalysis,
} from '../mime/index.js';
import { BlobStore } from './blobs.js';
import {
  openAccountDatabase,
  statementCache,
  type AccountDatabase,
  type SqliteDatabase,
  type Statement,
} from './database.js';
import { StoreError } from './errors.js';
import { applyFlagOperation, formatFlags, parseFlags, rowFlags, sameFlags } from './flags.js';
import { ChangeQueue } from './queue.js';
import { headerText, imapWireForms, MAIL_MIGRATIONS, MAIL_NAMESPACE } from './schema.js';
import { deriveStorageKeys } from './secret.js';
import { compileSearch, registerSearchFunctions } from './search.js';
import { searchDocument, searchDocumentOf, type SearchDocument } from './search-text.js';
import { TextIndex, type IndexProgress } from './text-index.js';
import { mergeRanges } from './uid-ranges.js';

const MAX_UID = 0xffffffff;
/** UIDVALIDITY counts seconds from 2020-01-01, so it fits 32 bits until 2156. */
const UIDVALIDITY_EPOCH = Date.UTC(2020, 0, 1);
const FETCH_PAGE = 256;
/**
 * A FETCH row: uid, modseq, system flag bits, keywords JSON, internal date, size, then
 * envelope, body structure (JSON or wire form), layout JSON and header, each NULL when not
 * asked for.
 */
type FetchRow = [
  number,
  number,
  number,
  string,
  number,
  number,
  string | null,
  string | null,
  string | null,
  string | null,
];

/** Blob files up to this size are read in one synchronous call (see BlobStore.readSmall). */
const SMALL_BLOB_BYTES = 256 * 1024;
/** Blobs written at once by the bulk path: enough to keep the disk busy during fsyncs. */
const BLOB_WRITERS = 4;

interface Staged {
  blobId: string;
  size: number;
  analysis: MessageAnalysis;
  /** The message header, when it is small enough to keep in the index (nearly always). */
  header: Buffer | null;
  /** Its full-text document; null when it has too much text to index. */
  doc: SearchDocument | null;
}
/**
 * Messages up to this size are kept in memory while they are stored, so their text is
 * indexed without reading the blob again; bigger ones have their text parts read back.
 */
const MAX_BUFFERED_MESSAGE = 1024 * 1024;
/** Text (header and text parts, as stored) beyond this is not indexed: evaluated instead. */
const MAX_INDEXED_TEXT = 4 * 1024 * 1024;
/** Documents the rebuild writes per transaction. */
const REBUILD_BATCH = 64;
/**
 * Message headers up to this size are kept in the (encrypted) index too, so the header
 * fetches a mail client makes for every message (BODY.PEEK[HEADER.FIELDS (...)]) never
 * open a blob.
 */
const MAX_CACHED_HEADER = 64 * 1024;

/**
 * A message the sync engine brings in. Only this way in may carry `statusFields`: the
 * `X-Leap-*` status the sync's own decryption wrote. Every other way in (an IMAP APPEND, a
 * copy dragged from another account, the outbox) has its `X-Leap-*` fields removed.
 */
export type UpstreamAppendRequest = AppendRequest & {
  upstream: UpstreamRef;
  /** Whole fields (`X-Leap-Encryption: ...`) put first in the header. */
  statusFields?: readonly string[];
};

/** Where an upstream copy of a message lives (the sync engine's key for idempotency). */
export interface UpstreamRef {
  mailbox: string;
  uidValidity: number;
  uid: number;
}

export interface StoreChangeOptions extends ChangeOptions {
  /**
   * The change came from the upstream server (applied by the sync engine): it is not queued
   * for replay upstream.
   */
  fromUpstream?: boolean;
}

export interface OpenAccountStoreOptions {
  /** The account's own directory: `account.db` and `blobs/` live in it. */
  dir: string;
  /** 32+ random bytes; the database and blob keys are derived from it. */
  storageSecret: Uint8Array;
  /** Blob chunk size in bytes (tests use small ones). */
  chunkSize?: number;
}

interface MailboxRow {
  id: number;
  name: string;
  special_use: string | null;
  uidvalidity: number;
  uidnext: number;
  highestmodseq: number;
  message_count: number;
  unseen_count: number;
}

interface MessageRow {
  id: number;
  uid: number;
  modseq: number;
  system_flags: number;
  keywords: string;
  internal_date: number;
  size: number;
  blob_id: string;
  upstream_mailbox: string | null;
  upstream_uidvalidity: number | null;
  upstream_uid: number | null;
}

export async function openAccountStore(options: OpenAccountStoreOptions): Promise<AccountStore> {
  const keys = deriveStorageKeys(options.storageSecret);
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const database = openAccountDatabase(join(options.dir, 'account.db'), { key: keys.database });
  try {
    database.registerMigrations(MAIL_NAMESPACE, MAIL_MIGRATIONS);
    const blobs = new BlobStore({
      dir: join(options.dir, 'blobs'),
      key: keys.blob,
      nameKey: keys.blobName,
      ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
    });
    return new AccountStore(database, blobs);
  } catch (error) {
    database.close();
    throw error;
  } finally {
    keys.database.fill(0);
  }
}

export class AccountStore implements AccountBackend {
  readonly queue: ChangeQueue;
  private readonly db: SqliteDatabase;
  private readonly listeners = new Set<MailboxChangeListener>();
  private readonly sql: (text: string) => Statement;
  private readonly textIndex: TextIndex;
  private rebuilding: Promise<IndexProgress> | null = null;

  constructor(
    /** The account database, shared with other modules (RxDB storage) through registerMigrations. */
    readonly database: AccountDatabase,
    readonly blobs: BlobStore,
  ) {
    this.db = database.raw;
    this.sql = statementCache(this.db);
    registerSearchFunctions(this.db);
    TextIndex.prepare(database);
    this.textIndex = new TextIndex(this.db, this.sql);
    this.queue = new ChangeQueue(this.db);
    this.transaction(() => {
      if (!this.mailboxRow('INBOX')) this.insertMailbox('INBOX', null);
    });
  }

  close(): void {
    this.database.close();
  }

  // --- Mailboxes -------------------------------------------------------------------------

  async listMailboxes(): Promise<MailboxInfo[]> {
    const rows = this.sql('SELECT * FROM mailboxes ORDER BY name').all() as MailboxRow[];
    return rows.map((row) => this.info(row));
  }

  async getMailbox(name: string): Promise<MailboxInfo | null> {
    const row = this.mailboxRow(name);
    return row ? this.info(row) : null;
  }

  async createMailbox(
    name: string,
    options: { specialUse?: SpecialUse } & StoreChangeOptions = {},
  ): Promise<MailboxInfo> {
    checkName(name);
    const created: MailboxInfo[] = [];
    this.transaction(() => {
      if (this.mailboxRow(name)) {
        throw new BackendError('already-exists', `The mailbox "${name}" already exists.`);
      }
      for (const parent of parentsOf(name)) {
        if (!this.mailboxRow(parent)) created.push(this.info(this.insertMailbox(parent, null)));
      }
      created.push(this.info(this.insertMailbox(name, options.specialUse ?? null)));
      if (!options.fromUpstream) {
        for (const box of created) this.queue.append('create-mailbox', { mailbox: box.name });
      }
    });
    for (const mailbox of created) this.emit({ type: 'mailbox-created', mailbox });
    return created.at(-1)!;
  }

  async renameMailbox(from: string, to: string, options: StoreChangeOptions = {}) {
    checkName(to);
    const source = this.mailboxRow(from);
    if (!source) throw new BackendError('nonexistent', `There is no mailbox "${from}".`);
    if (this.mailboxRow(to)) throw new BackendError('already-exists', `"${to}" already exists.`);
    if (to.startsWith(from + MAILBOX_DELIMITER)) {
      throw new BackendError('cannot', 'A mailbox cannot be moved into itself.');
    }
    if (source.name === 'INBOX') return this.renameInbox(source, to, options);
    const events: MailboxChange[] = [];
    this.transaction(() => {
      for (const parent of parentsOf(to)) {
        if (!this.mailboxRow(parent)) {
          events.push({
            type: 'mailbox-created',
            mailbox: this.info(this.insertMailbox(parent, null)),
          });
        }
      }
      const affected = this.sql(
        `SELECT * FROM mailboxes WHERE name = ? OR substr(name, 1, ?) = ? ORDER BY name`,
      ).all(from, from.length + 1, from + MAILBOX_DELIMITER) as MailboxRow[];
      const rename = this.sql('UPDATE mailboxes SET name = ? WHERE id = ?');
      for (const row of affected) {
        const newName = to + row.name.slice(from.length);
        rename.run(newName, row.id);
        events.push({
          type: 'mailbox-renamed',
          mailbox: this.info({ ...row, name: newName }),
          oldName: row.name,
        });
      }
      if (!options.fromUpstream) this.queue.append('rename-mailbox', { from, to });
    });
    events.forEach((e) => this.emit(e));
    return this.info(this.mailboxRow(to)!);
  }

  /** RFC 3501: renaming INBOX moves its messages to a new mailbox and leaves INBOX empty. */
  private renameInbox(inbox: MailboxRow, to: string, options: StoreChangeOptions) {
    const events: MailboxChange[] = [];
    this.transaction(() => {
      for (const parent of parentsOf(to)) {
        if (!this.mailboxRow(parent)) {
          events.push({
            type: 'mailbox-created',
            mailbox: this.info(this.insertMailbox(parent, null)),
          });
        }
      }
      const target = this.insertMailbox(to, null);
      events.push({ type: 'mailbox-created', mailbox: this.info(target) });
      const rows = this.messagesIn(inbox.id, [{ start: 1, end: MAX_UID }]);
      const moved = this.moveRows(inbox, rows, target);
      if (moved.expunged) events.push(moved.expunged);
      if (!options.fromUpstream) this.queue.append('rename-mailbox', { from: 'INBOX', to });
    });
    events.forEach((e) => this.emit(e));
    return this.info(this.mailboxRow(to)!);
  }

  async deleteMailbox(name: string, options: StoreChangeOptions = {}): Promise<void> {
    const row = this.mailboxRow(name);
    if (!row) throw new BackendError('nonexistent', `There is no mailbox "${name}".`);
    if (row.name === 'INBOX') throw new BackendError('cannot', 'INBOX cannot be deleted.');
    const freed = this.transaction(() => {
      const blobIds = this.sql('SELECT DISTINCT blob_id FROM messages WHERE mailbox_id = ?')
        .pluck()
        .all(row.id) as string[];
      this.sql('DELETE FROM mailboxes WHERE id = ?').run(row.id);
      if (!options.fromUpstream) this.queue.append('delete-mailbox', { mailbox: name });
      return this.dropUnreferenced(blobIds);
    });
    this.unlinkBlobs(freed);
    this.emit({ type: 'mailbox-deleted', mailboxId: String(row.id), name });
  }

  async setSubscribed(name: string, subscribed: boolean, options: StoreChangeOptions = {}) {
    this.transaction(() => {
      const changed = subscribed
        ? this.sql('INSERT OR IGNORE INTO subscriptions (name) VALUES (?)').run(name).changes
        : this.sql('DELETE FROM subscriptions WHERE name = ?').run(name).changes;
      if (changed && !options.fromUpstream) {
        this.queue.append(subscribed ? 'subscribe' : 'unsubscribe', { mailbox: name });
      }
    });
  }

  async listSubscriptions(): Promise<string[]> {
    return this.sql('SELECT name FROM subscriptions ORDER BY name').pluck().all() as string[];
  }

  async status(mailboxId: string): Promise<MailboxStatus> {
    return this.statusOf(this.mailboxById(mailboxId));
  }

  async openMailbox(mailboxId: string): Promise<MailboxSnapshot> {
    // One read transaction: UIDs, counts and HIGHESTMODSEQ from the same instant.
    this.ensureOpen();
    return this.db
      .transaction(() => {
        const row = this.mailboxById(mailboxId);
        const uids = this.sql('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid')
          .pluck()
          .all(row.id) as number[];
        const keywords = this.sql(
          `SELECT DISTINCT k.value FROM messages m, json_each(m.keywords) k
           WHERE m.mailbox_id = ? AND m.keywords <> '[]' ORDER BY k.value`,
        )
          .pluck()
          .all(row.id) as string[];
        const firstUnseen = this.sql(
          `SELECT min(uid) FROM messages WHERE mailbox_id = ? AND (system_flags & 1) = 0`,
        )
          .pluck()
          .get(row.id) as number | null;
        return {
          mailbox: this.info(row),
          status: this.statusOf(row),
          uids: Uint32Array.from(uids),
          keywords,
          firstUnseenUid: firstUnseen,
        };
      })
      .deferred();
  }

  // --- Messages ----------------------------------------------------------------------------

  /**
   * Everything here is synchronous (SQLite), so the rows are produced by a plain generator
   * and handed out through already-resolved promises: an async generator costs several
   * promise turns per message, a noticeable part of a 10,000-message header scan.
   */
  fetch(
    mailboxId: string,
    ranges: UidRange[],
    options: FetchOptions = {},
  ): AsyncIterable<MessageMeta> {
    return resolvedEach(() => this.fetchRows(mailboxId, ranges, options));
  }

  private *fetchRows(
    mailboxId: string,
    ranges: UidRange[],
    options: FetchOptions,
  ): Generator<MessageMeta> {
    const box = this.mailboxById(mailboxId);
    const want = options.want ?? {};
    const withContent = want.envelope || want.bodyStructure || want.layout;
    const encoded = want.encoded === true;
    // Only the columns a FETCH can use, in this order (the statement returns arrays).
    const columns = [
      'm.uid, m.modseq, m.system_flags, m.keywords, m.internal_date, m.size',
      want.envelope ? (encoded ? 'c.envelope_imap' : 'c.envelope') : 'NULL',
      want.bodyStructure ? (encoded ? 'c.body_structure_imap' : 'c.body_structure') : 'NULL',
      want.layout ? 'c.layout' : 'NULL',
      want.header ? 'h.header' : 'NULL',
    ].join(', ');
    const statement = this.sql(
      `SELECT ${columns}
      FROM messages m ${withContent ? 'JOIN contents c ON c.blob_id = m.blob_id' : ''}
        ${want.header ? 'LEFT JOIN content_headers h ON h.blob_id = m.blob_id' : ''}
      WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?
        ${options.changedSince !== undefined ? 'AND m.modseq > ?' : ''}
      ORDER BY m.uid LIMIT ${FETCH_PAGE}`,
    ).raw(true);
    for (const range of mergeRanges(ranges, MAX_UID)) {
      // Pages, not one open cursor: a cursor held across awaits would block every writer.
      let from = range.start;
      while (from <= range.end) {
        this.ensureOpen();
        const params: unknown[] = [box.id, from, range.end];
        if (options.changedSince !== undefined) params.push(options.changedSince);
        const rows = statement.all(...params) as FetchRow[];
        for (const [uid, modseq, bits, keywords, date, size, env, body, layout, header] of rows) {
          const meta: MessageMeta = {
            uid,
            modseq,
            flags: rowFlags(bits, keywords),
            internalDate: new Date(date),
            size,
          };
          if (encoded && (env !== null || body !== null)) {
            meta.encoded = {};
            if (env !== null) meta.encoded.envelope = env;
            if (body !== null) meta.encoded.bodyStructure = body;
          } else {
            if (env !== null) meta.envelope = JSON.parse(env);
            if (body !== null) meta.bodyStructure = JSON.parse(body);
          }
          if (layout !== null) meta.layout = JSON.parse(layout);
          if (header !== null) meta.header = header;
          yield meta;
        }
        if (rows.length < FETCH_PAGE) break;
        from = rows.at(-1)![0] + 1;
      }
    }
  }

  async readMessage(
    mailboxId: string,
    uid: number,
    range?: ByteRange,
  ): Promise<AsyncIterable<Uint8Array>> {
    this.ensureOpen();
    // No separate mailbox lookup: a message row exists only in an existing mailbox. The kept
    // header is joined in only when it may hold the whole range (it is at most this big).
    const mayBeInHeader = range !== undefined && range.end <= MAX_CACHED_HEADER;
    const row = this.sql(
      mayBeInHeader
        ? `SELECT m.blob_id, h.header FROM messages m
             LEFT JOIN content_headers h ON h.blob_id = m.blob_id
           WHERE m.mailbox_id = ? AND m.uid = ?`
        : `SELECT blob_id, NULL AS header FROM messages WHERE mailbox_id = ? AND uid = ?`,
    ).get(mailboxKey(mailboxId), uid) as { blob_id: string; header: string | null } | undefined;
    if (!row) throw new BackendError('nonexistent', `Message ${uid} no longer exists.`);
    const header = row.header;
    if (header !== null && range && range.end <= header.length) {
      const slice = header.slice(Math.min(range.start, range.end), range.end);
      return new MessageBytes(Buffer.from(slice, 'latin1'));
    }
    let small: Buffer | null;
    try {
      small = this.blobs.readSmall(row.blob_id, range ?? {}, SMALL_BLOB_BYTES);
    } catch (error) {
      throw asBackendError(error);
    }
    return small ? new MessageBytes(small) : this.readBlob(row.blob_id, range);
  }

  async storeFlags(
    mailboxId: string,
    uids: UidRange[],
    request: StoreFlagsRequest,
    options: StoreChangeOptions = {},
  ): Promise<StoreFlagsResult> {
    const change = parseFlags(request.flags);
    const result = this.transaction(() => {
      const box = this.mailboxById(mailboxId);
      const changed: MessageFlags[] = [];
      const conflicts: number[] = [];
      const replay: { uid: number; upstream: UpstreamRef | null; result: string[] }[] = [];
      let modseq = box.highestmodseq;
      const update = this.sql(
        'UPDATE messages SET system_flags = ?, keywords = ?, modseq = ? WHERE id = ?',
      );
      for (const row of this.messagesIn(box.id, uids)) {
        if (request.unchangedSince !== undefined && row.modseq > request.unchangedSince) {
          conflicts.push(row.uid);
          continue;
        }
        const current = { bits: row.system_flags, keywords: JSON.parse(row.keywords) as string[] };
        const next = applyFlagOperation(current, request.operation, change);
        if (sameFlags(current, next)) continue;
        modseq += 1;
        update.run(next.bits, JSON.stringify(next.keywords), modseq, row.id);
        const flags = formatFlags(next.bits, next.keywords);
        changed.push({ uid: row.uid, flags, modseq });
        replay.push({ uid: row.uid, upstream: upstreamOf(row), result: flags });
      }
      this.setHighestModseq(box.id, modseq);
      // One entry per command (modseqs are unique, so the first one names it).
      if (replay.length && !options.fromUpstream) {
        this.queue.append(
          'flags',
          {
            mailbox: box.name,
            operation: request.operation,
            flags: request.flags,
            messages: replay,
          },
          `flags:${box.id}:${changed[0]!.modseq}`,
        );
      }
      return { changed, conflicts };
    });
    if (result.changed.length) {
      this.emit({
        type: 'flags-changed',
        mailboxId,
        messages: result.changed,
        origin: options.origin,
      });
    }
    return result;
  }

  async copyMessages(
    mailboxId: string,
    uids: UidRange[],
    destinationId: string,
    options: StoreChangeOptions = {},
  ): Promise<CopyResult> {
    return this.copyOrMove('copy', mailboxId, uids, destinationId, options);
  }

  async moveMessages(
    mailboxId: string,
    uids: UidRange[],
    destinationId: string,
    options: StoreChangeOptions = {},
  ): Promise<CopyResult> {
    return this.copyOrMove('move', mailboxId, uids, destinationId, options);
  }

  private copyOrMove(
    kind: 'copy' | 'move',
    mailboxId: string,
    uids: UidRange[],
    destinationId: string,
    options: StoreChangeOptions,
  ): CopyResult {
    const events: MailboxChange[] = [];
    const result = this.transaction(() => {
      const source = this.mailboxById(mailboxId);
      const target = this.mailboxById(destinationId);
      const rows = this.messagesIn(source.id, uids);
      const copies = this.insertCopies(target, rows);
      events.push({
        type: 'messages-added',
        mailboxId: destinationId,
        messages: copies,
        origin: options.origin,
      });
      if (kind === 'move' && rows.length) {
        events.push(this.removeRows(source, rows, options.origin));
      }
      if (rows.length && !options.fromUpstream) {
        this.queue.append(
          kind,
          {
            from: source.name,
            to: target.name,
            messages: rows.map((row, i) => ({
              uid: row.uid,
              upstream: upstreamOf(row),
              destinationUid: copies[i]!.uid,
            })),
          },
          `${kind}:${target.id}:${copies[0]!.uid}`,
        );
      }
      return {
        uidValidity: target.uidvalidity,
        sourceUids: rows.map((r) => r.uid),
        destinationUids: copies.map((c) => c.uid),
      };
    });
    // Moves keep their blobs: the copies reference them, so nothing is freed here.
    events
      .filter((e) => e.type !== 'messages-added' || e.messages.length)
      .forEach((e) => this.emit(e));
    return result;
  }

  async expunge(
    mailboxId: string,
    uids: UidRange[],
    options: StoreChangeOptions = {},
  ): Promise<number[]> {
    let event: MailboxChange | null = null;
    const { removed, freed } = this.transaction(() => {
      const box = this.mailboxById(mailboxId);
      const rows = this.messagesIn(box.id, uids);
      if (!rows.length) return { removed: [], freed: [] };
      const removal = this.removeRows(box, rows, options.origin);
      event = removal;
      if (!options.fromUpstream) {
        this.queue.append(
          'expunge',
          {
            mailbox: box.name,
            messages: rows.map((row) => ({ uid: row.uid, upstream: upstreamOf(row) })),
          },
          `expunge:${box.id}:${removal.modseq}`,
        );
      }
      return {
        removed: rows.map((r) => r.uid),
        freed: this.dropUnreferenced(rows.map((r) => r.blob_id)),
      };
    });
    this.unlinkBlobs(freed);
    if (event) this.emit(event);
    return removed;
  }

  async append(
    mailboxId: string,
    request: AppendRequest,
    options: StoreChangeOptions = {},
  ): Promise<AppendResult> {
    const { uid, uidValidity } = await this.insertMessage(mailboxId, request, options);
    return { uid, uidValidity };
  }

  async appendMany(
    mailboxId: string,
    requests: AppendRequest[],
    options: StoreChangeOptions = {},
  ): Promise<AppendResult[]> {
    this.mailboxById(mailboxId);
    const staged: Staged[] = [];
    try {
      // Blobs first, one by one (a client's MULTIAPPEND is rarely large); then one transaction.
      for (const request of requests) staged.push(await this.stage(request));
      return this.commitStaged(mailboxId, requests, staged, options).map(
        ({ uid, uidValidity }) => ({
          uid,
          uidValidity,
        }),
      );
    } finally {
      for (const s of staged) this.blobs.release(s.blobId);
    }
  }

  /**
   * The sync engine's way in: stores a message fetched from upstream, once. A second call
   * with the same upstream reference (after a crash, a retry) returns the first result
   * without storing anything.
   */
  async appendFromUpstream(
    mailboxId: string,
    request: UpstreamAppendRequest,
    options: ChangeOptions = {},
  ): Promise<AppendResult & { duplicate: boolean }> {
    const existing = this.findByUpstream(request.upstream);
    if (existing) return { uid: existing.uid, uidValidity: existing.uidValidity, duplicate: true };
    return this.insertMessage(mailboxId, request, { ...options, fromUpstream: true });
  }

  findByUpstream(ref: UpstreamRef): (AppendResult & { mailboxId: string }) | null {
    const row = this.sql(
      `SELECT m.uid, m.mailbox_id, b.uidvalidity
         FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
         WHERE m.upstream_mailbox = ? AND m.upstream_uidvalidity = ? AND m.upstream_uid = ?`,
    ).get(ref.mailbox, ref.uidValidity, ref.uid) as
      { uid: number; mailbox_id: number; uidvalidity: number } | undefined;
    return row
      ? { uid: row.uid, uidValidity: row.uidvalidity, mailboxId: String(row.mailbox_id) }
      : null;
  }

  /**
   * Several upstream messages in one transaction (blobs written a few at a time first): the
   * sync engine's bulk path, which pays for one database commit per batch instead of one per
   * message. Idempotent per upstream reference, like appendFromUpstream.
   */
  async appendManyFromUpstream(
    mailboxId: string,
    requests: UpstreamAppendRequest[],
    options: ChangeOptions = {},
  ): Promise<(AppendResult & { duplicate: boolean })[]> {
    this.mailboxById(mailboxId);
    const results: (AppendResult & { duplicate: boolean })[] = new Array(requests.length);
    const fresh: number[] = [];
    requests.forEach((request, i) => {
      const found = this.findByUpstream(request.upstream);
      if (found) results[i] = { uid: found.uid, uidValidity: found.uidValidity, duplicate: true };
      else fresh.push(i);
    });
    const staged: Staged[] = new Array(fresh.length);
    let next = 0;
    let failure: { error: unknown } | null = null;
    // Every worker finishes its current blob before the batch fails, so none is left pinned.
    const worker = async () => {
      while (next < fresh.length && !failure) {
        const k = next++;
        try {
          staged[k] = await this.stage(requests[fresh[k]!]!);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(BLOB_WRITERS, fresh.length) }, worker));
      if (failure) throw (failure as { error: unknown }).error;
      const stored = this.commitStaged(
        mailboxId,
        fresh.map((i) => requests[i]!),
        staged,
        { ...options, fromUpstream: true },
      );
      fresh.forEach((i, k) => (results[i] = stored[k]!));
      return results;
    } finally {
      for (const s of staged) if (s) this.blobs.release(s.blobId);
    }
  }

  /**
   * Records where a local message now lives upstream (after the sync engine replayed an
   * APPEND, COPY or MOVE and got the upstream UID), so later changes can be replayed on it.
   */
  linkUpstream(mailboxId: string, uid: number, ref: UpstreamRef | null): void {
    this.transaction(() => {
      const box = this.mailboxById(mailboxId);
      let changed: number;
      try {
        changed = this.sql(
          `UPDATE messages SET upstream_mailbox = ?, upstream_uidvalidity = ?, upstream_uid = ?
           WHERE mailbox_id = ? AND uid = ?`,
        ).run(
          ref?.mailbox ?? null,
          ref?.uidValidity ?? null,
          ref?.uid ?? null,
          box.id,
          uid,
        ).changes;
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
        throw new BackendError(
          'already-exists',
          'Another local message is already linked to that upstream message.',
        );
      }
      if (!changed) throw new BackendError('nonexistent', `Message ${uid} no longer exists.`);
    });
  }

  /**
   * The local copies of one upstream mailbox (at one UIDVALIDITY), ascending by upstream
   * UID: what the sync engine diffs against the server's UID list to find what was removed
   * upstream.
   */
  listUpstream(
    upstreamMailbox: string,
    uidValidity: number,
  ): { mailboxId: string; uid: number; upstreamUid: number }[] {
    const rows = this.sql(
      `SELECT mailbox_id, uid, upstream_uid FROM messages
       WHERE upstream_mailbox = ? AND upstream_uidvalidity = ? AND upstream_uid IS NOT NULL
       ORDER BY upstream_uid`,
    ).all(upstreamMailbox, uidValidity) as {
      mailbox_id: number;
      uid: number;
      upstream_uid: number;
    }[];
    return rows.map((r) => ({
      mailboxId: String(r.mailbox_id),
      uid: r.uid,
      upstreamUid: r.upstream_uid,
    }));
  }

  private async insertMessage(
    mailboxId: string,
    request: AppendRequest & Partial<UpstreamAppendRequest>,
    options: StoreChangeOptions,
  ): Promise<AppendResult & { duplicate: boolean }> {
    this.mailboxById(mailboxId);
    const staged = await this.stage(request);
    try {
      return this.commitStaged(mailboxId, [request], [staged], options)[0]!;
    } finally {
      this.blobs.release(staged.blobId);
    }
  }

  /**
   * Writes the blob (durably) and analyses the MIME structure in the same single pass. This
   * is the one entry to the store: every `X-Leap-*` field is dropped here and only the sync's
   * `statusFields` are put back, so no sender, relay or client can forge the status the
   * add-on shows; the header's line ends become CRLF, so a bare CR cannot make one field
   * look like two to Thunderbird.
   */
  private async stage(request: AppendRequest & Partial<UpstreamAppendRequest>): Promise<Staged> {
    const analyzer = createMimeAnalyzer();
    const head: Buffer[] = [];
    let headBytes = 0;
    let whole: Buffer[] | null = [];
    let wholeBytes = 0;
    const source = rewriteHeaderStream(request.content, {
      drop: (key) => key.startsWith('x-leap-'),
      prepend: request.upstream ? (request.statusFields ?? []) : [],
    });
    const put = await this.blobs.put(
      (async function* () {
        for await (const chunk of source) {
          analyzer.write(chunk);
          if (whole) {
            wholeBytes += chunk.length;
            if (wholeBytes > MAX_BUFFERED_MESSAGE) whole = null;
            else whole.push(Buffer.from(chunk));
          }
          if (headBytes < MAX_CACHED_HEADER) {
            const piece = Buffer.from(chunk.subarray(0, MAX_CACHED_HEADER - headBytes));
            head.push(piece);
            headBytes += piece.length;
          }
          yield chunk;
        }
      })(),
    );
    const analysis = analyzer.end();
    const headerEnd = analysis.layout.headerEnd;
    const header = headerEnd <= headBytes ? Buffer.concat(head).subarray(0, headerEnd) : null;
    let doc: SearchDocument | null;
    try {
      doc = whole
        ? searchDocumentOf(Buffer.concat(whole), analysis)
        : await this.documentFromBlob(put.id, analysis.bodyStructure, analysis.layout, header);
    } catch (error) {
      this.blobs.release(put.id);
      throw error;
    }
    return { blobId: put.id, size: put.size, analysis, header, doc };
  }

  /**
   * A content's full-text document from its blob: the header (kept or read) and the text
   * parts only. Null when there is more text than the index takes.
   */
  private async documentFromBlob(
    blobId: string,
    bodyStructure: MessageAnalysis['bodyStructure'],
    layout: MessageAnalysis['layout'],
    header: Buffer | null,
  ): Promise<SearchDocument | null> {
    const parts = textPartRanges(bodyStructure, layout);
    const textBytes = parts.reduce((n, p) => n + p.end - p.start, 0);
    if (textBytes + (header ? 0 : layout.headerEnd) > MAX_INDEXED_TEXT) return null;
    const read = async (start: number, end: number) => {
      const small = this.blobs.readSmall(blobId, { start, end }, SMALL_BLOB_BYTES);
      if (small) return small;
      const chunks: Buffer[] = [];
      for await (const chunk of this.blobs.stream(blobId, { start, end })) chunks.push(chunk);
      return Buffer.concat(chunks);
    };
    const headerBytes = header ?? (await read(0, layout.headerEnd));
    const texts = [];
    for (const p of parts) texts.push({ part: p.part, bytes: await read(p.start, p.end) });
    return searchDocument(headerBytes.toString('utf8'), bodyStructure, texts);
  }

  /**
   * Writes the full-text documents still missing: contents stored before the index existed,
   * or after its text version changed (see text-index.ts). Searches stay exact meanwhile,
   * since the evaluator reads the messages the index has no document for. Reports progress
   * after each batch; one rebuild runs at a time (a second call joins it).
   */
  rebuildSearchIndex(
    options: { onProgress?: (progress: IndexProgress) => void } = {},
  ): Promise<IndexProgress> {
    this.rebuilding ??= this.rebuild(options.onProgress).finally(() => (this.rebuilding = null));
    return this.rebuilding;
  }

  private async rebuild(onProgress?: (progress: IndexProgress) => void): Promise<IndexProgress> {
    const progress = { done: 0, total: this.textIndex.pendingCount() };
    onProgress?.({ ...progress });
    while (this.db.open) {
      const batch = this.textIndex.pending(REBUILD_BATCH);
      if (!batch.length) break;
      const docs: [string, SearchDocument | null][] = [];
      for (const pending of batch) {
        let doc: SearchDocument | null = null;
        try {
          doc = await this.documentFromBlob(
            pending.blobId,
            JSON.parse(pending.bodyStructure),
            JSON.parse(pending.layout),
            pending.header === null ? null : Buffer.from(pending.header, 'latin1'),
          );
        } catch {
          // A damaged or missing blob: left to the evaluator, which reports it when read.
        }
        docs.push([pending.blobId, doc]);
      }
      if (!this.db.open) break;
      this.transaction(() => docs.forEach(([blobId, doc]) => this.textIndex.write(blobId, doc)));
      progress.done += batch.length;
      progress.total = Math.max(progress.total, progress.done);
      onProgress?.({ ...progress });
      // Lets IMAP commands and sync in between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
    return progress;
  }

  /** Bytes the full-text index takes in the database, for benchmarks. */
  searchIndexBytes(): number {
    return this.textIndex.sizeBytes();
  }

  /**
   * Inserts the rows for staged blobs in one transaction and announces them. A request whose
   * upstream reference was stored meanwhile (by a concurrent caller) yields that message as
   * a duplicate.
   */
  private commitStaged(
    mailboxId: string,
    requests: (AppendRequest & { upstream?: UpstreamRef })[],
    staged: Staged[],
    options: StoreChangeOptions,
  ): (AppendResult & { duplicate: boolean })[] {
    const added: MessageFlags[] = [];
    const results = this.transaction(() => {
      const target = this.mailboxById(mailboxId);
      let uid = target.uidnext;
      let modseq = target.highestmodseq;
      const insert = this.sql(
        `INSERT INTO messages (mailbox_id, uid, modseq, system_flags, keywords, internal_date,
           size, blob_id, upstream_mailbox, upstream_uidvalidity, upstream_uid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const out = requests.map((request, i) => {
        const found = request.upstream ? this.findByUpstream(request.upstream) : null;
        if (found) return { uid: found.uid, uidValidity: found.uidValidity, duplicate: true };
        const stage = staged[i]!;
        if (uid > MAX_UID) {
          throw new BackendError('cannot', `The mailbox "${target.name}" has used up its UIDs.`);
        }
        modseq += 1;
        const flags = parseFlags(request.flags ?? []);
        this.insertContent(stage);
        insert.run(
          target.id,
          uid,
          modseq,
          flags.bits,
          JSON.stringify(flags.keywords),
          (request.internalDate ?? new Date()).getTime(),
          stage.size,
          stage.blobId,
          request.upstream?.mailbox ?? null,
          request.upstream?.uidValidity ?? null,
          request.upstream?.uid ?? null,
        );
        if (!options.fromUpstream) {
          this.queue.append('append', { mailbox: target.name, uid }, `append:${target.id}:${uid}`);
        }
        added.push({ uid, modseq, flags: formatFlags(flags.bits, flags.keywords) });
        return { uid: uid++, uidValidity: target.uidvalidity, duplicate: false };
      });
      this.sql('UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(
        uid,
        modseq,
        target.id,
      );
      return out;
    });
    if (added.length) {
      this.emit({ type: 'messages-added', mailboxId, messages: added, origin: options.origin });
    }
    return results;
  }

  /**
   * Removes blob files that no row refers to: writes interrupted by a crash after the blob
   * was stored but before its row committed. Blobs younger than `minAgeMs` are kept, since
   * another host process on the same account may be about to commit their rows. Returns
   * how many were removed.
   */
  async collectGarbage(options: { minAgeMs?: number } = {}): Promise<number> {
    const cutoff = Date.now() - (options.minAgeMs ?? 10 * 60 * 1000);
    const referenced = new Set(this.sql('SELECT blob_id FROM contents').pluck().all() as string[]);
    const candidates: string[] = [];
    for (const id of await this.blobs.list()) {
      if (referenced.has(id) || this.blobs.isInFlight(id)) continue;
      const writtenAt = await this.blobs.writtenAt(id);
      if (writtenAt !== null && writtenAt <= cutoff) candidates.push(id);
    }
    // Checked again right before deleting, with no await in between: a write may have
    // committed meanwhile.
    const orphans = candidates.filter(
      (id) => !this.sql('SELECT 1 FROM contents WHERE blob_id = ?').get(id),
    );
    this.unlinkBlobs(orphans);
    return orphans.length;
  }

  /**
   * SEARCH from the index alone when every criterion is in it (flags, UIDs, sizes, dates,
   * MODSEQ, header fields from the kept headers, and their combinations); null for text
   * criteria, which the server then evaluates on the decrypted messages. EXPUNGE's
   * \Deleted lookup lands here.
   */
  async search(mailboxId: string, key: SearchKey): Promise<number[] | PartialSearchAnswer | null> {
    const box = this.mailboxById(mailboxId);
    const compiled = compileSearch(key, { fullText: true });
    if (!compiled) return null;
    if (compiled.needsHeader && this.hasMessagesWithoutHeader(box.id)) return null;
    // One read transaction: the index and the list of what it lacks from the same instant.
    return this.db
      .transaction(() => {
        const uids = this.sql(
          `SELECT m.uid FROM messages m
             ${compiled.needsHeader ? 'JOIN content_headers h ON h.blob_id = m.blob_id' : ''}
           WHERE m.mailbox_id = ? AND (${compiled.sql}) ORDER BY m.uid`,
        )
          .pluck()
          .all(box.id, ...compiled.params) as number[];
        if (!compiled.needsTextIndex) return uids;
        const unsure = this.textIndex.unsureUids(box.id);
        if (!unsure.length) return uids;
        const skip = new Set(unsure);
        return { uids: uids.filter((uid) => !skip.has(uid)), unsure };
      })
      .deferred();
  }

  /** Messages whose header is too big to keep in the index (or older than migration 2). */
  private hasMessagesWithoutHeader(mailboxId: number): boolean {
    return (
      // From the (usually empty) partial index to the messages: the other way round,
      // SQLite would walk the whole mailbox.
      this.sql(
        `SELECT EXISTS (SELECT 1 FROM content_headers h INDEXED BY content_headers_missing
           WHERE h.header IS NULL AND EXISTS (
             SELECT 1 FROM messages m INDEXED BY messages_by_blob
             WHERE m.blob_id = h.blob_id AND m.mailbox_id = ?))`,
      )
        .pluck()
        .get(mailboxId) === 1
    );
  }

  async expungedSince(mailboxId: string, modseq: number, ranges: UidRange[]): Promise<number[]> {
    const box = this.mailboxById(mailboxId);
    const uids: number[] = [];
    // Tombstones are kept for good (UIDs are never reused), so the answer is always complete.
    const statement = this.sql(
      `SELECT uid FROM expunged WHERE mailbox_id = ? AND modseq > ? AND uid BETWEEN ? AND ?
       ORDER BY uid`,
    ).pluck();
    for (const range of mergeRanges(ranges, MAX_UID)) {
      uids.push(...(statement.all(box.id, modseq, range.start, range.end) as number[]));
    }
    return uids;
  }

  watch(listener: MailboxChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- Internals ---------------------------------------------------------------------------

  private emit(change: MailboxChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // One broken session must not stop the others from hearing about changes.
      }
    }
  }

  private ensureOpen(): void {
    if (!this.db.open) throw new BackendError('unavailable', 'The mail store is closed.');
  }

  private transaction<T>(fn: () => T): T {
    this.ensureOpen();
    return this.db.transaction(fn).immediate();
  }

  private readBlob(blobId: string, range?: ByteRange): AsyncIterable<Uint8Array> {
    const stream = this.blobs.stream(blobId, range ?? {});
    return (async function* () {
      try {
        yield* stream;
      } catch (error) {
        throw asBackendError(error);
      }
    })();
  }

  private info(row: MailboxRow): MailboxInfo {
    const subscribed = !!this.sql('SELECT 1 FROM subscriptions WHERE name = ?').get(row.name);
    return {
      id: String(row.id),
      name: row.name,
      specialUse: row.special_use as SpecialUse | null,
      subscribed,
    };
  }

  private statusOf(row: MailboxRow): MailboxStatus {
    return {
      uidValidity: row.uidvalidity,
      uidNext: row.uidnext,
      highestModseq: row.highestmodseq,
      messages: row.message_count,
      unseen: row.unseen_count,
    };
  }

  private flagsOf(
    row: Pick<MessageRow, 'uid' | 'modseq' | 'system_flags' | 'keywords'>,
  ): MessageFlags {
    return { uid: row.uid, modseq: row.modseq, flags: rowFlags(row.system_flags, row.keywords) };
  }

  private mailboxRow(name: string): MailboxRow | undefined {
    return this.sql('SELECT * FROM mailboxes WHERE name = ?').get(name) as MailboxRow | undefined;
  }

  private mailboxById(id: string): MailboxRow {
    this.ensureOpen();
    const key = mailboxKey(id);
    const row =
      key === null
        ? undefined
        : (this.sql('SELECT * FROM mailboxes WHERE id = ?').get(key) as MailboxRow | undefined);
    if (!row) throw new BackendError('nonexistent', 'The mailbox does not exist (any more).');
    return row;
  }

  private insertMailbox(name: string, specialUse: string | null): MailboxRow {
    const last =
      (this.sql(`SELECT value FROM mail_counters WHERE name = 'uidvalidity'`).pluck().get() as
        number | undefined) ?? 0;
    const now = Math.floor((Date.now() - UIDVALIDITY_EPOCH) / 1000);
    const uidvalidity = Math.min(Math.max(last + 1, now), MAX_UID);
    this.sql(
      `INSERT INTO mail_counters (name, value) VALUES ('uidvalidity', ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
    ).run(uidvalidity);
    const id = this.sql(
      'INSERT INTO mailboxes (name, special_use, uidvalidity, created_at) VALUES (?, ?, ?, ?)',
    ).run(name, specialUse, uidvalidity, Date.now()).lastInsertRowid;
    return this.sql('SELECT * FROM mailboxes WHERE id = ?').get(id) as MailboxRow;
  }

  private insertContent(staged: Staged): void {
    const { envelope, bodyStructure, layout, size } = staged.analysis;
    const wire = imapWireForms(envelope, bodyStructure);
    const inserted = this.sql(
      `INSERT OR IGNORE INTO contents (blob_id, size, envelope, body_structure, layout,
         envelope_imap, body_structure_imap)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      staged.blobId,
      size,
      JSON.stringify(envelope),
      JSON.stringify(bodyStructure),
      JSON.stringify(layout),
      wire.envelope,
      wire.bodyStructure,
    );
    if (inserted.changes) {
      this.sql('INSERT INTO content_headers (blob_id, header) VALUES (?, ?)').run(
        staged.blobId,
        staged.header && headerText(staged.header),
      );
      this.textIndex.write(staged.blobId, staged.doc);
    }
  }

  private messagesIn(mailboxId: number, ranges: UidRange[]): MessageRow[] {
    const select = this.sql(
      'SELECT * FROM messages WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid',
    );
    return mergeRanges(ranges, MAX_UID).flatMap(
      (range) => select.all(mailboxId, range.start, range.end) as MessageRow[],
    );
  }

  private setHighestModseq(mailboxId: number, modseq: number): void {
    this.sql('UPDATE mailboxes SET highestmodseq = max(highestmodseq, ?) WHERE id = ?').run(
      modseq,
      mailboxId,
    );
  }

  /** New rows in `target` for `rows` (same content and flags, fresh UIDs); in a transaction. */
  private insertCopies(target: MailboxRow, rows: MessageRow[]): MessageFlags[] {
    if (target.uidnext + rows.length - 1 > MAX_UID) {
      throw new BackendError('cannot', `The mailbox "${target.name}" has used up its UIDs.`);
    }
    const insert = this.sql(
      `INSERT INTO messages (mailbox_id, uid, modseq, system_flags, keywords, internal_date, size, blob_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    let uid = target.uidnext;
    let modseq = target.highestmodseq;
    const copies = rows.map((row) => {
      modseq += 1;
      insert.run(
        target.id,
        uid,
        modseq,
        row.system_flags,
        row.keywords,
        row.internal_date,
        row.size,
        row.blob_id,
      );
      return this.flagsOf({ ...row, uid: uid++, modseq });
    });
    this.sql('UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?').run(
      uid,
      modseq,
      target.id,
    );
    return copies;
  }

  /** Deletes rows and leaves tombstones at one new modseq; in a transaction. */
  private removeRows(
    box: MailboxRow,
    rows: MessageRow[],
    origin: unknown,
  ): Extract<MailboxChange, { type: 'messages-expunged' }> {
    const current = this.mailboxById(String(box.id));
    const modseq = current.highestmodseq + 1;
    const remove = this.sql('DELETE FROM messages WHERE id = ?');
    const tombstone = this.sql(
      'INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?, ?, ?)',
    );
    for (const row of rows) {
      remove.run(row.id);
      tombstone.run(box.id, row.uid, modseq);
    }
    this.setHighestModseq(box.id, modseq);
    return {
      type: 'messages-expunged',
      mailboxId: String(box.id),
      uids: rows.map((r) => r.uid),
      modseq,
      origin,
    };
  }

  private moveRows(source: MailboxRow, rows: MessageRow[], target: MailboxRow) {
    this.insertCopies(target, rows);
    return { expunged: rows.length ? this.removeRows(source, rows, undefined) : null };
  }

  /** Drops content rows no message refers to any more; returns their blob ids. */
  private dropUnreferenced(blobIds: string[]): string[] {
    const drop = this.sql(
      `DELETE FROM contents WHERE blob_id = ?
       AND NOT EXISTS (SELECT 1 FROM messages WHERE blob_id = ?)`,
    );
    return [...new Set(blobIds)].filter((id) => drop.run(id, id).changes > 0);
  }

  /**
   * Synchronous on purpose: it runs right after the commit that freed the blobs, with no
   * await in between, so no insert of the same content can slip into the gap.
   */
  private unlinkBlobs(ids: string[]): void {
    for (const id of ids) {
      if (this.blobs.isInFlight(id)) continue;
      try {
        unlinkSync(this.blobs.pathOf(id));
      } catch {
        // Already gone: nothing to free.
      }
    }
  }
}

function upstreamOf(row: MessageRow): UpstreamRef | null {
  return row.upstream_uid === null
    ? null
    : {
        mailbox: row.upstream_mailbox!,
        uidValidity: row.upstream_uidvalidity!,
        uid: row.upstream_uid,
      };
}

function checkName(name: string): void {
  const parts = name.split(MAILBOX_DELIMITER);
  const bad =
    name.length === 0 ||
    name.length > 1000 ||
    parts.some((p) => p.length === 0) ||
    /[*%]/.test(name) ||
    [...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
  if (bad) throw new BackendError('bad-name', `"${name}" is not a valid mailbox name.`);
}

function parentsOf(name: string): string[] {
  const parts = name.split(MAILBOX_DELIMITER);
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join(MAILBOX_DELIMITER));
}

/** A damaged or missing blob is the store's problem to report, not a protocol error. */
function asBackendError(error: unknown): unknown {
  return error instanceof StoreError ? new BackendError('unavailable', error.message) : error;
}

/** The row id behind a mailbox id the IMAP server hands back (ours are decimal), or null. */
function mailboxKey(id: string): number | null {
  return /^\d+$/.test(id) ? Number(id) : null;
}

/** A synchronous sequence as an async one, each step an already-settled promise. */
function resolvedEach<T>(start: () => Iterator<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      let items: Iterator<T> | null = null;
      return {
        next() {
          try {
            items ??= start();
            return Promise.resolve(items.next());
          } catch (error) {
            return Promise.reject(error);
          }
        },
        return(value?: unknown) {
          items?.return?.();
          return Promise.resolve({ done: true, value: value as T });
        },
      };
    },
  };
}
