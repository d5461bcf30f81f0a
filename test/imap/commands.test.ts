/** Commands whose exact effects clients rely on: expunge variants, CONDSTORE, small extensions. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sampleMessage } from './backend-contract.js';
import { BackendError, MemoryBackend, startImapServer } from '../../native-host/src/imap/index.js';
import { loggedIn, RawClient, startFixture, type Fixture } from './helpers.js';

describe.each(['memory', 'store'] as const)('%s backend', (kind) => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await startFixture({}, kind);
    const account = await fx.backend.account('alice-account');
    const inbox = (await account.getMailbox('INBOX'))!;
    for (let i = 1; i <= 5; i++) await account.append(inbox.id, { content: sampleMessage(i) });
  });
  afterEach(() => fx.close());

  const count = async (c: Awaited<ReturnType<typeof loggedIn>>, mailbox = 'INBOX') =>
    Number(/MESSAGES (\d+)/.exec(await c.command('st', `STATUS ${mailbox} (MESSAGES)`))![1]);

  describe('expunge variants', () => {
    it('EXPUNGE reports each removal, UID EXPUNGE only touches the given UIDs', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'SELECT INBOX');
      await c.command('a', 'STORE 1,3,4 +FLAGS.SILENT (\\Deleted)');
      const uidExpunge = await c.command('b', 'UID EXPUNGE 3:4');
      expect(uidExpunge).toContain('* 3 EXPUNGE\r\n* 3 EXPUNGE\r\nb OK');
      const expunge = await c.command('c', 'EXPUNGE');
      expect(expunge).toContain('* 1 EXPUNGE\r\nc OK');
      expect(await c.command('d', 'FETCH 1:* (UID)')).toMatch(
        /\* 1 FETCH \(UID 2\)\r\n\* 2 FETCH \(UID 5\)\r\n/,
      );
      c.close();
    });

    it('CLOSE removes \\Deleted silently, UNSELECT and a read-only CLOSE keep them', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'SELECT INBOX');
      await c.command('a', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
      expect(await c.command('u', 'UNSELECT')).not.toContain('EXPUNGE');
      expect(await count(c)).toBe(5);
      await c.command('e', 'EXAMINE INBOX');
      await c.command('x', 'CLOSE');
      expect(await count(c)).toBe(5);
      await c.command('s2', 'SELECT INBOX');
      const close = await c.command('y', 'CLOSE');
      expect(close).not.toContain('EXPUNGE');
      expect(await count(c)).toBe(4);
      expect(await c.command('z', 'FETCH 1 FLAGS')).toContain('z BAD');
      c.close();
    });

    it('refuses changes in a mailbox opened with EXAMINE', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('e', 'EXAMINE INBOX');
      expect(await c.command('a', 'STORE 1 +FLAGS (\\Seen)')).toContain('a NO [READ-ONLY]');
      expect(await c.command('b', 'EXPUNGE')).toContain('b NO [READ-ONLY]');
      expect(await c.command('m', 'MOVE 1 Trash')).toContain('m NO [READ-ONLY]');
      expect(await c.command('c', 'COPY 1 Trash')).toMatch(/c OK \[COPYUID \d+ 1 1\]/);
      c.close();
    });

    it('MOVE sends COPYUID before the EXPUNGE responses', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'SELECT INBOX');
      const res = await c.command('m', 'UID MOVE 2:3 Trash');
      expect(res).toMatch(
        /^\* OK \[COPYUID \d+ 2:3 1:2\] Moved\r\n\* 2 EXPUNGE\r\n\* 2 EXPUNGE\r\nm OK MOVE completed\r\n$/,
      );
      expect(await c.command('t', 'MOVE 1 Nowhere')).toContain('t NO [TRYCREATE]');
      c.close();
    });
  });

  describe('CONDSTORE', () => {
    it('reports MODSEQ, filters with CHANGEDSINCE and refuses stale UNCHANGEDSINCE stores', async () => {
      const c = await loggedIn(fx.server.port);
      expect(await c.command('e', 'ENABLE CONDSTORE')).toContain('* ENABLED CONDSTORE\r\n');
      const select = await c.command('s', 'SELECT INBOX (CONDSTORE)');
      const highest = Number(/HIGHESTMODSEQ (\d+)/.exec(select)![1]);
      const store = await c.command('a', `STORE 2 +FLAGS (\\Seen)`);
      const modseq = Number(/\* 2 FETCH \(FLAGS \(\\Seen\) MODSEQ \((\d+)\)\)/.exec(store)![1]);
      expect(modseq).toBeGreaterThan(highest);
      const changed = await c.command('f', `FETCH 1:* (FLAGS) (CHANGEDSINCE ${highest})`);
      expect(changed.match(/\* \d+ FETCH/g)).toHaveLength(1);
      expect(changed).toContain(`* 2 FETCH (FLAGS (\\Seen) MODSEQ (${modseq}))`);
      const conditional = await c.command(
        'u',
        `STORE 1:3 (UNCHANGEDSINCE ${highest}) +FLAGS (\\Flagged)`,
      );
      expect(conditional).toContain('u OK [MODIFIED 2]');
      expect(conditional).not.toMatch(/\* 2 FETCH/);
      const search = await c.command('q', `SEARCH MODSEQ ${modseq}`);
      expect(search).toMatch(/\* SEARCH 1 2 3 \(MODSEQ \d+\)\r\n/);
      expect(await c.command('t', 'STATUS Trash (HIGHESTMODSEQ)')).toMatch(
        /\* STATUS "Trash" \(HIGHESTMODSEQ \d+\)/,
      );
      c.close();
    });
  });

  describe('small extensions and mailbox edge cases', () => {
    it('answers ID, NAMESPACE and CAPABILITY after login with the advertised extensions', async () => {
      const c = await loggedIn(fx.server.port);
      expect(await c.command('i', 'ID ("name" "test" "version" NIL)')).toContain(
        '* ID ("name" "Leapbird"',
      );
      expect(await c.command('n', 'NAMESPACE')).toContain('* NAMESPACE (("" "/")) NIL NIL\r\n');
      const caps = await c.command('c', 'CAPABILITY');
      for (const cap of [
        'IMAP4rev1',
        'IDLE',
        'UIDPLUS',
        'MOVE',
        'UNSELECT',
        'ID',
        'NAMESPACE',
        'SPECIAL-USE',
        'LIST-EXTENDED',
        'LITERAL+',
        'ENABLE',
        'CONDSTORE',
        'QRESYNC',
      ]) {
        expect(caps).toMatch(new RegExp(`\\* CAPABILITY .*\\b${cap.replace('+', '\\+')}( |\\r)`));
      }
      // Only what is complete is advertised.
      for (const missing of ['UTF8=ACCEPT']) {
        expect(caps).not.toContain(missing);
      }
      c.close();
    });

    it('renames INBOX by moving its messages, refuses deleting INBOX and creating it', async () => {
      const c = await loggedIn(fx.server.port);
      expect(await c.command('r', 'RENAME inbox "Old Mail"')).toContain('r OK');
      expect(await count(c, '"Old Mail"')).toBe(5);
      expect(await count(c)).toBe(0);
      expect(await c.command('d', 'DELETE INBOX')).toContain('d NO [CANNOT]');
      expect(await c.command('n', 'CREATE INBOX')).toContain('n NO [ALREADYEXISTS]');
      expect(await c.command('x', 'DELETE Nowhere')).toContain('x NO [NONEXISTENT]');
      expect(await c.command('y', 'SELECT Nowhere')).toContain('y NO [NONEXISTENT]');
      c.close();
    });

    it('sends EXISTS after appending to the selected mailbox', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'SELECT INBOX');
      const msg = sampleMessage(9).toString();
      expect(await c.command('a', `APPEND INBOX {${msg.length}+}\r\n${msg}`)).toMatch(
        /\* 6 EXISTS\r\n\* 1 RECENT\r\na OK \[APPENDUID \d+ 6\]/,
      );
      c.close();
    });
  });

  describe('backend failures during FETCH', () => {
    /** Wraps the memory backend so reading message 2 fails as if it had just been expunged, and message 3 comes back short. */
    async function faultyServer() {
      const backend = new MemoryBackend();
      const account = await backend.account('a');
      const inbox = (await account.getMailbox('INBOX'))!;
      for (let i = 1; i <= 3; i++) await account.append(inbox.id, { content: sampleMessage(i) });
      await account.append(inbox.id, { content: sampleMessage(4, 'x'.repeat(400_000)) });
      const readMessage = account.readMessage.bind(account);
      account.readMessage = async (mailboxId, uid, range) => {
        if (uid === 2) throw new BackendError('nonexistent', 'gone');
        if (uid === 3 || uid === 4)
          return (async function* () {
            yield Buffer.from('short');
          })();
        return readMessage(mailboxId, uid, range);
      };
      return startImapServer({ backend, authenticate: async () => 'a' });
    }

    it('leaves out a message that vanished refuses a small body that comes back short, and hangs up on a large one', async () => {
      const server = await faultyServer();
      try {
        const c = await RawClient.open(server.port);
        await c.command('l', 'LOGIN a b');
        await c.command('s', 'SELECT INBOX');
        const res = await c.command('f', 'FETCH 1:2 (UID BODY.PEEK[])');
        expect(res).toMatch(/^\* 1 FETCH \(UID 1 BODY\[\] \{\d+\}\r\n/);
        expect(res).not.toContain('* 2 FETCH');
        expect(res).toContain('f OK');
        const short = await c.command('g', 'FETCH 3 BODY.PEEK[]');
        expect(short).toMatch(/^g NO \[UNAVAILABLE\] /);
        expect(await c.command('h', 'NOOP')).toContain('h OK');
        // A large body is streamed after its length went out: a short one must end the connection.
        c.write('i FETCH 4 BODY.PEEK[]\r\n');
        await c.waitClosed();
        expect(c.closed).toBe(true);
      } finally {
        await server.close();
      }
    });
  });
});
