/**
 * The durable outbox. A message enters it only as encrypted blobs (fsynced) plus rows
 * (committed with synchronous=FULL) before the SMTP client hears 250; from then on it is
 * delivered to the provider's relay with exponential backoff, survives restarts, and ends
 * either delivered (its Sent copy stored through the store, which queues the upstream
 * append) or as a clear bounce in the local Inbox.
 *
 * The blobs live in a blob store of their own (`dir`): the account store's garbage
 * collector removes every blob its mail index does not name, and queued mail is not in it.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Logger } from '../../log/index.js';
import { silentLogger } from '../../log/index.js';
import {
  BlobStore,
  deriveStorageKeys,
  type AccountStore,
  type BlobSource,
  type PutResult,
  type SqliteDatabase,
} from '../../store/index.js';
import {
  connectRelay,
  type RelayConnection,
  type RelayEndpoint,
  type RelayOutcome,
} from './relay.js';
import { OUTBOX_MIGRATIONS, OUTBOX_NAMESPACE } from './schema.js';
import { bounceMessage } from './bounce.js';

export interface RetryPolicy {
  /** Wait before the second attempt; doubled after each failure. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** After this long since acceptance, a failing delivery is given up and bounced. */
  giveUpAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  firstDelayMs: 30_000,
  maxDelayMs: 30 * 60_000,
  giveUpAfterMs: 3 * 24 * 3600_000,
};

export interface OutboxOptions {
  store: AccountStore;
  /** The account's storage secret: the outbox blobs are keyed from it like the store's. */
  storageSecret: Uint8Array;
  /** Directory of the outbox blobs (e.g. `<accountDir>/outbox`), not the store's `blobs/`. */
  dir: string;
  /** Where and how to relay; asked before every attempt, so a renewed token is used. */
  relay: () => Promise<RelayEndpoint>;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  now?: () => number;
  chunkSize?: number;
  /**
   * Tests only: runs when the relay has accepted a delivery and the outbox has not yet
   * recorded it, the one moment a crash makes SMTP resend (test/smtp/outbox.test.ts kills
   * the process here).
   */
  afterRelayAcceptedForTests?: () => void;
}

export type Protection = 'encrypt' | 'sign' | 'passthrough';

export interface OutboxEntry {
  sender: string;
  /** The Subject as the user wrote it (kept in the encrypted database, for a bounce). */
  subject: string | null;
  protection: Protection;
  /** The message as Thunderbird submitted it, for the bounce. */
  originalBlob: string;
  /** The copy for the Sent mailbox (encrypted to the user). */
  sentBlob: string;
  deliveries: { blobId: string; recipients: string[] }[];
}

/** What the outbox holds, for status displays and tests. */
export interface OutboxMessageStatus {
  id: string;
  sender: string;
  createdAt: Date;
  protection: Protection;
  deliveries: {
    recipients: string[];
    state: 'pending' | 'delivered' | 'failed';
    attempts: number;
    nextAttemptAt: Date;
    lastError: string | null;
  }[];
}

interface MessageRow {
  id: string;
  created_at: number;
  sender: string;
  subject: string | null;
  protection: Protection;
  original_blob: string;
  sent_blob: string;
  sent_stored: number;
  bounced: number;
}

interface DeliveryRow {
  id: number;
  message_id: string;
  blob_id: string;
  recipients: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  failed_recipients: string;
}

export class Outbox {
  readonly blobs: BlobStore;
  private readonly db: SqliteDatabase;
  private readonly retry: RetryPolicy;
  private readonly log: Logger;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private started = false;

  constructor(private readonly options: OutboxOptions) {
    const keys = deriveStorageKeys(options.storageSecret);
    options.store.database.registerMigrations(OUTBOX_NAMESPACE, OUTBOX_MIGRATIONS);
    this.db = options.store.database.raw;
    this.blobs = new BlobStore({
      dir: options.dir,
      key: keys.blob,
      nameKey: keys.blobName,
      ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
    });
    keys.database.fill(0);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.log = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  /** Writes a blob durably; it stays safe from {@link discard} races until released. */
  put(source: BlobSource): Promise<PutResult> {
    return this.blobs.put(source);
  }

  read(blobId: string): Readable {
    return this.blobs.createReadStream(blobId);
  }

  /**
   * Records a message and its deliveries in one transaction. After this returns, the
   * message will be delivered or bounced, whatever happens to the process.
   */
  enqueue(entry: OutboxEntry): string {
    const id = randomUUID();
    const now = this.now();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO outbox_messages (id, created_at, sender, subject, protection, original_blob, sent_blob)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          now,
          entry.sender,
          entry.subject,
          entry.protection,
          entry.originalBlob,
          entry.sentBlob,
        );
      const insert = this.db.prepare(
        `INSERT INTO outbox_deliveries (message_id, blob_id, recipients, next_attempt_at)
         VALUES (?, ?, ?, ?)`,
      );
      for (const d of entry.deliveries) insert.run(id, d.blobId, JSON.stringify(d.recipients), now);
    })();
    this.log.info('outbox_enqueued', {
      id,
      protection: entry.protection,
      deliveries: entry.deliveries.length,
    });
    return id;
  }

  /** Ends the protection from {@link discard} that `put` gave these blobs. */
  release(blobIds: Iterable<string>): void {
    for (const id of blobIds) this.blobs.release(id);
  }

  /**
   * Deletes blobs that no outbox row refers to and no submission in progress holds (blob
   * names come from the content, so two identical messages share one).
   */
  async discard(blobIds: Iterable<string>): Promise<void> {
    for (const id of new Set(blobIds)) {
      if (this.referenced(id) || this.blobs.isInFlight(id)) continue;
      await this.blobs.delete(id).catch(() => undefined);
    }
  }

  /**
   * Removes blobs no row refers to: left by a process killed between writing a message's
   * blobs and recording it (its client never heard 250, so it sends again). Blobs younger
   * than `minAgeMs` are kept: another submission may be about to record them.
   */
  async collectGarbage(options: { minAgeMs?: number } = {}): Promise<number> {
    const cutoff = this.now() - (options.minAgeMs ?? 10 * 60_000);
    let removed = 0;
    for (const id of await this.blobs.list()) {
      if (this.referenced(id) || this.blobs.isInFlight(id)) continue;
      const writtenAt = await this.blobs.writtenAt(id);
      if (writtenAt === null || writtenAt > cutoff) continue;
      await this.blobs.delete(id).catch(() => undefined);
      removed++;
    }
    return removed;
  }

  private referenced(blobId: string): boolean {
    return (
      this.db
        .prepare(
          `SELECT 1 FROM outbox_messages WHERE original_blob = ? OR sent_blob = ?
           UNION ALL SELECT 1 FROM outbox_deliveries WHERE blob_id = ? LIMIT 1`,
        )
        .get(blobId, blobId, blobId) !== undefined
    );
  }

  list(): OutboxMessageStatus[] {
    const messages = this.db
      .prepare('SELECT * FROM outbox_messages ORDER BY created_at, id')
      .all() as MessageRow[];
    return messages.map((m) => ({
      id: m.id,
      sender: m.sender,
      createdAt: new Date(m.created_at),
      protection: m.protection,
      deliveries: this.deliveriesOf(m.id).map((d) => ({
        recipients: JSON.parse(d.recipients) as string[],
        state: d.state,
        attempts: d.attempts,
        nextAttemptAt: new Date(d.next_attempt_at),
        lastError: d.last_error,
      })),
    }));
  }

  private deliveriesOf(messageId: string): DeliveryRow[] {
    return this.db
      .prepare('SELECT * FROM outbox_deliveries WHERE message_id = ? ORDER BY id')
      .all(messageId) as DeliveryRow[];
  }

  /** Delivers in the background from now on: what is due now, then at each retry time. */
  start(): void {
    this.started = true;
    this.kick();
    void this.collectGarbage().catch((error) =>
      this.log.warn('outbox_gc_failed', { error: (error as Error).message }),
    );
  }

  /** Asks for a delivery round soon (a new message was queued). */
  kick(): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    void this.flush().catch((error) =>
      this.log.error('outbox_round_failed', { error: (error as Error).message }),
    );
  }

  /**
   * Makes every waiting delivery due now and runs a round: for when the network or the
   * provider is known to be back (or the user asks to send now).
   */
  retryNow(): Promise<void> {
    this.db
      .prepare(`UPDATE outbox_deliveries SET next_attempt_at = ? WHERE state = 'pending'`)
      .run(this.now());
    return this.flush();
  }

  /** Stops scheduling and waits for the round in progress. Queued mail stays queued. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /**
   * One delivery round for everything due now (rounds never overlap; a call during a
   * round causes another right after it). Resolves when done.
   */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.round();
        } while (this.again);
      } finally {
        this.running = null;
        this.schedule();
      }
    })();
    return this.running;
  }

  private schedule(): void {
    if (!this.started) return;
    const next = this.db
      .prepare(`SELECT MIN(next_attempt_at) FROM outbox_deliveries WHERE state = 'pending'`)
      .pluck()
      .get() as number | null;
    if (next === null) return;
    const delay = Math.max(0, Math.min(next - this.now(), 2 ** 31 - 1));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), delay);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    const due = this.db
      .prepare(
        `SELECT * FROM outbox_deliveries WHERE state = 'pending' AND next_attempt_at <= ?
         ORDER BY id`,
      )
      .all(this.now()) as DeliveryRow[];
    if (due.length > 0) {
      // One login for the round: a backlog goes out over one connection.
      let relay: RelayConnection | Extract<RelayOutcome, { ok: false }>;
      try {
        relay = await connectRelay(await this.options.relay());
      } catch (error) {
        relay = { ok: false, permanent: false, reason: (error as Error).message };
      }
      try {
        for (const delivery of due) await this.attempt(delivery, relay);
      } finally {
        if ('send' in relay) relay.close();
      }
    }
    const settled = this.db
      .prepare(
        `SELECT * FROM outbox_messages m WHERE NOT EXISTS
           (SELECT 1 FROM outbox_deliveries d WHERE d.message_id = m.id AND d.state = 'pending')`,
      )
      .all() as MessageRow[];
    for (const message of settled) await this.settle(message);
  }

  private async attempt(
    delivery: DeliveryRow,
    relay: RelayConnection | Extract<RelayOutcome, { ok: false }>,
  ): Promise<void> {
    const message = this.db
      .prepare('SELECT * FROM outbox_messages WHERE id = ?')
      .get(delivery.message_id) as MessageRow;
    const recipients = JSON.parse(delivery.recipients) as string[];
    // Stable for the delivery across attempts and restarts: the relay sends it at most once.
    const envelope = { from: message.sender, to: recipients, id: `${message.id}.${delivery.id}` };
    const outcome: RelayOutcome =
      'send' in relay ? await relay.send(envelope, this.read(delivery.blob_id)) : relay;
    const attempts = delivery.attempts + 1;
    if (outcome.ok) {
      this.options.afterRelayAcceptedForTests?.();
      this.db
        .prepare(
          `UPDATE outbox_deliveries SET state = 'delivered', attempts = ?, last_error = NULL,
             failed_recipients = ? WHERE id = ?`,
        )
        .run(attempts, JSON.stringify(outcome.rejected), delivery.id);
      this.log.info('outbox_delivered', {
        id: message.id,
        recipients: recipients.length,
        rejected: outcome.rejected.length,
      });
      return;
    }
    const age = this.now() - message.created_at;
    if (outcome.permanent || age >= this.retry.giveUpAfterMs) {
      this.db
        .prepare(
          `UPDATE outbox_deliveries SET state = 'failed', attempts = ?, last_error = ?,
             failed_recipients = ? WHERE id = ?`,
        )
        .run(
          attempts,
          outcome.reason,
          JSON.stringify(recipients.map((address) => ({ address, reason: outcome.reason }))),
          delivery.id,
        );
      this.log.warn('outbox_failed', { id: message.id, attempts, reason: outcome.reason });
      return;
    }
    const delay = Math.min(this.retry.firstDelayMs * 2 ** delivery.attempts, this.retry.maxDelayMs);
    this.db
      .prepare(
        'UPDATE outbox_deliveries SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?',
      )
      .run(attempts, outcome.reason, this.now() + delay, delivery.id);
    this.log.info('outbox_retry', { id: message.id, attempts, delayMs: delay });
  }

  /**
   * A message whose deliveries are all final: its Sent copy into Sent (if anyone got it),
   * a bounce into the Inbox (if anyone did not), then its rows and blobs go. Each step is
   * recorded before the next, so a crash repeats at most the step it interrupted.
   */
  private async settle(message: MessageRow): Promise<void> {
    const deliveries = this.deliveriesOf(message.id);
    const store = this.options.store;
    const failed = deliveries.flatMap(
      (d) => JSON.parse(d.failed_recipients) as { address: string; reason: string }[],
    );
    const someoneGotIt = deliveries.some(
      (d) =>
        d.state === 'delivered' &&
        (JSON.parse(d.recipients) as string[]).length >
          (JSON.parse(d.failed_recipients) as unknown[]).length,
    );
    if (someoneGotIt && !message.sent_stored) {
      const sent = await this.sentMailbox();
      await store.append(sent, {
        content: this.read(message.sent_blob),
        flags: ['\\Seen'],
        internalDate: new Date(message.created_at),
      });
      this.db.prepare('UPDATE outbox_messages SET sent_stored = 1 WHERE id = ?').run(message.id);
    }
    if (failed.length > 0 && !message.bounced) {
      const inbox = await store.getMailbox('INBOX');
      if (inbox) {
        // A local notice: it names recipients and the subject in clear, so it is not queued
        // for upload (fromUpstream keeps it out of the change queue).
        await store.append(
          inbox.id,
          {
            content: bounceMessage({
              sender: message.sender,
              subject: message.subject,
              acceptedAt: new Date(message.created_at),
              failed,
              attempts: Math.max(...deliveries.map((d) => d.attempts)),
              original: this.read(message.original_blob),
            }),
            internalDate: new Date(this.now()),
          },
          { fromUpstream: true },
        );
      }
      this.db.prepare('UPDATE outbox_messages SET bounced = 1 WHERE id = ?').run(message.id);
    }
    this.db.prepare('DELETE FROM outbox_messages WHERE id = ?').run(message.id);
    await this.discard([
      message.original_blob,
      message.sent_blob,
      ...deliveries.map((d) => d.blob_id),
    ]);
  }

  private async sentMailbox(): Promise<string> {
    const store = this.options.store;
    const boxes = await store.listMailboxes();
    const sent =
      boxes.find((b) => b.specialUse === '\\Sent') ?? boxes.find((b) => b.name === 'Sent');
    if (sent) return sent.id;
    return (await store.createMailbox('Sent', { specialUse: '\\Sent' })).id;
  }
}
