/** Conformance through real clients: imapflow (what the host and many tools use) and Python's imaplib. */
import { spawn } from 'node:child_process';
import { ImapFlow } from 'imapflow';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sampleMessage } from './backend-contract.js';
import { PASSWORD, USER, startFixture, type Fixture } from './helpers.js';

describe.each(['memory', 'store'] as const)('%s backend', (kind) => {
  let fx: Fixture;
  const clients: ImapFlow[] = [];

  beforeEach(async () => {
    fx = await startFixture({}, kind);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.logout().catch(() => c.close());
    await fx.close();
  });

  async function client(pass = PASSWORD): Promise<ImapFlow> {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: fx.server.port,
      secure: false,
      auth: { user: USER, pass },
      logger: false,
      connectionTimeout: 5000,
      greetingTimeout: 5000,
    });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  }

  async function seed(c: ImapFlow, n: number, mailbox = 'INBOX'): Promise<void> {
    for (let i = 1; i <= n; i++) await c.append(mailbox, sampleMessage(i), i % 2 ? ['\\Seen'] : []);
  }

  describe('imapflow', () => {
    it('refuses wrong credentials and accepts the right ones', async () => {
      await expect(client('wrong')).rejects.toThrow();
      const c = await client();
      expect(c.authenticated).toBeTruthy();
    });

    it('creates, renames, subscribes, lists and deletes mailboxes', async () => {
      const c = await client();
      await c.mailboxCreate(['Projects', 'Café']);
      await c.mailboxRename('Projects', 'Archive/Projects');
      await c.mailboxSubscribe('Archive/Projects/Café');
      const listed = await c.list({ statusQuery: { messages: true, unseen: true } });
      const paths = listed.map((m) => m.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          'INBOX',
          'Sent',
          'Trash',
          'Archive',
          'Archive/Projects',
          'Archive/Projects/Café',
        ]),
      );
      expect(paths).not.toContain('Projects');
      const cafe = listed.find((m) => m.path === 'Archive/Projects/Café')!;
      expect(cafe.subscribed).toBe(true);
      expect(cafe.status?.messages).toBe(0);
      expect(listed.find((m) => m.path === 'Sent')?.specialUse).toBe('\\Sent');
      await c.mailboxUnsubscribe('Archive/Projects/Café');
      await c.mailboxDelete('Archive/Projects/Café');
      expect((await c.list()).map((m) => m.path)).not.toContain('Archive/Projects/Café');
    });

    it('appends, fetches, searches and reports status', async () => {
      const c = await client();
      await seed(c, 6);
      const status = await c.status('INBOX', {
        messages: true,
        unseen: true,
        uidNext: true,
        uidValidity: true,
      });
      expect(status).toMatchObject({ messages: 6, unseen: 3, uidNext: 7 });
      const lock = await c.getMailboxLock('INBOX');
      try {
        const subjects: string[] = [];
        for await (const m of c.fetch('1:*', {
          uid: true,
          flags: true,
          envelope: true,
          bodyStructure: true,
          size: true,
        })) {
          subjects.push(m.envelope!.subject!);
          expect(m.size).toBe(sampleMessage(m.seq).length);
          expect(m.bodyStructure?.childNodes?.map((p) => p.type)).toEqual([
            'text/plain',
            'application/octet-stream',
          ]);
        }
        expect(subjects).toEqual([1, 2, 3, 4, 5, 6].map((i) => `message ${i}`));
        const one = await c.fetchOne('4', { source: true, bodyParts: ['1', '2'] });
        if (!one) throw new Error('message 4 missing');
        expect(one.source!.equals(sampleMessage(4))).toBe(true);
        expect(one.bodyParts!.get('1')!.toString()).toBe('body of message 4');
        expect(one.bodyParts!.get('2')!.toString()).toBe('AAECAwQ=');
        expect(await c.search({ seen: false })).toEqual([2, 4, 6]);
        expect(await c.search({ subject: 'MESSAGE 5' })).toEqual([5]);
        expect(await c.search({ body: 'of message 3' })).toEqual([3]);
        expect(await c.search({ from: 'sender2@example.com' })).toEqual([2]);
        expect(await c.search({ or: [{ uid: '1' }, { larger: 10_000 }] }, { uid: true })).toEqual([
          1,
        ]);
        expect(await c.search({ since: new Date('2000-01-01'), not: { seen: true } })).toEqual([
          2, 4, 6,
        ]);
        expect(await c.search({ header: { 'message-id': '<m6@example.com>' } })).toEqual([6]);
      } finally {
        lock.release();
      }
    });

    it('stores flags, copies, moves and expunges with UIDPLUS mappings', async () => {
      const c = await client();
      await seed(c, 5);
      const lock = await c.getMailboxLock('INBOX');
      try {
        await c.messageFlagsAdd('1:2', ['\\Flagged', '$Work']);
        await c.messageFlagsRemove('1', ['\\Seen']);
        await c.messageFlagsSet('5', ['\\Answered']);
        const flags = new Map<number, Set<string>>();
        for await (const m of c.fetch('1:*', { flags: true })) flags.set(m.seq, m.flags!);
        // Appended before this session selected INBOX, so they are \Recent for it alone.
        expect([...flags.get(1)!].sort()).toEqual(['$Work', '\\Flagged', '\\Recent']);
        expect([...flags.get(2)!].sort()).toEqual(['$Work', '\\Flagged', '\\Recent']);
        expect([...flags.get(5)!]).toEqual(['\\Answered', '\\Recent']);
        const copied = await c.messageCopy('1:2', 'Trash');
        expect(copied && [...copied.uidMap!.entries()]).toEqual([
          [1, 1],
          [2, 2],
        ]);
        const moved = await c.messageMove('3', 'Sent');
        expect(moved && [...moved.uidMap!.entries()]).toEqual([[3, 1]]);
        expect((c.mailbox as { exists: number }).exists).toBe(4);
        await c.messageDelete('1');
        expect(await c.status('INBOX', { messages: true })).toMatchObject({ messages: 3 });
        const uids: number[] = [];
        for await (const m of c.fetch('1:*', { uid: true })) uids.push(m.uid);
        expect(uids).toEqual([2, 4, 5]);
      } finally {
        lock.release();
      }
      expect(await c.status('Trash', { messages: true })).toMatchObject({ messages: 2 });
    });

    it('returns only changed messages for CHANGEDSINCE (CONDSTORE)', async () => {
      const c = await client();
      await seed(c, 3);
      const lock = await c.getMailboxLock('INBOX');
      try {
        const base = BigInt((c.mailbox as { highestModseq: bigint }).highestModseq);
        await c.messageFlagsAdd('2', ['\\Flagged']);
        const changed: number[] = [];
        for await (const m of c.fetch('1:*', { uid: true, flags: true }, { changedSince: base })) {
          changed.push(m.seq);
          expect(BigInt(m.modseq!)).toBeGreaterThan(base);
        }
        expect(changed).toEqual([2]);
      } finally {
        lock.release();
      }
    });

    it('tells an idling client about messages added, flagged and expunged elsewhere', async () => {
      const watcher = await client();
      const writer = await client();
      await seed(writer, 2);
      await watcher.mailboxOpen('INBOX');
      const events: string[] = [];
      const seen = (want: string) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`no ${want}; got ${events.join(',')}`)),
            5000,
          );
          const check = () => {
            if (events.includes(want)) {
              clearTimeout(timer);
              resolve();
            } else setTimeout(check, 10);
          };
          check();
        });
      watcher.on('exists', (d: { count: number }) => events.push(`exists:${d.count}`));
      watcher.on('expunge', (d: { seq: number }) => events.push(`expunge:${d.seq}`));
      watcher.on('flags', (d: { seq: number; flags: Set<string> }) =>
        events.push(`flags:${d.seq}:${[...d.flags].join(' ')}`),
      );
      const idling = watcher.idle();
      await writer.append('INBOX', sampleMessage(3));
      await seen('exists:3');
      await writer.mailboxOpen('INBOX');
      await writer.messageFlagsAdd('2', ['\\Flagged']);
      // The watcher selected INBOX first, so message 2 is \Recent for it.
      await seen('flags:2:\\Flagged \\Recent');
      await writer.messageDelete('1');
      await seen('expunge:1');
      await watcher.noop();
      await idling;
    });
  });

  function run(command: string, args: string[]): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const child = spawn(command, args);
      let out = '';
      let err = '';
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`${command} timed out`));
      }, 20_000);
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`${command} exited ${code}: ${err}`));
      });
    });
  }

  describe('curl (batch mode)', () => {
    it('lists mailboxes, searches and downloads a message by UID', async () => {
      const c = await client();
      await seed(c, 3);
      const base = `imap://127.0.0.1:${fx.server.port}`;
      const auth = ['--user', `${USER}:${PASSWORD}`, '--silent', '--show-error'];
      expect(await run('curl', [...auth, `${base}/`])).toContain(
        '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      );
      expect(
        await run('curl', [...auth, `${base}/INBOX`, '--request', 'SEARCH SUBJECT "message 2"']),
      ).toContain('* SEARCH 2');
      const body = await run('curl', [...auth, `${base}/INBOX;UID=3`]);
      expect(Buffer.from(body).equals(sampleMessage(3))).toBe(true);
    });
  });

  describe("Python's imaplib", () => {
    it('logs in, selects, searches, fetches and stores', async () => {
      const c = await client();
      await seed(c, 3);
      const script = `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, data = m.select('INBOX')
print('SELECT', typ, data[0].decode())
typ, data = m.search(None, 'UNSEEN')
print('SEARCH', data[0].decode())
typ, data = m.fetch('2', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
print('FETCH', data[0][1].decode().strip())
typ, data = m.store('1', '+FLAGS', '\\\\Flagged')
print('STORE', data[0].decode())
typ, data = m.uid('SEARCH', None, 'FLAGGED')
print('UIDSEARCH', data[0].decode())
m.logout()
`;
      const output = await run('python3', ['-c', script, String(fx.server.port), USER, PASSWORD]);
      expect(output).toContain('SELECT OK 3');
      expect(output).toContain('SEARCH 2');
      expect(output).toContain('FETCH Subject: message 2');
      expect(output).toMatch(/STORE 1 \(FLAGS \(\\Seen \\Flagged \\Recent\)\)/);
      expect(output).toContain('UIDSEARCH 1');
    });
  });
});
