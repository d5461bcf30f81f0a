/**
 * An in-memory MailboxBackend (after go-imap's imapmemserver): the reference the IMAP server
 * is tested against, and the executable meaning of the rules in backend.ts. Not for real mail:
 * nothing is persisted or encrypted.
 */
import { analyzeMessage, type MessageAnalysis } from '../../mime/index.js';
import {
  BackendError,
  MAILBOX_DELIMITER,
  type AccountBackend,
  type AppendRequest,
  type AppendResult,
  type ByteRange,
  type ChangeOptions,
  type CopyResult,
  type FetchOptions,
  type MailboxBackend,
  type MailboxChange,
  type MailboxChangeListener,
  type MailboxInfo,
  type MailboxSnapshot,
  type MailboxStatus,
  type MessageFlags,
  type MessageMeta,
  type SpecialUse,
  type StoreFlagsRequest,
  type StoreFlagsResult,
  type UidRange,
} from '../backend.js';

interface StoredMessage {
  uid: number;
  flags: Set<string>;
  modseq: number;
  internalDate: Date;
  raw: Uint8Array;
  analysis: MessageAnalysis;
}

interface StoredMailbox {
  info: MailboxInfo;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /** Ascending by UID. */
  messages: StoredMessage[];
}

export interface MemoryBackendOptions {
  /** Mailboxes created with every new account besides INBOX. */
  initialMailboxes?: { name: string; specialUse?: SpecialUse }[];
  /** Largest message APPEND accepts, in octets. */
  maxMessageSize?: number;
}

export class MemoryBackend implements MailboxBackend {
  private readonly accounts = new Map<string, MemoryAccount>();
  constructor(private readonly options: MemoryBackendOptions = {}) {}

  async account(accountId: string): Promise<MemoryAccount> {
    let account = this.accounts.get(accountId);
    if (!account) {
      account = new MemoryAccount(this.options);
      for (const m of this.options.initialMailboxes ?? []) {
        await account.createMailbox(
          m.name,
          m.specialUse ? { specialUse: m.specialUse } : undefined,
        );
        await account.setSubscribed(m.name, true);
      }
      this.accounts.set(accountId, account);
    }
    return account;
  }
}

/** Index of the first message with UID >= uid (messages are kept in UID order). */
function lowerBound(messages: StoredMessage[], uid: number): number {
  let lo = 0;
  let hi = messages.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (messages[mid]!.uid < uid) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The messages in the ranges, ascending, each once. */
function selectMessages(messages: StoredMessage[], ranges: UidRange[]): StoredMessage[] {
  const picked = new Set<StoredMessage>();
  for (const r of ranges) {
    for (
      let i = lowerBound(messages, r.start);
      i < messages.length && messages[i]!.uid <= r.end;
      i++
    )
      picked.add(messages[i]!);
  }
  return [...picked].sort((a, b) => a.uid - b.uid);
}

function inRanges(uid: number, ranges: UidRange[]): boolean {
  for (const r of ranges) if (uid >= r.start && uid <= r.end) return true;
  return false;
}

function validName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 1024 &&
    !name.startsWith(MAILBOX_DELIMITER) &&
    !name.endsWith(MAILBOX_DELIMITER) &&
    !name.includes(MAILBOX_DELIMITER + MAILBOX_DELIMITER) &&
    !/[\0\r\n*%]/.test(name)
  );
}

async function collect(
  content: AsyncIterable<Uint8Array> | Uint8Array,
  max: number,
): Promise<Uint8Array> {
  if (content instanceof Uint8Array) {
    if (content.length > max)
      throw new BackendError('too-big', 'The message is larger than allowed.');
    return content;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const c of content) {
    size += c.length;
    if (size > max) throw new BackendError('too-big', 'The message is larger than allowed.');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export class MemoryAccount implements AccountBackend {
  private readonly mailboxes = new Map<string, StoredMailbox>();
  private readonly subscriptions = new Set<string>();
  private readonly listeners = new Set<MailboxChangeListener>();
  private nextId = 1;
  // UIDVALIDITY from a counter seeded by the clock, so a re-created mailbox never reuses one.
  private nextUidValidity = Math.floor(Date.now() / 1000) & 0x7fffffff || 1;

  constructor(private readonly options: MemoryBackendOptions) {
    this.addMailbox('INBOX', null);
    this.subscriptions.add('INBOX');
  }

  private emit(change: MailboxChange): void {
    for (const l of this.listeners) l(change);
  }

  private addMailbox(name: string, specialUse: SpecialUse | null): StoredMailbox {
    const info: MailboxInfo = { id: `m${this.nextId++}`, name, specialUse, subscribed: false };
    const box: StoredMailbox = {
      info,
      uidValidity: this.nextUidValidity++ >>> 0 || 1,
      uidNext: 1,
      highestModseq: 1,
      messages: [],
    };
    this.mailboxes.set(info.id, box);
    return box;
  }

  private byName(name: string): StoredMailbox | undefined {
    for (const b of this.mailboxes.values()) if (b.info.name === name) return b;
    return undefined;
  }

  private byId(id: string): StoredMailbox {
    const box = this.mailboxes.get(id);
    if (!box) throw new BackendError('nonexistent', 'The mailbox does not exist.');
    return box;
  }

  private infoOf(box: StoredMailbox): MailboxInfo {
    return { ...box.info, subscribed: this.subscriptions.has(box.info.name) };
  }

  async listMailboxes(): Promise<MailboxInfo[]> {
    return [...this.mailboxes.values()].map((b) => this.infoOf(b));
  }

  async getMailbox(name: string): Promise<MailboxInfo | null> {
    const box = this.byName(name);
    return box ? this.infoOf(box) : null;
  }

  async createMailbox(name: string, options?: { specialUse?: SpecialUse }): Promise<MailboxInfo> {
    if (!validName(name))
      throw new BackendError('bad-name', `"${name}" is not a valid mailbox name.`);
    if (this.byName(name)) throw new BackendError('already-exists', 'The mailbox already exists.');
    const segments = name.split(MAILBOX_DELIMITER);
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join(MAILBOX_DELIMITER);
      if (!this.byName(parent))
        this.emit({ type: 'mailbox-created', mailbox: this.infoOf(this.addMailbox(parent, null)) });
    }
    const box = this.addMailbox(name, options?.specialUse ?? null);
    const info = this.infoOf(box);
    this.emit({ type: 'mailbox-created', mailbox: info });
    return info;
  }

  async renameMailbox(from: string, to: string): Promise<MailboxInfo> {
    const box = this.byName(from);
    if (!box) throw new BackendError('nonexistent', 'The mailbox does not exist.');
    if (!validName(to)) throw new BackendError('bad-name', `"${to}" is not a valid mailbox name.`);
    if (this.byName(to))
      throw new BackendError('already-exists', 'The target mailbox already exists.');
    if (to.startsWith(from + MAILBOX_DELIMITER)) {
      throw new BackendError('cannot', 'A mailbox cannot be moved into itself.');
    }
    if (from === 'INBOX') {
      // RFC 3501 6.3.5: renaming INBOX moves its messages to the new name; INBOX stays, empty.
      const target = await this.createMailbox(to);
      const t = this.byId(target.id);
      const moved = box.messages;
      box.messages = [];
      for (const m of moved) {
        t.highestModseq++;
        t.messages.push({ ...m, uid: t.uidNext++, modseq: t.highestModseq });
      }
      box.highestModseq++;
      this.emit({
        type: 'messages-expunged',
        mailboxId: box.info.id,
        uids: moved.map((m) => m.uid),
        modseq: box.highestModseq,
      });
      return this.infoOf(t);
    }
    const prefix = from + MAILBOX_DELIMITER;
    for (const b of this.mailboxes.values()) {
      if (b === box || b.info.name.startsWith(prefix)) {
        const oldName = b.info.name;
        b.info.name = to + oldName.slice(from.length);
        if (this.subscriptions.delete(oldName)) this.subscriptions.add(b.info.name);
        this.emit({ type: 'mailbox-renamed', mailbox: this.infoOf(b), oldName });
      }
    }
    for (let i = 1; i < to.split(MAILBOX_DELIMITER).length; i++) {
      const parent = to.split(MAILBOX_DELIMITER).slice(0, i).join(MAILBOX_DELIMITER);
      if (!this.byName(parent))
        this.emit({ type: 'mailbox-created', mailbox: this.infoOf(this.addMailbox(parent, null)) });
    }
    return this.infoOf(box);
  }

  async deleteMailbox(name: string): Promise<void> {
    if (name === 'INBOX') throw new BackendError('cannot', 'INBOX cannot be deleted.');
    const box = this.byName(name);
    if (!box) throw new BackendError('nonexistent', 'The mailbox does not exist.');
    this.mailboxes.delete(box.info.id);
    this.emit({ type: 'mailbox-deleted', mailboxId: box.info.id, name });
  }

  async setSubscribed(name: string, subscribed: boolean): Promise<void> {
    if (subscribed) this.subscriptions.add(name);
    else this.subscriptions.delete(name);
  }

  async listSubscriptions(): Promise<string[]> {
    return [...this.subscriptions];
  }

  private statusOf(box: StoredMailbox): MailboxStatus {
    let unseen = 0;
    for (const m of box.messages) if (!m.flags.has('\\Seen')) unseen++;
    return {
      uidValidity: box.uidValidity,
      uidNext: box.uidNext,
      highestModseq: box.highestModseq,
      messages: box.messages.length,
      unseen,
    };
  }

  async status(mailboxId: string): Promise<MailboxStatus> {
    return this.statusOf(this.byId(mailboxId));
  }

  async openMailbox(mailboxId: string): Promise<MailboxSnapshot> {
    const box = this.byId(mailboxId);
    const keywords = new Set<string>();
    let firstUnseenUid: number | null = null;
    for (const m of box.messages) {
      for (const f of m.flags) if (!f.startsWith('\\')) keywords.add(f);
      if (firstUnseenUid === null && !m.flags.has('\\Seen')) firstUnseenUid = m.uid;
    }
    return {
      mailbox: this.infoOf(box),
      status: this.statusOf(box),
      uids: Uint32Array.from(box.messages, (m) => m.uid),
      keywords: [...keywords],
      firstUnseenUid,
    };
  }

  async *fetch(
    mailboxId: string,
    ranges: UidRange[],
    options: FetchOptions = {},
  ): AsyncIterable<MessageMeta> {
    const box = this.byId(mailboxId);
    for (const m of selectMessages(box.messages, ranges)) {
      if (options.changedSince !== undefined && m.modseq <= options.changedSince) continue;
      const meta: MessageMeta = {
        uid: m.uid,
        flags: [...m.flags],
        modseq: m.modseq,
        internalDate: m.internalDate,
        size: m.raw.length,
      };
      if (options.want?.envelope) meta.envelope = m.analysis.envelope;
      if (options.want?.bodyStructure) meta.bodyStructure = m.analysis.bodyStructure;
      if (options.want?.layout) meta.layout = m.analysis.layout;
      if (options.want?.header)
        meta.header = Buffer.from(m.raw.subarray(0, m.analysis.layout.headerEnd)).toString(
          'latin1',
        );
      yield meta;
    }
  }

  async readMessage(
    mailboxId: string,
    uid: number,
    range?: ByteRange,
  ): Promise<AsyncIterable<Uint8Array>> {
    const messages = this.byId(mailboxId).messages;
    const m = messages[lowerBound(messages, uid)];
    if (!m || m.uid !== uid) throw new BackendError('nonexistent', 'The message no longer exists.');
    const bytes = range ? m.raw.subarray(range.start, Math.min(range.end, m.raw.length)) : m.raw;
    return (async function* () {
      // Chunks, as an encrypted store would hand them out.
      for (let i = 0; i < bytes.length; i += 65536) yield bytes.subarray(i, i + 65536);
    })();
  }

  async storeFlags(
    mailboxId: string,
    uids: UidRange[],
    request: StoreFlagsRequest,
    options: ChangeOptions = {},
  ): Promise<StoreFlagsResult> {
    const box = this.byId(mailboxId);
    const changed: MessageFlags[] = [];
    const conflicts: number[] = [];
    for (const m of selectMessages(box.messages, uids)) {
      if (request.unchangedSince !== undefined && m.modseq > request.unchangedSince) {
        conflicts.push(m.uid);
        continue;
      }
      const next = new Set(request.operation === 'replace' ? [] : m.flags);
      for (const f of request.flags) {
        if (request.operation === 'remove') next.delete(f);
        else next.add(f);
      }
      if (next.size === m.flags.size && [...next].every((f) => m.flags.has(f))) continue;
      m.flags = next;
      m.modseq = ++box.highestModseq;
      changed.push({ uid: m.uid, flags: [...next], modseq: m.modseq });
    }
    if (changed.length)
      this.emit({ type: 'flags-changed', mailboxId, messages: changed, origin: options.origin });
    return { changed, conflicts };
  }

  private copyInto(
    box: StoredMailbox,
    uids: UidRange[],
    dest: StoredMailbox,
    origin: unknown,
  ): CopyResult {
    const sourceUids: number[] = [];
    const destinationUids: number[] = [];
    const added: MessageFlags[] = [];
    for (const m of box.messages) {
      if (!inRanges(m.uid, uids)) continue;
      const copy: StoredMessage = {
        ...m,
        flags: new Set(m.flags),
        uid: dest.uidNext++,
        modseq: ++dest.highestModseq,
      };
      dest.messages.push(copy);
      sourceUids.push(m.uid);
      destinationUids.push(copy.uid);
      added.push({ uid: copy.uid, flags: [...copy.flags], modseq: copy.modseq });
    }
    if (added.length)
      this.emit({ type: 'messages-added', mailboxId: dest.info.id, messages: added, origin });
    return { uidValidity: dest.uidValidity, sourceUids, destinationUids };
  }

  async copyMessages(
    mailboxId: string,
    uids: UidRange[],
    destinationId: string,
    options: ChangeOptions = {},
  ): Promise<CopyResult> {
    return this.copyInto(this.byId(mailboxId), uids, this.byId(destinationId), options.origin);
  }

  async moveMessages(
    mailboxId: string,
    uids: UidRange[],
    destinationId: string,
    options: ChangeOptions = {},
  ): Promise<CopyResult> {
    const box = this.byId(mailboxId);
    const result = this.copyInto(box, uids, this.byId(destinationId), options.origin);
    this.remove(box, new Set(result.sourceUids), options.origin);
    return result;
  }

  private remove(box: StoredMailbox, uids: Set<number>, origin: unknown): number[] {
    if (uids.size === 0) return [];
    const removed: number[] = [];
    box.messages = box.messages.filter((m) => {
      if (!uids.has(m.uid)) return true;
      removed.push(m.uid);
      return false;
    });
    if (removed.length) {
      box.highestModseq++;
      this.emit({
        type: 'messages-expunged',
        mailboxId: box.info.id,
        uids: removed,
        modseq: box.highestModseq,
        origin,
      });
    }
    return removed;
  }

  async expunge(
    mailboxId: string,
    uids: UidRange[],
    options: ChangeOptions = {},
  ): Promise<number[]> {
    const box = this.byId(mailboxId);
    const chosen = new Set(box.messages.filter((m) => inRanges(m.uid, uids)).map((m) => m.uid));
    return this.remove(box, chosen, options.origin);
  }

  async append(
    mailboxId: string,
    request: AppendRequest,
    options: ChangeOptions = {},
  ): Promise<AppendResult> {
    return (await this.appendMany(mailboxId, [request], options))[0]!;
  }

  async appendMany(
    mailboxId: string,
    requests: AppendRequest[],
    options: ChangeOptions = {},
  ): Promise<AppendResult[]> {
    const box = this.byId(mailboxId);
    const read: { raw: Uint8Array; analysis: MessageAnalysis }[] = [];
    // Everything is read and analysed before anything is stored: all or nothing.
    for (const request of requests) {
      const raw = await collect(request.content, this.options.maxMessageSize ?? 64 * 1024 * 1024);
      read.push({ raw, analysis: await analyzeMessage(raw) });
    }
    // The mailbox may have been deleted while the content streamed in.
    this.byId(mailboxId);
    const stored = requests.map((request, i): StoredMessage => ({
      uid: box.uidNext++,
      flags: new Set((request.flags ?? []).filter((f) => f !== '\\Recent')),
      modseq: ++box.highestModseq,
      internalDate: request.internalDate ?? new Date(),
      raw: read[i]!.raw,
      analysis: read[i]!.analysis,
    }));
    box.messages.push(...stored);
    if (stored.length)
      this.emit({
        type: 'messages-added',
        mailboxId,
        messages: stored.map((m) => ({ uid: m.uid, flags: [...m.flags], modseq: m.modseq })),
        origin: options.origin,
      });
    return stored.map((m) => ({ uidValidity: box.uidValidity, uid: m.uid }));
  }

  watch(listener: MailboxChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
