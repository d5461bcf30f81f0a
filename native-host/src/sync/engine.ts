/**
 * The sync engine: one upstream IMAP connection (imapflow) per account.
 *
 * A pass: replay the local change queue upstream (in order, exactly once), then for every
 * upstream folder: create it locally if new, apply what changed upstream since the last pass
 * (QRESYNC VANISHED and flag changes when the server has QRESYNC, CONDSTORE CHANGEDSINCE for
 * flags, UID diffing when the counts disagree), fetch new messages in bounded batches through
 * the incoming pipeline into the store, and declare the folder synced only when the number
 * of local copies equals the server's count. Between passes: IDLE on INBOX, a poll of every
 * folder each `pollIntervalMs`, and a pass as soon as the user changes something locally.
 *
 * Crash safety (kill -9 anywhere): the store commits a batch and its upstream references in
 * one transaction and ignores an upstream reference it already has; the folder's "last UID"
 * moves forward only after its batch committed. Upstream operations whose answer could be
 * lost (APPEND, MOVE, COPY) are journalled first and found again after a restart.
 */
import { randomUUID } from 'node:crypto';
import type { ExpungeEvent, FlagsEvent, ImapFlow } from 'imapflow';
import { silentLogger, type Logger } from '../log/index.js';
import type { AccountStore, UpstreamRef } from '../store/index.js';
import { connectUpstream, type UpstreamCredentials } from './credentials.js';
import { describeError, SyncError, toSyncError } from './errors.js';
import { keySetDigest, processIncoming, type IncomingResult, type SyncKeys } from './incoming.js';
import { selectableFolders, toUpstreamPath, type UpstreamFolder } from './mailboxes.js';
import { OpenPool } from './open-pool.js';
import { Replayer } from './replay.js';
import { SyncState } from './state.js';

export interface SyncProgress {
  /** Local mailbox name. */
  mailbox: string;
  /** Messages of the folder stored locally. */
  done: number;
  /** Messages the server has in the folder. */
  total: number;
  /** The counts matched at the end of the folder's pass. */
  synced: boolean;
}

export interface SyncOptions {
  store: AccountStore;
  credentials: UpstreamCredentials;
  keys: SyncKeys;
  /**
   * Legacy mode (any IMAP server): after a plaintext message is stored locally, its upstream
   * copy is replaced by one encrypted to the user. The provider has seen the plaintext
   * before; this only stops it from keeping it. Default: on for legacy accounts.
   */
  legacy?: { replaceWithEncrypted?: boolean } | null;
  /**
   * Use QRESYNC when the server has it (default true). Without it, flag changes come from
   * CONDSTORE CHANGEDSINCE and expunges from comparing counts, then UID lists.
   */
  qresync?: boolean;
  /** How often folders other than INBOX are checked (default 60 s). */
  pollIntervalMs?: number;
  /**
   * Worker threads that open (decrypt, verify) incoming messages beside the store's work on
   * the main thread; started for the first folder with enough new mail to be worth it.
   * Default 0 (open on the main thread): on the shared 2-core machine 2 workers gave
   * 1.07-1.25x the throughput for 1.7-1.85x the peak RSS (bench/sync-initial.ts).
   */
  openWorkers?: number;
  /** Messages per fetch batch (default 50) and bytes per batch (default 8 MiB). */
  batchMessages?: number;
  batchBytes?: number;
  onProgress?: (progress: SyncProgress) => void;
  logger?: Logger;
}

export interface SyncReport {
  folders: SyncProgress[];
  /** Local changes replayed upstream in this pass. */
  replayed: number;
  /** Messages stored in this pass. */
  stored: number;
  /** Messages kept undecrypted so far (retried when the keys change). */
  undecrypted: number;
}

/** Marks the engine's own store changes in the change feed (so they do not wake it). */
const ORIGIN = Symbol('sync');
const HEADER_APPEND_ID = 'X-Leap-Append-Id';
const META_PAGE = 500;
/** Fewer new messages than this are opened on the main thread: a worker takes a while to start. */
const POOL_THRESHOLD = 50;

export class SyncEngine {
  readonly state: SyncState;
  private readonly store: AccountStore;
  private readonly keys: SyncKeys;
  private readonly log: Logger;
  private readonly batchMessages: number;
  private readonly batchBytes: number;
  private readonly pollIntervalMs: number;
  private readonly replaceLegacy: boolean;
  private client: ImapFlow | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private dirty = false;
  private unwatch: (() => void) | null = null;
  private lastError: SyncError | null = null;
  private pool: OpenPool | null = null;

  constructor(private readonly options: SyncOptions) {
    this.store = options.store;
    this.keys = options.keys;
    this.state = new SyncState(options.store);
    this.log = options.logger ?? silentLogger;
    this.batchMessages = options.batchMessages ?? 50;
    this.batchBytes = options.batchBytes ?? 8 * 1024 * 1024;
    this.pollIntervalMs = options.pollIntervalMs ?? 60_000;
    this.replaceLegacy = !!options.legacy && options.legacy.replaceWithEncrypted !== false;
  }

  /** The last connection or pass failure, for the add-on's status; null after a good pass. */
  get error(): SyncError | null {
    return this.lastError;
  }

  /**
   * One full pass on a fresh connection: replay, every folder, pending retries. Throws a
   * SyncError when the server cannot be reached or refuses the login.
   */
  async syncOnce(): Promise<SyncReport> {
    const client = await connectUpstream(this.options.credentials, {
      qresync: this.options.qresync,
    });
    this.client = client;
    try {
      return await this.pass(client, true);
    } catch (error) {
      throw toSyncError(error);
    } finally {
      await this.closePool();
      this.client = null;
      await client.logout().catch(() => client.close());
    }
  }

  /** Runs until stop(): passes, IDLE on INBOX, polls, reconnects with backoff. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unwatch = this.store.watch((change) => {
      if ('origin' in change && change.origin === ORIGIN) return;
      if (change.type === 'mailbox-created' || change.type === 'mailbox-renamed') return;
      this.dirty = true;
      this.wake?.();
    });
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unwatch?.();
    this.unwatch = null;
    this.wake?.();
    this.client?.close();
    await this.loop;
    this.loop = null;
    await this.closePool();
  }

  private async closePool(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }

  private openWith(count: number): OpenPool | null {
    const size = this.options.openWorkers ?? 0;
    if (size > 0 && count >= POOL_THRESHOLD) this.pool ??= new OpenPool(size, this.keys);
    return this.pool;
  }

  /** Tries again every message kept undecrypted (call when a key was added or restored). */
  async retryUndecrypted(): Promise<number> {
    const keys = await this.keys.decryptionKeys();
    this.state.setMeta('keys', keySetDigest(keys));
    let opened = 0;
    for (const entry of this.state.undecrypted()) {
      const ref = { mailbox: entry.path, uidValidity: entry.uidValidity, uid: entry.uid };
      const linked = this.store.findByUpstream(ref);
      // Replaced already (crash after the new copy was stored): drop the old one.
      if (linked && (linked.mailboxId !== entry.mailboxId || linked.uid !== entry.localUid)) {
        await this.expungeLocal(entry.mailboxId, [entry.localUid]);
        this.state.removeUndecrypted(entry);
        continue;
      }
      const raw = await this.readLocal(entry.mailboxId, entry.localUid);
      if (!raw) {
        this.state.removeUndecrypted(entry);
        continue;
      }
      const result = await processIncoming(raw.content, this.keys, keys);
      if (result.failure) continue;
      // Unlink first, so the new copy can take the upstream reference; a crash in between
      // is finished by the branch above on the next retry.
      if (linked) this.store.linkUpstream(entry.mailboxId, entry.localUid, null);
      await this.store.appendFromUpstream(
        entry.mailboxId,
        {
          content: result.message,
          statusFields: result.statusFields,
          flags: raw.flags,
          internalDate: raw.internalDate,
          upstream: ref,
        },
        { origin: ORIGIN },
      );
      await this.expungeLocal(entry.mailboxId, [entry.localUid]);
      this.state.removeUndecrypted(entry);
      opened++;
    }
    return opened;
  }

  // --- the running loop ----------------------------------------------------------------

  private async run(): Promise<void> {
    let backoff = 1000;
    let lastFullPass = 0;
    while (this.running) {
      let client: ImapFlow | null = null;
      try {
        client = await connectUpstream(this.options.credentials, { qresync: this.options.qresync });
        this.client = client;
        const closed = new Promise<void>((resolve) => client!.once('close', () => resolve()));
        backoff = 1000;
        let behindDelay = 500;
        while (this.running && client.usable) {
          const full = Date.now() - lastFullPass >= this.pollIntervalMs;
          this.dirty = false;
          const report = await this.pass(client, full);
          if (full) lastFullPass = Date.now();
          this.lastError = null;
          if (report.folders.some((f) => !f.synced)) {
            // Counts differ from the server's (mail arrived mid-pass): look again soon, every
            // folder, rather than at the next poll.
            lastFullPass = 0;
            await this.sleep(behindDelay);
            behindDelay = Math.min(behindDelay * 2, this.pollIntervalMs);
            continue;
          }
          behindDelay = 500;
          if (!this.dirty) await this.idle(client, closed, lastFullPass + this.pollIntervalMs);
        }
      } catch (error) {
        this.lastError = toSyncError(error);
        this.log.warn('sync.pass_failed', {
          code: this.lastError.code,
          reason: describeError(error),
        });
      } finally {
        this.client = null;
        client?.close();
      }
      if (!this.running) break;
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, 60_000);
    }
  }

  /** IDLE on INBOX until something changes upstream or locally, or the next poll is due. */
  private async idle(client: ImapFlow, closed: Promise<void>, until: number): Promise<void> {
    const inbox = await client.mailboxOpen('INBOX');
    // Mail that arrived after INBOX's pass but before this SELECT raises no EXISTS event
    // during IDLE: it is already counted here. Go round again instead of waiting for the poll.
    const known = this.state.folder('INBOX')?.messages;
    if (known !== undefined && inbox.exists !== known) return;
    if (this.dirty) return;
    let done!: () => void;
    const woken = new Promise<void>((resolve) => (done = resolve));
    const onChange = () => done();
    client.on('exists', onChange);
    client.on('expunge', onChange);
    client.on('flags', onChange);
    this.wake = onChange;
    const timer = setTimeout(onChange, Math.max(0, until - Date.now()));
    try {
      const idling = client.idle().catch(() => undefined);
      await Promise.race([woken, closed]);
      // Any command ends IDLE; NOOP also collects what the server announced meanwhile.
      if (client.usable) await client.noop().catch(() => undefined);
      await idling;
    } finally {
      clearTimeout(timer);
      this.wake = null;
      client.off('exists', onChange);
      client.off('expunge', onChange);
      client.off('flags', onChange);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  // --- one pass ------------------------------------------------------------------------

  private async pass(client: ImapFlow, allFolders: boolean): Promise<SyncReport> {
    const list = await client.list();
    const delimiter = list.find((f) => f.delimiter)?.delimiter ?? '/';
    this.state.setMeta('delimiter', delimiter);
    const folders = selectableFolders(list);
    const replayer = new Replayer({
      client,
      store: this.store,
      state: this.state,
      keys: this.keys,
      upstreamPath: (name) => toUpstreamPath(name, delimiter),
      appendIdHeader: HEADER_APPEND_ID,
      origin: ORIGIN,
      log: this.log,
    });
    // Without an own key yet, uploads wait (in order) but incoming mail still syncs.
    const replayed = await replayer.replayAll().catch((error: unknown) => {
      if (!(error instanceof SyncError) || error.code !== 'no_own_key') throw error;
      this.log.info('sync.replay_waits_for_key', {});
      return { count: 0, createdFolders: false };
    });
    // Folders created by the replay are in the next LIST; list again only if it made any.
    const current = replayed.createdFolders ? selectableFolders(await client.list()) : folders;
    const keys = await this.keys.decryptionKeys();
    if (this.state.meta('keys') !== keySetDigest(keys)) await this.retryUndecrypted();
    const report: SyncReport = { folders: [], replayed: replayed.count, stored: 0, undecrypted: 0 };
    for (const folder of current) {
      if (!allFolders && folder.localName !== 'INBOX') continue;
      const progress = await this.syncFolder(client, folder, keys, report);
      report.folders.push(progress);
    }
    await this.finishLegacyReplacements(client, replayer);
    report.undecrypted = this.state.undecrypted().length;
    return report;
  }

  private async localMailbox(folder: UpstreamFolder): Promise<string> {
    const existing = await this.store.getMailbox(folder.localName);
    if (existing) return existing.id;
    const created = await this.store.createMailbox(folder.localName, {
      ...(folder.specialUse ? { specialUse: folder.specialUse } : {}),
      fromUpstream: true,
    });
    return created.id;
  }

  private async syncFolder(
    client: ImapFlow,
    folder: UpstreamFolder,
    keys: string[],
    report: SyncReport,
  ): Promise<SyncProgress> {
    const mailboxId = await this.localMailbox(folder);
    let saved = this.state.folder(folder.path);
    const qresync = client.enabled.has('QRESYNC') && !!saved && saved.highestModseq > 0;
    const vanished: number[] = [];
    const changed = new Map<number, string[]>();
    const onExpunge = (e: ExpungeEvent) => {
      if (e.path === folder.path && e.vanished && e.uid) vanished.push(e.uid);
    };
    const onFlags = (e: FlagsEvent) => {
      if (e.path === folder.path && e.uid) changed.set(e.uid, [...e.flags]);
    };
    client.on('expunge', onExpunge);
    client.on('flags', onFlags);
    let box;
    try {
      box = await client.mailboxOpen(
        folder.path,
        qresync ? { changedSince: saved!.highestModseq, uidValidity: saved!.uidValidity } : {},
      );
    } finally {
      client.off('expunge', onExpunge);
      client.off('flags', onFlags);
    }
    const uidValidity = Number(box.uidValidity);
    const highestModseq = box.highestModseq ? Number(box.highestModseq) : 0;
    if (saved && saved.uidValidity !== uidValidity) {
      // UIDs were reassigned upstream: fetch the folder again, then drop the old generation.
      this.log.warn('sync.uidvalidity_changed', { folder: folder.localName });
      await this.dropGeneration(folder.path, saved.uidValidity);
      saved = null;
    }
    const lastUid = saved?.lastUid ?? 0;
    if (vanished.length) await this.removeVanished(folder.path, uidValidity, vanished);
    if (saved && lastUid > 0) {
      if (!qresync && highestModseq > 0 && highestModseq !== saved.highestModseq) {
        await this.collectFlags(client, lastUid, changed, saved.highestModseq);
      } else if (!highestModseq) {
        await this.collectFlags(client, lastUid, changed, null);
      }
      await this.applyFlags(folder.path, uidValidity, changed);
    }
    if (!saved) {
      this.state.saveFolder({
        path: folder.path,
        uidValidity,
        highestModseq: 0,
        lastUid: 0,
        messages: box.exists,
        synced: false,
      });
    }
    report.stored += await this.fetchNew(client, folder, mailboxId, uidValidity, lastUid, keys);

    let linked = this.store.listUpstream(folder.path, uidValidity);
    let exists = client.mailbox ? client.mailbox.exists : box.exists;
    if (linked.length !== exists) {
      const onServer = new Set((await client.search({ all: true }, { uid: true })) || []);
      const gone = linked.filter((l) => !onServer.has(l.upstreamUid)).map((l) => l.upstreamUid);
      if (gone.length) await this.removeVanished(folder.path, uidValidity, gone);
      linked = this.store.listUpstream(folder.path, uidValidity);
      exists = onServer.size;
    }
    const synced = linked.length === exists;
    const state = this.state.folder(folder.path)!;
    this.state.saveFolder({
      path: folder.path,
      uidValidity,
      highestModseq,
      lastUid: state.lastUid,
      messages: exists,
      synced,
    });
    const progress = { mailbox: folder.localName, done: linked.length, total: exists, synced };
    this.options.onProgress?.(progress);
    if (!synced) {
      this.log.info('sync.folder_not_synced', {
        folder: folder.localName,
        local: linked.length,
        server: exists,
      });
    }
    return progress;
  }

  private async collectFlags(
    client: ImapFlow,
    lastUid: number,
    into: Map<number, string[]>,
    changedSince: number | null,
  ): Promise<void> {
    const options = changedSince ? { uid: true, changedSince } : { uid: true };
    for await (const msg of client.fetch(`1:${lastUid}`, { uid: true, flags: true }, options)) {
      if (msg.flags) into.set(msg.uid, [...msg.flags]);
    }
  }

  /** Upstream flags win for the messages they name (local changes were replayed first). */
  private async applyFlags(path: string, uidValidity: number, changed: Map<number, string[]>) {
    const groups = new Map<string, { mailboxId: string; uids: number[]; flags: string[] }>();
    for (const [uid, flags] of changed) {
      const local = this.store.findByUpstream({ mailbox: path, uidValidity, uid });
      if (!local) continue;
      const clean = flags.filter((f) => f !== '\\Recent').sort();
      const key = `${local.mailboxId}\0${clean.join(' ')}`;
      const group = groups.get(key) ?? { mailboxId: local.mailboxId, uids: [], flags: clean };
      group.uids.push(local.uid);
      groups.set(key, group);
    }
    for (const group of groups.values()) {
      await this.store.storeFlags(
        group.mailboxId,
        group.uids.map((uid) => ({ start: uid, end: uid })),
        { operation: 'replace', flags: group.flags },
        { fromUpstream: true, origin: ORIGIN },
      );
    }
  }

  /** Server wins for expunges: local copies of upstream messages that are gone go too. */
  private async removeVanished(path: string, uidValidity: number, uids: number[]) {
    const byMailbox = new Map<string, number[]>();
    for (const uid of uids) {
      const local = this.store.findByUpstream({ mailbox: path, uidValidity, uid });
      if (!local) continue;
      byMailbox.set(local.mailboxId, [...(byMailbox.get(local.mailboxId) ?? []), local.uid]);
    }
    for (const [mailboxId, localUids] of byMailbox) await this.expungeLocal(mailboxId, localUids);
  }

  private async dropGeneration(path: string, uidValidity: number) {
    const old = this.store.listUpstream(path, uidValidity);
    await this.removeVanished(
      path,
      uidValidity,
      old.map((o) => o.upstreamUid),
    );
    this.state.forgetFolder(path);
  }

  private async expungeLocal(mailboxId: string, uids: number[]) {
    if (!uids.length) return;
    await this.store.expunge(
      mailboxId,
      uids.map((uid) => ({ start: uid, end: uid })),
      { fromUpstream: true, origin: ORIGIN },
    );
  }

  /**
   * New upstream messages, in ascending UID order, in batches bounded by count and bytes
   * (a message larger than the byte bound goes alone): fetch, open, store, then move the
   * folder's last UID forward.
   */
  private async fetchNew(
    client: ImapFlow,
    folder: UpstreamFolder,
    mailboxId: string,
    uidValidity: number,
    lastUid: number,
    keys: string[],
  ): Promise<number> {
    const found = (await client.search({ uid: `${lastUid + 1}:*` }, { uid: true })) || [];
    const uids = found.filter((u) => u > lastUid).sort((a, b) => a - b);
    if (!uids.length) return 0;
    let done = this.store.listUpstream(folder.path, uidValidity).length;
    const total = done + uids.length;
    const pool = this.openWith(uids.length);
    let stored = 0;
    // One batch is stored (blob fsyncs, one commit) while the next is fetched and opened;
    // batches still commit in UID order, so the folder's last UID only moves forward.
    let storing: Promise<void> | null = null;
    const commit = async (
      batch: FetchedMeta[],
      present: FetchedMeta[],
      opened: IncomingResult[],
    ) => {
      const results = await this.store.appendManyFromUpstream(
        mailboxId,
        present.map((meta, i) => ({
          content: opened[i]!.message,
          statusFields: opened[i]!.statusFields,
          flags: [...(meta.flags ?? [])].filter((f) => f !== '\\Recent'),
          internalDate: meta.internalDate ? new Date(meta.internalDate) : new Date(),
          upstream: { mailbox: folder.path, uidValidity, uid: meta.uid },
        })),
        { origin: ORIGIN },
      );
      present.forEach((meta, i) => {
        const result = results[i]!;
        if (result.duplicate) return;
        stored++;
        this.recordIncoming(folder.path, uidValidity, meta.uid, mailboxId, result.uid, opened[i]!);
      });
      this.state.advanceLastUid(folder.path, uidValidity, batch.at(-1)!.uid);
      done += present.length;
      this.options.onProgress?.({ mailbox: folder.localName, done, total, synced: false });
    };
    try {
      for (let page = 0; page < uids.length; page += META_PAGE) {
        const metas: FetchedMeta[] = await client.fetchAll(
          uids.slice(page, page + META_PAGE).join(','),
          { uid: true, size: true, flags: true, internalDate: true },
          { uid: true },
        );
        metas.sort((a, b) => a.uid - b.uid);
        for (const batch of this.batches(metas)) {
          const sources = new Map<number, Buffer>();
          for await (const msg of client.fetch(
            batch.map((m) => m.uid).join(','),
            { uid: true, source: true },
            { uid: true },
          )) {
            if (msg.source) sources.set(msg.uid, msg.source);
          }
          const present = batch.filter((m) => sources.has(m.uid));
          let opened: IncomingResult[] = [];
          if (pool) {
            opened = await Promise.all(present.map((m) => pool.open(sources.get(m.uid)!, keys)));
          } else {
            for (const meta of present) {
              opened.push(await processIncoming(sources.get(meta.uid)!, this.keys, keys));
              sources.delete(meta.uid);
            }
          }
          await storing;
          storing = commit(batch, present, opened);
        }
      }
      await storing;
    } catch (error) {
      await storing?.catch(() => undefined);
      throw error;
    }
    return stored;
  }

  /** Remembers what to do later with a message just stored: retry it, or replace upstream. */
  private recordIncoming(
    path: string,
    uidValidity: number,
    uid: number,
    mailboxId: string,
    localUid: number,
    incoming: IncomingResult,
  ): void {
    if (incoming.retry) {
      this.state.addUndecrypted({
        path,
        uidValidity,
        uid,
        mailboxId,
        localUid,
        reason: incoming.failure!.code,
      });
    }
    if (this.replaceLegacy && incoming.encryption === 'none') {
      const job: LegacyJob = {
        path,
        uidValidity,
        uid,
        mailboxId,
        localUid,
        appendId: randomUUID(),
      };
      this.state.setJournal(`legacy:${path}:${uidValidity}:${uid}`, job);
    }
  }

  private *batches<T extends { size?: number | undefined }>(metas: T[]): Generator<T[]> {
    let batch: T[] = [];
    let bytes = 0;
    for (const meta of metas) {
      const size = meta.size ?? 0;
      if (batch.length && (batch.length >= this.batchMessages || bytes + size > this.batchBytes)) {
        yield batch;
        batch = [];
        bytes = 0;
      }
      batch.push(meta);
      bytes += size;
    }
    if (batch.length) yield batch;
  }

  // --- legacy mode: replace plaintext upstream copies -----------------------------------

  private async finishLegacyReplacements(client: ImapFlow, replayer: Replayer): Promise<void> {
    for (const key of this.legacyKeys()) {
      const job = this.state.journal<LegacyJob>(key);
      if (!job) continue;
      try {
        await this.replaceUpstream(client, replayer, key, job);
      } catch (error) {
        this.log.warn('sync.legacy_replace_failed', { reason: describeError(error) });
      }
    }
  }

  private legacyKeys(): string[] {
    return this.state.db
      .prepare(`SELECT key FROM sync_journal WHERE key LIKE 'legacy:%' ORDER BY key`)
      .pluck()
      .all() as string[];
  }

  /**
   * Appends a copy encrypted to the user, links the local message to it, and only then
   * deletes the plaintext upstream copy. The append carries a random id header, so after a
   * crash the copy is found instead of appended twice.
   */
  private async replaceUpstream(
    client: ImapFlow,
    replayer: Replayer,
    key: string,
    job: LegacyJob,
  ): Promise<void> {
    const box = await client.mailboxOpen(job.path);
    if (Number(box.uidValidity) !== job.uidValidity) return this.state.clearJournal(key);
    const ref: UpstreamRef = { mailbox: job.path, uidValidity: job.uidValidity, uid: job.uid };
    let newUid = await replayer.findAppended(job.appendId);
    if (newUid === null) {
      const oldThere = ((await client.search({ uid: String(job.uid) }, { uid: true })) || [])
        .length;
      const local = await this.readLocal(job.mailboxId, job.localUid);
      if (!oldThere || !local) return this.state.clearJournal(key);
      newUid = await replayer.appendEncrypted(job.path, local.content, {
        flags: local.flags,
        internalDate: local.internalDate,
        appendId: job.appendId,
      });
    }
    const linked = this.store.findByUpstream(ref);
    if (linked) {
      this.store.linkUpstream(linked.mailboxId, linked.uid, {
        mailbox: job.path,
        uidValidity: job.uidValidity,
        uid: newUid,
      });
    }
    await client.messageDelete(String(job.uid), { uid: true });
    this.state.clearJournal(key);
  }

  private async readLocal(
    mailboxId: string,
    uid: number,
  ): Promise<{ content: Buffer; flags: string[]; internalDate: Date } | null> {
    try {
      let meta = null;
      for await (const m of this.store.fetch(mailboxId, [{ start: uid, end: uid }])) meta = m;
      if (!meta) return null;
      const chunks: Buffer[] = [];
      for await (const chunk of await this.store.readMessage(mailboxId, uid)) {
        chunks.push(Buffer.from(chunk));
      }
      return { content: Buffer.concat(chunks), flags: meta.flags, internalDate: meta.internalDate };
    } catch (error) {
      if ((error as { code?: string }).code === 'nonexistent') return null;
      throw error;
    }
  }
}

interface FetchedMeta {
  uid: number;
  size?: number | undefined;
  flags?: Set<string> | undefined;
  internalDate?: Date | string | undefined;
}

interface LegacyJob {
  path: string;
  uidValidity: number;
  uid: number;
  mailboxId: string;
  localUid: number;
  appendId: string;
}
