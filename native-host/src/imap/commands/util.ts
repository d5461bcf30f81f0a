import { BackendError, SYSTEM_FLAGS, type MailboxInfo } from '../backend.js';
import type { ImapSession } from '../session.js';

export async function requireMailbox(session: ImapSession, name: string): Promise<MailboxInfo> {
  const mailbox = await session.account.getMailbox(name);
  if (!mailbox) throw new BackendError('nonexistent', 'No such mailbox');
  return mailbox;
}

/** Flags a client may store: system flags (not \Recent) and keywords. */
export function storableFlags(flags: string[]): string[] {
  return [...new Set(flags.filter((f) => f !== '\\Recent' && f !== '\\*'))];
}

export const SYSTEM_FLAG_LIST = SYSTEM_FLAGS.join(' ');

/** FLAGS and PERMANENTFLAGS for a mailbox's keywords: at SELECT and when a keyword is new. */
export function flagsAnnouncement(keywords: Iterable<string>, readOnly: boolean): string[] {
  const flags = [SYSTEM_FLAG_LIST, ...keywords].join(' ');
  return [
    `* FLAGS (${flags})`,
    readOnly
      ? '* OK [PERMANENTFLAGS ()] Read-only mailbox'
      : `* OK [PERMANENTFLAGS (${flags} \\*)] Flags permitted`,
  ];
}
