/**
 * \Recent (RFC 3501 2.3.2): a message is recent for the one session that is first told of it
 * with the mailbox selected read-write; EXAMINE and STATUS see it as recent without taking it.
 * Which messages nobody has taken yet is shared by all sessions of the server, so it is kept
 * here, fed by each account's change events. It lives in memory as long as the server: after a
 * restart only mail that arrives from then on is recent (Dovecot keeps the mark in its index;
 * we keep no such state on disk, and no client we know of depends on it surviving a restart).
 */
import type { AccountBackend, MailboxChange } from './backend.js';

/** Unclaimed UIDs of one mailbox, ascending (UIDs only grow, so appends keep the order). */
type Unclaimed = number[];

export class RecentMessages {
  private readonly accounts = new Map<string, Map<string, Unclaimed>>();
  private readonly unsubscribers: Array<() => void> = [];

  /** Starts following an account's changes; called at each login, subscribes once. */
  follow(accountId: string, backend: AccountBackend): void {
    if (this.accounts.has(accountId)) return;
    const mailboxes = new Map<string, Unclaimed>();
    this.accounts.set(accountId, mailboxes);
    this.unsubscribers.push(backend.watch((change) => applyChange(mailboxes, change)));
  }

  /** How many messages of the mailbox no session has taken as recent (STATUS RECENT). */
  unclaimedCount(accountId: string, mailboxId: string): number {
    return this.unclaimed(accountId, mailboxId)?.length ?? 0;
  }

  /** The untaken messages up to `maxUid`: removed from the pool when `take`, else only read. */
  claimUpTo(accountId: string, mailboxId: string, maxUid: number, take: boolean): number[] {
    const pool = this.unclaimed(accountId, mailboxId);
    if (!pool?.length) return [];
    let end = 0;
    while (end < pool.length && pool[end]! <= maxUid) end++;
    return take ? pool.splice(0, end) : pool.slice(0, end);
  }

  close(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.accounts.clear();
  }

  private unclaimed(accountId: string, mailboxId: string): Unclaimed | undefined {
    return this.accounts.get(accountId)?.get(mailboxId);
  }
}

function applyChange(mailboxes: Map<string, Unclaimed>, change: MailboxChange): void {
  switch (change.type) {
    case 'messages-added': {
      let pool = mailboxes.get(change.mailboxId);
      if (!pool) mailboxes.set(change.mailboxId, (pool = []));
      for (const m of change.messages) if (m.uid > (pool.at(-1) ?? 0)) pool.push(m.uid);
      return;
    }
    case 'messages-expunged': {
      const pool = mailboxes.get(change.mailboxId);
      if (!pool?.length) return;
      const gone = new Set(change.uids);
      mailboxes.set(
        change.mailboxId,
        pool.filter((uid) => !gone.has(uid)),
      );
      return;
    }
    case 'mailbox-deleted':
    case 'uidvalidity-changed':
      mailboxes.delete(change.mailboxId);
      return;
    default:
      return;
  }
}
