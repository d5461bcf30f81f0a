import { MAILBOX_DELIMITER, type MailboxInfo } from '../backend.js';
import { string } from '../protocol/encoder.js';
import { ParseError, normaliseInbox } from '../protocol/parser.js';
import { encodeMailboxName } from '../protocol/utf7.js';
import { readStatusItems, statusLine } from './status.js';
import { AUTHENTICATED, ok, type Command } from './types.js';

/** `*` matches anything, `%` anything but the delimiter (RFC 3501 6.3.8). */
export function patternToRegExp(pattern: string): RegExp {
  const body = [...normaliseInbox(pattern)]
    .map((c) =>
      c === '*' ? '.*' : c === '%' ? '[^/]*' : c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${body}$`, 's');
}

const SELECTION_OPTIONS = new Set(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);
const RETURN_OPTIONS = new Set(['SUBSCRIBED', 'CHILDREN', 'SPECIAL-USE', 'STATUS']);
const DELIMITER = string(MAILBOX_DELIMITER);

function wireName(name: string): string {
  return string(encodeMailboxName(name));
}

interface Line {
  name: string;
  mailbox: MailboxInfo | undefined;
  extra: string;
  /** LSUB: not subscribed, listed for a subscribed child the pattern's `%` hides. */
  unsubscribedParent?: boolean;
}

/**
 * LIST (RFC 3501, with RFC 5258 LIST-EXTENDED selection and return options and RFC 6154
 * special-use attributes) and LSUB.
 */
function listCommand(lsub: boolean): Command {
  return {
    states: AUTHENTICATED,
    async run({ session, reader }) {
      const selection = new Set<string>();
      const returns = new Set<string>();
      let statusItems: ReturnType<typeof readStatusItems> = [];
      reader.sp();
      if (!lsub && reader.peek() === 0x28) {
        reader.list(() => {
          const option = reader.keyword();
          if (!SELECTION_OPTIONS.has(option))
            throw new ParseError(`Unknown LIST selection option ${option}`);
          selection.add(option);
        });
        reader.sp();
        // RFC 5258 3.1: RECURSIVEMATCH alone or with only REMOTE has nothing to refine.
        if (
          selection.has('RECURSIVEMATCH') &&
          [...selection].every((o) => o === 'RECURSIVEMATCH' || o === 'REMOTE')
        )
          throw new ParseError('RECURSIVEMATCH needs another selection option');
      }
      const reference = reader.listMailbox();
      reader.sp();
      const patterns: string[] = [];
      if (!lsub && reader.peek() === 0x28)
        reader.list(() => patterns.push(reader.listMailbox()), false);
      else patterns.push(reader.listMailbox());
      if (!lsub && reader.maybeSp()) {
        if (!reader.peekWord('RETURN')) throw new ParseError('Expected RETURN');
        reader.atom();
        reader.sp();
        reader.list(() => {
          const option = reader.keyword();
          if (!RETURN_OPTIONS.has(option))
            throw new ParseError(`Unknown LIST return option ${option}`);
          returns.add(option);
          if (option === 'STATUS') {
            reader.sp();
            statusItems = readStatusItems(reader);
          }
        });
      }
      reader.end();

      if (!lsub && patterns.length === 1 && patterns[0] === '') {
        // The hierarchy delimiter query (RFC 3501 6.3.8).
        session.send(`* LIST (\\Noselect) ${DELIMITER} ""`);
        return ok('LIST completed');
      }
      const regexps = patterns.map((p) => patternToRegExp(reference + p));
      const matching = (name: string) => regexps.some((r) => r.test(name));
      const mailboxes = await session.account.listMailboxes();
      const byName = new Map(mailboxes.map((m) => [m.name, m]));
      const subscribed = new Set(await session.account.listSubscriptions());
      const hasChildren = (name: string) =>
        mailboxes.some((m) => m.name.startsWith(name + MAILBOX_DELIMITER));
      const keyword = lsub ? 'LSUB' : 'LIST';

      const attributes = (line: Line): string[] => {
        const { name, mailbox } = line;
        const attrs: string[] = [];
        if (!mailbox || line.unsubscribedParent) attrs.push(lsub ? '\\Noselect' : '\\NonExistent');
        else if (!lsub) attrs.push(hasChildren(name) ? '\\HasChildren' : '\\HasNoChildren');
        if (
          !lsub &&
          (selection.has('SUBSCRIBED') || returns.has('SUBSCRIBED')) &&
          subscribed.has(name)
        )
          attrs.push('\\Subscribed');
        if (!lsub && mailbox?.specialUse) attrs.push(mailbox.specialUse);
        return attrs;
      };

      const lines: Line[] = [];
      if (lsub || selection.has('SUBSCRIBED')) {
        const listed = new Set<string>();
        for (const name of [...subscribed].sort()) {
          if (matching(name)) {
            lines.push({ name, mailbox: byName.get(name), extra: '' });
            listed.add(name);
          }
        }
        if (lsub) {
          // RFC 3501 6.3.9: a subscribed mailbox the pattern misses below a `%` brings its
          // matching parent,
          // \Noselect when the parent is not subscribed itself.
          for (const name of [...subscribed].sort()) {
            if (listed.has(name)) continue;
            const parts = name.split(MAILBOX_DELIMITER);
            for (let n = parts.length - 1; n > 0; n--) {
              const parent = parts.slice(0, n).join(MAILBOX_DELIMITER);
              if (listed.has(parent) || !matching(parent)) continue;
              listed.add(parent);
              lines.push({
                name: parent,
                mailbox: byName.get(parent),
                extra: '',
                unsubscribedParent: true,
              });
            }
          }
        }
        if (selection.has('RECURSIVEMATCH')) {
          // Parents that do not match the selection themselves but have subscribed children.
          for (const m of mailboxes) {
            if (subscribed.has(m.name) || !matching(m.name)) continue;
            if ([...subscribed].some((s) => s.startsWith(m.name + MAILBOX_DELIMITER))) {
              lines.push({ name: m.name, mailbox: m, extra: ' ("CHILDINFO" ("SUBSCRIBED"))' });
            }
          }
        }
      } else {
        for (const m of mailboxes.sort((a, b) =>
          a.name === 'INBOX' ? -1 : b.name === 'INBOX' ? 1 : a.name.localeCompare(b.name),
        )) {
          if (selection.has('SPECIAL-USE') && !m.specialUse) continue;
          if (matching(m.name)) lines.push({ name: m.name, mailbox: m, extra: '' });
        }
      }
      for (const line of lines) {
        session.send(
          `* ${keyword} (${attributes(line).join(' ')}) ${DELIMITER} ${wireName(line.name)}${line.extra}`,
        );
        if (statusItems.length && line.mailbox)
          session.send(await statusLine(session, line.mailbox, statusItems));
      }
      return ok(`${keyword} completed`);
    },
  };
}

export const list = listCommand(false);
export const lsub = listCommand(true);
