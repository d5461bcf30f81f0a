import type { CommandReader } from '../protocol/parser.js';
import type { ImapSession, SessionState } from '../session.js';

export interface CommandResult {
  status: 'OK' | 'NO' | 'BAD';
  /** Response code without brackets, e.g. "READ-WRITE" or "COPYUID 1 2 3". */
  code?: string;
  text: string;
}

export interface CommandContext {
  session: ImapSession;
  tag: string;
  /** The command came with the UID prefix. */
  uid: boolean;
  reader: CommandReader;
}

export interface Command {
  states: readonly SessionState[];
  /** May take the UID prefix (FETCH, STORE, COPY, MOVE, SEARCH, EXPUNGE). */
  uidVariant?: boolean;
  /**
   * Whether pending EXPUNGE responses may be sent after this command. RFC 3501 7.4.1 forbids
   * them during FETCH, STORE and SEARCH (not their UID forms), which rely on sequence numbers.
   */
  allowsExpunge?: (uid: boolean) => boolean;
  /**
   * False for FETCH, STORE and SEARCH (both forms): new messages are announced (EXISTS)
   * after other commands (NOOP, IDLE, ...). Thunderbird fetches new mail by UID FETCH n:*
   * and does not act on an EXISTS that comes back with it, so a message arriving during
   * that FETCH stayed unseen until its next mail check.
   */
  announcesNewMail?: boolean;
  run(ctx: CommandContext): Promise<CommandResult>;
}

export const ok = (text: string, code?: string): CommandResult => ({ status: 'OK', text, code });
export const no = (text: string, code?: string): CommandResult => ({ status: 'NO', text, code });
export const bad = (text: string, code?: string): CommandResult => ({ status: 'BAD', text, code });

export const AUTHENTICATED = ['authenticated', 'selected'] as const;
export const SELECTED = ['selected'] as const;
export const ANY_STATE = ['not-authenticated', 'authenticated', 'selected'] as const;

/**
 * A refusal found deep inside a command's work (a FETCH item that cannot be answered, say),
 * answered as a tagged NO with this response code.
 */
export class CommandRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CommandRefusal';
  }
}
