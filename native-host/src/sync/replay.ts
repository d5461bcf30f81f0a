/**
 * Replays the store's durable queue of local changes upstream, in order, exactly once.
 *
 * - flags: +FLAGS / -FLAGS / FLAGS on the upstream UIDs (idempotent, and adding or removing
 *   flags merges with changes made upstream meanwhile: the union IMAP itself gives);
 * - expunge: \Deleted + UID EXPUNGE of those UIDs only (idempotent);
 * - move / copy: UID MOVE / UID COPY, then the local copies are linked to the UIDs the
 *   server reports (COPYUID). The destination's UIDNEXT is journalled first: after a crash
 *   the messages that arrived from that UID on are matched to the local copies in order;
 * - append (drafts, sent mail, anything Thunderbird saves): encrypted to the user's own key
 *   first, with a random `X-Leap-Append-Id` header journalled before the APPEND, so a crash
 *   before the answer is found by a header SEARCH instead of appending twice;
 * - mailbox create / rename / delete / subscribe: done unless already so.
 * An entry done upstream is marked done in the same transaction that clears its journal.
 * An entry that keeps failing for a reason of the server's (NO) is given up after
 * MAX_ATTEMPTS and logged; a connection failure stops the replay with the entry in place.
 */
import { randomUUID } from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import type { Logger } from '../log/index.js';
import type { AccountStore, QueuedChange, UpstreamRef } from '../store/index.js';
import { isSealedFor, sealForStorage } from '../crypto/index.js';
import { rewriteHeader } from '../mime/index.js';
import { describeError, SyncError } from './errors.js';
import type { SyncKeys } from './incoming.js';
import type { SyncState } from './state.js';

const MAX_ATTEMPTS = 5;

export interface ReplayContext {
  client: ImapFlow;
  store: AccountStore;
  state: SyncState;
  keys: SyncKeys;
  upstreamPath: (localName: string) => string;
  appendIdHeader: string;
  origin: unknown;
  log: Logger;
}

interface Replayed {
  count: number;
  createdFolders: boolean;
}

type MessageRef = { uid: number; upstream: UpstreamRef | null };

interface MoveJournal {
  uidValidity: number;
  uidNext: number;
}

export class Replayer {
  constructor(private readonly ctx: ReplayContext) {}

  async replayAll(): Promise<Replayed> {
    const out: Replayed = { count: 0, createdFolders: false };
    for (;;) {
      const entries = this.ctx.store.queue.pending(50);
      if (!entries.length) return out;
      for (const entry of entries) {
        try {
          await this.replay(entry);
          if (entry.kind === 'create-mailbox' || entry.kind === 'rename-mailbox') {
            out.createdFolders = true;
          }
        } catch (error) {
          if (!this.ctx.client.usable || !isServerRefusal(error)) throw error;
          const reason = describeError(error);
          if (entry.attempts + 1 < MAX_ATTEMPTS) {
            this.ctx.store.queue.markFailed(entry.seq, reason);
            throw error;
          }
          this.ctx.log.warn('sync.replay_given_up', { kind: entry.kind, reason });
        }
        this.ctx.state.atomically(() => {
          this.ctx.store.queue.markDone(entry.seq);
          this.ctx.state.clearJournal(`replay:${entry.seq}`);
        });
        out.count++;
      }
    }
  }

  private async replay(entry: QueuedChange): Promise<void> {
    const p = entry.payload as Record<string, unknown>;
    const client = this.ctx.client;
    switch (entry.kind) {
      case 'flags':
        return this.replayFlags(p as unknown as FlagsPayload);
      case 'expunge':
        return this.replayExpunge((p as { messages: MessageRef[] }).messages);
      case 'move':
      case 'copy':
        return this.replayCopy(entry, entry.kind, p as unknown as CopyPayload);
      case 'append':
        return this.replayAppend(entry, p as { mailbox: string; uid: number });
      case 'create-mailbox': {
        const path = this.ctx.upstreamPath(p.mailbox as string);
        if (!(await this.exists(path))) await client.mailboxCreate(path);
        return;
      }
      case 'delete-mailbox': {
        const path = this.ctx.upstreamPath(p.mailbox as string);
        if (await this.exists(path)) await client.mailboxDelete(path);
        this.ctx.state.forgetFolder(path);
        return;
      }
      case 'rename-mailbox': {
        const from = this.ctx.upstreamPath(p.from as string);
        const to = this.ctx.upstreamPath(p.to as string);
        if ((await this.exists(from)) && !(await this.exists(to))) {
          await client.mailboxRename(from, to);
        }
        return;
      }
      case 'subscribe':
        await client.mailboxSubscribe(this.ctx.upstreamPath(p.mailbox as string));
        return;
      case 'unsubscribe':
        await client.mailboxUnsubscribe(this.ctx.upstreamPath(p.mailbox as string));
        return;
      default:
        this.ctx.log.warn('sync.replay_unknown_kind', { kind: entry.kind });
    }
  }

  private async exists(path: string): Promise<boolean> {
    const list = await this.ctx.client.list();
    return list.some((f) => f.path === path);
  }

  /** Opens the upstream mailbox; false when its UIDVALIDITY is not the one the refs name. */
  private async open(path: string, uidValidity: number): Promise<boolean> {
    if (!(await this.exists(path))) return false;
    const box = await this.ctx.client.mailboxOpen(path);
    return Number(box.uidValidity) === uidValidity;
  }

  private async replayFlags(p: FlagsPayload): Promise<void> {
    for (const [key, uids] of groupByMailbox(p.messages)) {
      const [path, validity] = splitKey(key);
      if (!(await this.open(path, validity))) continue;
      const range = uids.join(',');
      const flags = p.flags.filter((f) => f !== '\\Recent');
      if (p.operation === 'add') await this.ctx.client.messageFlagsAdd(range, flags, { uid: true });
      else if (p.operation === 'remove') {
        await this.ctx.client.messageFlagsRemove(range, flags, { uid: true });
      } else await this.ctx.client.messageFlagsSet(range, flags, { uid: true });
    }
  }

  private async replayExpunge(messages: MessageRef[]): Promise<void> {
    for (const [key, uids] of groupByMailbox(messages)) {
      const [path, validity] = splitKey(key);
      if (!(await this.open(path, validity))) continue;
      await this.ctx.client.messageDelete(uids.join(','), { uid: true });
    }
  }

  private async replayCopy(
    entry: QueuedChange,
    kind: 'move' | 'copy',
    p: CopyPayload,
  ): Promise<void> {
    const target = await this.ctx.store.getMailbox(p.to);
    const targetPath = this.ctx.upstreamPath(p.to);
    if (!(await this.exists(targetPath))) await this.ctx.client.mailboxCreate(targetPath);
    const journalKey = `replay:${entry.seq}`;
    const byUpstream = new Map<string, CopyPayload['messages']>();
    for (const m of p.messages) {
      if (!m.upstream) continue;
      const key = `${m.upstream.mailbox}\0${m.upstream.uidValidity}`;
      byUpstream.set(key, [...(byUpstream.get(key) ?? []), m]);
    }
    for (const [key, messages] of byUpstream) {
      const [path, validity] = splitKey(key);
      const status = await this.ctx.client.status(targetPath, { uidNext: true, uidValidity: true });
      const journal = this.ctx.state.journal<Record<string, MoveJournal>>(journalKey) ?? {};
      const earlier = journal[key];
      if (!(await this.open(path, validity))) continue;
      messages.sort((a, b) => a.upstream!.uid - b.upstream!.uid);
      let pending = messages;
      if (earlier && target) {
        // A crash came between the command and its answer: whatever left the source went
        // to the target from the journalled UIDNEXT on, in UID order.
        const still = new Set(
          (await this.ctx.client.search(
            { uid: messages.map((m) => m.upstream!.uid).join(',') },
            { uid: true },
          )) || [],
        );
        const done = kind === 'move' ? messages.filter((m) => !still.has(m.upstream!.uid)) : [];
        pending = messages.filter((m) => !done.includes(m));
        if (done.length) {
          await this.ctx.client.mailboxOpen(targetPath);
          const arrived = (
            (await this.ctx.client.search({ uid: `${earlier.uidNext}:*` }, { uid: true })) || []
          ).filter((u) => u >= earlier.uidNext);
          if (arrived.length >= done.length) {
            done.forEach((m, i) =>
              this.link(target.id, m.destinationUid, targetPath, earlier.uidValidity, arrived[i]!),
            );
          }
          if (!(await this.open(path, validity))) continue;
        }
      }
      if (!pending.length) continue;
      journal[key] = {
        uidValidity: Number(status && status.uidValidity),
        uidNext: (status && status.uidNext) || 1,
      };
      this.ctx.state.setJournal(journalKey, journal);
      const range = pending.map((m) => m.upstream!.uid).join(',');
      const result =
        kind === 'move'
          ? await this.ctx.client.messageMove(range, targetPath, { uid: true })
          : await this.ctx.client.messageCopy(range, targetPath, { uid: true });
      if (result && result.uidMap && target) {
        for (const m of pending) {
          const newUid = result.uidMap.get(m.upstream!.uid);
          if (newUid) {
            this.link(target.id, m.destinationUid, targetPath, Number(result.uidValidity), newUid);
          }
        }
      }
    }
  }

  private link(mailboxId: string, uid: number, path: string, uidValidity: number, upUid: number) {
    try {
      this.ctx.store.linkUpstream(mailboxId, uid, { mailbox: path, uidValidity, uid: upUid });
    } catch (error) {
      // The local copy is gone (expunged since) or already linked: nothing to record.
      this.ctx.log.debug('sync.link_skipped', { reason: describeError(error) });
    }
  }

  private async replayAppend(entry: QueuedChange, p: { mailbox: string; uid: number }) {
    const box = await this.ctx.store.getMailbox(p.mailbox);
    if (!box) return;
    const journalKey = `replay:${entry.seq}`;
    const path = this.ctx.upstreamPath(p.mailbox);
    if (!(await this.exists(path))) await this.ctx.client.mailboxCreate(path);
    let journal = this.ctx.state.journal<{ appendId: string }>(journalKey);
    if (journal) {
      await this.ctx.client.mailboxOpen(path);
      const found = await this.findAppended(journal.appendId);
      if (found !== null) {
        const status = await this.ctx.client.status(path, { uidValidity: true });
        this.link(box.id, p.uid, path, Number(status && status.uidValidity), found);
        return;
      }
    }
    let meta = null;
    for await (const m of this.ctx.store.fetch(box.id, [{ start: p.uid, end: p.uid }])) meta = m;
    if (!meta) return;
    const chunks: Buffer[] = [];
    for await (const c of await this.ctx.store.readMessage(box.id, p.uid)) {
      chunks.push(Buffer.from(c));
    }
    journal = { appendId: randomUUID() };
    this.ctx.state.setJournal(journalKey, journal);
    const uid = await this.appendEncrypted(path, Buffer.concat(chunks), {
      flags: meta.flags,
      internalDate: meta.internalDate,
      appendId: journal.appendId,
    });
    const status = await this.ctx.client.status(path, { uidValidity: true });
    this.link(box.id, p.uid, path, Number(status && status.uidValidity), uid);
  }

  /** APPENDs the message encrypted to the user, tagged with `appendId`; returns its UID. */
  async appendEncrypted(
    path: string,
    message: Buffer,
    options: { flags: string[]; internalDate: Date; appendId: string },
  ): Promise<number> {
    const sealed = await encryptToSelf(this.ctx.keys, message);
    const tagged = rewriteHeader(sealed, {
      prepend: [`${this.ctx.appendIdHeader}: ${options.appendId}`],
    });
    const result = await this.ctx.client.append(
      path,
      tagged,
      options.flags.filter((f) => f !== '\\Recent'),
      options.internalDate,
    );
    if (result && result.uid) return result.uid;
    await this.ctx.client.mailboxOpen(path);
    const found = await this.findAppended(options.appendId);
    if (found === null) throw new Error('The server did not keep the appended message.');
    return found;
  }

  /** The UID of a message appended with this id in the open mailbox, or null. */
  async findAppended(appendId: string): Promise<number | null> {
    const found = await this.ctx.client.search(
      { header: { [this.ctx.appendIdHeader]: appendId } },
      { uid: true },
    );
    return found && found.length ? found[0]! : null;
  }
}

interface FlagsPayload {
  mailbox: string;
  operation: 'add' | 'remove' | 'replace';
  flags: string[];
  messages: (MessageRef & { result: string[] })[];
}

interface CopyPayload {
  from: string;
  to: string;
  messages: (MessageRef & { destinationUid: number })[];
}

function groupByMailbox(messages: MessageRef[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const m of messages) {
    if (!m.upstream) continue;
    const key = `${m.upstream.mailbox}\0${m.upstream.uidValidity}`;
    groups.set(key, [...(groups.get(key) ?? []), m.upstream.uid]);
  }
  return groups;
}

function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf('\0');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

/** The server answered NO/BAD (as opposed to the connection failing). */
function isServerRefusal(error: unknown): boolean {
  const e = error as { serverResponseCode?: string; responseStatus?: string };
  return e?.responseStatus === 'NO' || e?.responseStatus === 'BAD' || !!e?.serverResponseCode;
}

/**
 * The copy of a message the provider may keep: its local status fields removed, and inside
 * a storage layer to the user's own key unless only that key can read it already. Looking
 * encrypted is not enough: a draft that quotes an armored block is still plaintext.
 */
export async function encryptToSelf(keys: SyncKeys, message: Buffer): Promise<Buffer> {
  const own = await keys.ownKey();
  if (!own) throw new SyncError('no_own_key', 'There is no key yet to encrypt the copy with.');
  const copy = rewriteHeader(message, { drop: (key) => key.startsWith('x-leap-') });
  if (await isSealedFor(copy, own.publicArmored)) return copy;
  const sealed = await sealForStorage(copy, own);
  if (!sealed.ok) throw new SyncError('replay_failed', sealed.error.message);
  return sealed.value;
}
