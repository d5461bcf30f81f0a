import { MAILBOX_DELIMITER, type SpecialUse } from '../backend.js';
import { ParseError, type CommandReader } from '../protocol/parser.js';
import { AUTHENTICATED, no, ok, type Command } from './types.js';

/**
 * What a mailbox can be created as (RFC 6154 CREATE-SPECIAL-USE). A mailbox keeps one
 * attribute; \All and \Flagged name virtual mailboxes, which this server does not have.
 */
const CREATABLE = new Set<string>(['\\Archive', '\\Drafts', '\\Junk', '\\Sent', '\\Trash']);

/** `(USE (\Sent ...))`: the use-attrs asked for (RFC 6154 section 6 create-param). */
function readCreateParameters(reader: CommandReader): string[] {
  const uses: string[] = [];
  reader.list(() => {
    if (reader.keyword() !== 'USE') throw new ParseError('Unknown CREATE parameter');
    reader.sp();
    reader.list(() => {
      reader.expect('\\');
      const atom = reader.atom();
      // Matched case-insensitively, kept in the RFC's spelling.
      const known = [...CREATABLE, '\\All', '\\Flagged'].find(
        (a) => a.toLowerCase() === '\\' + atom.toLowerCase(),
      );
      uses.push(known ?? '\\' + atom);
    });
  }, false);
  return uses;
}

export const create: Command = {
  states: AUTHENTICATED,
  async run({ session, reader }) {
    reader.sp();
    let name = reader.mailbox();
    const uses = reader.maybeSp() ? readCreateParameters(reader) : [];
    reader.end();
    // A trailing delimiter only says the client intends to create children (RFC 3501 6.3.3).
    if (name.endsWith(MAILBOX_DELIMITER)) name = name.slice(0, -1);
    if (name === 'INBOX') return no('INBOX always exists', 'ALREADYEXISTS');
    const unsupported = uses.find((u) => !CREATABLE.has(u));
    if (unsupported) return no(`Mailboxes cannot be created as ${unsupported}`, 'USEATTR');
    if (uses.length > 1) return no('A mailbox can have one special use', 'USEATTR');
    const specialUse = uses[0] as SpecialUse | undefined;
    await session.account.createMailbox(name, specialUse ? { specialUse } : undefined);
    return ok('CREATE completed');
  },
};
