/**
 * One client connection: the RFC 3501 state machine (not authenticated → authenticated →
 * selected → logout), command dispatch, and the ordering rules that keep the wire sane:
 * one command runs at a time, input is paused meanwhile (so a client cannot make us buffer
 * without bound), untagged updates go out only where the RFC allows them.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log/index.js';
import {
  BackendError,
  type AccountBackend,
  type MailboxBackend,
  type MailboxChange,
  type MailboxInfo,
  type MailboxSnapshot,
} from './backend.js';
import { COMMANDS } from './commands/index.js';
import { CommandRefusal, type CommandResult } from './commands/types.js';
import { flagsAnnouncement } from './commands/util.js';
import { FrameReader, type Frame, type FrameError } from './protocol/frames.js';
import { CommandReader, ParseError } from './protocol/parser.js';
import type { RecentMessages } from './recent.js';
import { MailboxTracker } from './tracker.js';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

export interface SessionLimits {
  maxLineLength: number;
  maxLiteralSize: number;
  maxAppendSize: number;
  /**
   * Before login anyone on the machine can connect, so only what LOGIN and AUTHENTICATE need
   * is read: lines, literals and whole commands this small, and one command at a time. Too
   * much input is answered with BAD and BYE and the connection closed.
   */
  preAuthMaxLineLength: number;
  preAuthMaxLiteralSize: number;
  preAuthMaxCommandSize: number;
  /** RFC 3501 5.4: at least 30 minutes once authenticated. */
  idleTimeoutMs: number;
  /** Before login a silent client is dropped sooner. */
  preAuthTimeoutMs: number;
  /** Failed logins on one connection before it is closed. */
  maxAuthFailures: number;
}

export interface SessionServices {
  backend: MailboxBackend;
  /** Checks credentials with the server's throttling; null when refused. */
  login(user: string, password: string, session: ImapSession): Promise<string | null>;
  logger: Logger;
  limits: SessionLimits;
  /** Which new messages no session has taken as \Recent yet, shared by the server's sessions. */
  recent: RecentMessages;
}

export interface SelectedMailbox {
  mailbox: MailboxInfo;
  readOnly: boolean;
  tracker: MailboxTracker;
}

const BASE_CAPABILITIES = ['IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE'];
const AUTH_CAPABILITIES = ['AUTH=PLAIN'];
const SELECTED_CAPABILITIES = [
  'NAMESPACE',
  'UNSELECT',
  'UIDPLUS',
  'MOVE',
  'CHILDREN',
  'SPECIAL-USE',
  'CREATE-SPECIAL-USE',
  'LIST-EXTENDED',
  'CONDSTORE',
  'QRESYNC',
  'ESEARCH',
  'SEARCHRES',
  'MULTIAPPEND',
  'SORT',
  'SORT=DISPLAY',
  'THREAD=ORDEREDSUBJECT',
  'THREAD=REFERENCES',
  'BINARY',
];
/** Output is batched up to this many characters before a socket write. */
const OUTPUT_BATCH = 64 * 1024;
/** Pipelined commands parsed ahead once logged in; the rest waits unparsed as bytes. */
const MAX_QUEUED_COMMANDS = 64;

export class ImapSession {
  state: SessionState = 'not-authenticated';
  accountId: string | null = null;
  private accountBackend: AccountBackend | null = null;
  selected: SelectedMailbox | null = null;
  /** CONDSTORE enabled (RFC 7162 3.1): MODSEQ is then added to untagged FETCH. */
  condstore = false;
  /** QRESYNC enabled (RFC 7162 3.2.3): expunges are then reported as VANISHED. */
  qresync = false;
  authFailures = 0;
  readonly logger: Logger;

  private readonly reader: FrameReader;
  private readonly queue: Frame[] = [];
  private readonly stash: Buffer[] = [];
  private running = false;
  private lineWaiter: ((line: string | null) => void) | null = null;
  private unwatch: (() => void) | null = null;
  private output = '';
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private closed = false;
  /** Set while IDLE: updates are written as they come. */
  private idling = false;
  private idleFlushScheduled = false;

  constructor(
    private readonly socket: Socket,
    readonly services: SessionServices,
  ) {
    this.logger = services.logger;
    const { limits } = services;
    this.reader = new FrameReader(
      {
        maxLineLength: limits.preAuthMaxLineLength,
        maxLiteralSize: () => limits.preAuthMaxLiteralSize,
        maxCommandSize: () => limits.preAuthMaxCommandSize,
        resynchronise: false,
      },
      {
        frame: (frame) => this.onFrame(frame),
        continuation: () => this.writeNow('+ Ready for literal data\r\n'),
        error: (error) => this.onFrameError(error),
      },
    );
    socket.setNoDelay(true);
    socket.setTimeout(limits.preAuthTimeoutMs);
    socket.on('timeout', () => {
      this.writeNow('* BYE Autologout; idle for too long\r\n');
      this.close();
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.cleanup());
    socket.on('error', () => this.cleanup());
  }

  start(): void {
    this.writeNow(`* OK [CAPABILITY ${this.capabilities().join(' ')}] Leapbird IMAP ready\r\n`);
  }

  capabilities(): string[] {
    if (this.state === 'not-authenticated') return [...BASE_CAPABILITIES, ...AUTH_CAPABILITIES];
    return [...BASE_CAPABILITIES, ...SELECTED_CAPABILITIES];
  }

  /** STATUS RECENT: the mailbox's messages no session has taken as \Recent yet. */
  recentCount(mailboxId: string): number {
    return this.accountId ? this.services.recent.unclaimedCount(this.accountId, mailboxId) : 0;
  }

  get account(): AccountBackend {
    if (!this.accountBackend) throw new Error('Not authenticated');
    return this.accountBackend;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- input ----

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    if ((this.running && !this.lineWaiter) || this.stash.length) {
      // A command is running (or earlier bytes wait): keep the bytes for later and stop
      // reading, so a client that floods us is held back by TCP instead of by our memory.
      this.stash.push(chunk);
      this.socket.pause();
      return;
    }
    this.feed(chunk);
    this.pump();
  }

  /** Reads a chunk; what the reader left unread (enough commands queued) waits in front. */
  private feed(chunk: Buffer): boolean {
    const rest = this.reader.push(chunk);
    if (!rest?.length) return true;
    this.stash.unshift(rest);
    this.socket.pause();
    return false;
  }

  private drainStash(): void {
    while (this.stash.length && (!this.running || this.lineWaiter) && !this.closed) {
      if (!this.feed(this.stash.shift()!)) break;
    }
    if (!this.stash.length && !this.closed) this.socket.resume();
  }

  /** False when enough commands wait: the reader stops and the bytes stay unparsed. */
  private onFrame(frame: Frame): boolean {
    if (this.closed) return false;
    if (this.lineWaiter) {
      const waiter = this.lineWaiter;
      this.lineWaiter = null;
      waiter(frame.lines.map((l) => l.toString('latin1')).join(''));
    } else {
      this.queue.push(frame);
    }
    const ahead = this.state === 'not-authenticated' ? 1 : MAX_QUEUED_COMMANDS;
    return this.queue.length < ahead;
  }

  private onFrameError(error: FrameError): void {
    if (this.closed) return;
    if (this.state === 'not-authenticated') return this.refusePreAuthInput(error);
    const text =
      error.kind === 'line-too-long'
        ? 'Command line too long'
        : error.kind === 'literal-too-big'
          ? 'Literal too big'
          : 'Command too big';
    if (error.fatal) {
      this.writeNow(`* BYE ${text}\r\n`);
      this.close();
      return;
    }
    const code = error.kind === 'line-too-long' ? '' : '[TOOBIG] ';
    if (this.lineWaiter) {
      const waiter = this.lineWaiter;
      this.lineWaiter = null;
      waiter(null);
    }
    this.writeNow(error.tag ? `${error.tag} BAD ${code}${text}\r\n` : `* BAD ${code}${text}\r\n`);
  }

  /** Before login too much input ends the connection, with a sentence that says why. */
  private refusePreAuthInput(error: FrameError): void {
    const { limits } = this.services;
    const [what, max] =
      error.kind === 'line-too-long'
        ? ['Command line too long', limits.preAuthMaxLineLength]
        : error.kind === 'literal-too-big'
          ? ['[TOOBIG] Literal too big', limits.preAuthMaxLiteralSize]
          : ['[TOOBIG] Command too big', limits.preAuthMaxCommandSize];
    if (error.tag) this.writeNow(`${error.tag} BAD ${what}: before login at most ${max} bytes\r\n`);
    this.writeNow('* BYE Too much input before login; closing the connection\r\n');
    this.close();
  }

  /** Ends the connection with an untagged BYE that says why (the server's limits). */
  bye(text: string): void {
    this.writeNow(`* BYE ${text}\r\n`);
    this.close();
  }

  private pump(): void {
    if (this.running || this.closed) return;
    this.running = true;
    void this.runQueue();
  }

  private async runQueue(): Promise<void> {
    try {
      while (this.queue.length && !this.closed) {
        await this.handle(this.queue.shift()!);
      }
    } catch (error) {
      this.logger.error('imap.session_failed', { error });
      this.close();
    } finally {
      this.running = false;
    }
    if (!this.closed && this.stash.length) {
      this.drainStash();
      this.pump();
    } else if (!this.closed) {
      this.socket.resume();
    }
  }

  /** Next raw line from the client (AUTHENTICATE, IDLE); null on bad input or close. */
  readLine(): Promise<string | null> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(null);
      const next = this.queue.shift();
      if (next) return resolve(next.lines.map((l) => l.toString('latin1')).join(''));
      this.lineWaiter = resolve;
      this.drainStash();
    });
  }

  // ---- dispatch ----

  private async handle(frame: Frame): Promise<void> {
    const reader = new CommandReader(frame);
    let tag: string;
    let name: string;
    try {
      tag = reader.tag();
      reader.sp();
      name = reader.keyword();
    } catch {
      await this.write('* BAD Invalid tag or command\r\n');
      return;
    }
    let uid = false;
    if (name === 'UID') {
      uid = true;
      try {
        reader.sp();
        name = reader.keyword();
      } catch {
        await this.write(`${tag} BAD UID needs a command\r\n`);
        return;
      }
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command || (uid && !command.uidVariant)) {
      await this.write(`${tag} BAD Unknown command\r\n`);
      return;
    }
    if (!command.states.includes(this.state)) {
      await this.write(`${tag} BAD ${name} is not allowed ${stateText(this.state)}\r\n`);
      return;
    }
    let result: CommandResult;
    try {
      result = await command.run({ session: this, tag, uid, reader });
    } catch (error) {
      result = errorResult(error, this.logger, name);
    }
    if (this.closed) return;
    // After BYE only the tagged answer may follow (RFC 3501 7.1.5).
    if (this.state !== 'logout')
      this.queueUpdates(
        command.allowsExpunge ? command.allowsExpunge(uid) : true,
        command.announcesNewMail ?? true,
      );
    const code = result.code ? `[${result.code}] ` : '';
    this.send(`${tag} ${result.status} ${code}${result.text}`);
    await this.flushOutput();
    if (this.selected?.tracker.invalidated) {
      await this.write('* BYE The selected mailbox no longer exists\r\n');
      this.close();
    }
    if (this.state === 'logout') this.close();
  }

  // ---- authentication and selection ----

  async login(user: string, password: string): Promise<boolean> {
    const accountId = await this.services.login(user, password, this);
    // Closed meanwhile (the client left, or the server made room): log nobody in.
    if (this.closed) return false;
    if (accountId === null) {
      this.authFailures++;
      if (this.authFailures >= this.services.limits.maxAuthFailures) {
        this.send('* BYE Too many failed logins');
        this.state = 'logout';
      }
      return false;
    }
    const accountBackend = await this.services.backend.account(accountId);
    if (this.closed) return false;
    this.accountBackend = accountBackend;
    this.accountId = accountId;
    this.state = 'authenticated';
    const { limits } = this.services;
    this.reader.setLimits({
      maxLineLength: limits.maxLineLength,
      maxLiteralSize: (append) => (append ? limits.maxAppendSize : limits.maxLiteralSize),
      maxCommandSize: (append) =>
        (append ? limits.maxAppendSize : limits.maxLiteralSize) + limits.maxLineLength * 4,
      resynchronise: true,
    });
    this.socket.setTimeout(this.services.limits.idleTimeoutMs);
    this.services.recent.follow(accountId, accountBackend);
    this.unwatch = this.accountBackend.watch((change) => this.onChange(change));
    this.logger.info('imap.login', { accountId });
    return true;
  }

  async select(mailbox: MailboxInfo, readOnly: boolean): Promise<MailboxSnapshot> {
    this.selected = null;
    this.state = 'authenticated';
    this.earlyChanges.length = 0;
    const snapshot = await this.account.openMailbox(mailbox.id);
    const accountId = this.accountId!;
    const tracker = new MailboxTracker(snapshot, mailbox.id, this, (upToUid) =>
      this.services.recent.claimUpTo(accountId, mailbox.id, upToUid, !readOnly),
    );
    // Changes between watch() and the snapshot are replayed; the tracker drops the ones the
    // snapshot already contains by their modseq.
    for (const change of this.earlyChanges.splice(0)) tracker.apply(change);
    this.selected = { mailbox: snapshot.mailbox, readOnly, tracker };
    this.state = 'selected';
    return snapshot;
  }

  deselect(): void {
    this.selected = null;
    this.state = 'authenticated';
  }

  /** Changes seen while no tracker exists yet (during SELECT); bounded by being cleared at each SELECT. */
  private readonly earlyChanges: MailboxChange[] = [];

  private onChange(change: MailboxChange): void {
    if (this.selected) {
      this.selected.tracker.apply(change);
      if (this.idling) this.scheduleIdleFlush();
    } else if (this.running && this.earlyChanges.length < 10_000) {
      this.earlyChanges.push(change);
    }
  }

  // ---- updates and IDLE ----

  /** Queues pending untagged updates for the selected mailbox. */
  queueUpdates(allowExpunge: boolean, announceNew = true): void {
    if (!this.selected) return;
    const { tracker, readOnly } = this.selected;
    const keywords = tracker.newKeywords();
    if (keywords) for (const line of flagsAnnouncement(keywords, readOnly)) this.send(line);
    const lines = tracker.flush(allowExpunge, this.condstore, this.qresync, announceNew);
    for (const line of lines) this.send(line);
  }

  setIdling(idling: boolean): void {
    this.idling = idling;
    if (idling) this.scheduleIdleFlush();
  }

  private scheduleIdleFlush(): void {
    if (this.idleFlushScheduled) return;
    this.idleFlushScheduled = true;
    // Batch a burst of changes (a sync writing many messages) into one write.
    setImmediate(() => {
      this.idleFlushScheduled = false;
      if (!this.idling || this.closed) return;
      this.queueUpdates(true);
      void this.flushOutput();
      if (this.selected?.tracker.invalidated) {
        this.writeNow('* BYE The selected mailbox no longer exists\r\n');
        this.close();
      }
    });
  }

  // ---- output ----

  /** Queues one response line (CRLF added). */
  send(line: string): void {
    this.output += line + '\r\n';
  }

  /** Queues message bytes after what is queued; large pieces go out at once. */
  async sendBytes(bytes: Uint8Array): Promise<void> {
    this.queueBytes(bytes);
    if (this.outputFull) await this.flushOutput();
  }

  /**
   * Queues raw text (for responses assembled in pieces) without writing: the caller flushes
   * when {@link outputFull} says so.
   */
  queueText(text: string): void {
    this.output += text;
  }

  queueBytes(bytes: Uint8Array): void {
    this.moveTextToPending();
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
  }

  get outputFull(): boolean {
    return this.output.length + this.pendingBytes >= OUTPUT_BATCH;
  }

  private moveTextToPending(): void {
    if (!this.output) return;
    const buf = Buffer.from(this.output, 'utf8');
    this.output = '';
    this.pending.push(buf);
    this.pendingBytes += buf.length;
  }

  async flushOutput(): Promise<void> {
    this.moveTextToPending();
    if (!this.pending.length) return;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    await this.writeRaw(data);
  }

  async write(text: string): Promise<void> {
    this.output += text;
    await this.flushOutput();
  }

  private writeNow(text: string): void {
    if (!this.closed && this.socket.writable) this.socket.write(text);
  }

  private writeRaw(bytes: Uint8Array): Promise<void> {
    if (this.closed || !this.socket.writable) return Promise.resolve();
    if (this.socket.write(bytes)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.moveTextToPending();
    for (const piece of this.pending) if (this.socket.writable) this.socket.write(piece);
    this.pending = [];
    this.pendingBytes = 0;
    this.socket.end();
    // Nothing more is read: a client still sending is held back by TCP, not decrypted for
    // nothing. One that does not read its responses must not keep the socket (and us) waiting.
    this.socket.pause();
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.cleanup();
  }

  private cleanup(): void {
    this.closed = true;
    this.unwatch?.();
    this.unwatch = null;
    this.selected = null;
    this.queue.length = 0;
    this.stash.length = 0;
    if (this.lineWaiter) {
      const waiter = this.lineWaiter;
      this.lineWaiter = null;
      waiter(null);
    }
  }
}

function stateText(state: SessionState): string {
  if (state === 'not-authenticated') return 'before login';
  if (state === 'authenticated') return 'without a selected mailbox';
  return 'now';
}

const BACKEND_CODES: Record<BackendError['code'], string> = {
  nonexistent: 'NONEXISTENT',
  'already-exists': 'ALREADYEXISTS',
  cannot: 'CANNOT',
  'too-big': 'TOOBIG',
  'bad-name': 'CANNOT',
  'over-quota': 'OVERQUOTA',
  unavailable: 'UNAVAILABLE',
};

function errorResult(error: unknown, logger: Logger, command: string): CommandResult {
  if (error instanceof ParseError) return { status: 'BAD', text: error.message };
  if (error instanceof CommandRefusal)
    return { status: 'NO', code: error.code, text: error.message };
  if (error instanceof BackendError)
    return { status: 'NO', code: BACKEND_CODES[error.code], text: error.message };
  logger.error('imap.command_failed', { command, error });
  return { status: 'NO', code: 'SERVERBUG', text: 'The command failed on the server.' };
}
