import { ImapFlow } from 'imapflow';
import { describe, expect, it } from 'vitest';
import { startImapServer } from '../../native-host/src/imap/index.js';
import { StoreMailboxBackend } from '../../native-host/src/store/index.js';
import { numberedMessage, tempStore } from './helpers.js';

describe('the local IMAP server serving from the encrypted store', () => {
  it('lets a real IMAP client append, fetch, flag, move and expunge', async () => {
    const { store, cleanup } = await tempStore();
    const backend = new StoreMailboxBackend();
    backend.register('alice', store);
    const server = await startImapServer({
      backend,
      authenticate: async (user, password) =>
        user === 'alice' && password === 'pw' ? 'alice' : null,
    });
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      auth: { user: 'alice', pass: 'pw' },
      logger: false,
      socketTimeout: 20_000,
    });
    try {
      await client.connect();
      await client.mailboxCreate('Archive');
      const big = numberedMessage(1, 300_000);
      await client.append('INBOX', big, ['\\Seen']);
      await client.append('INBOX', numberedMessage(2));
      const lock = await client.getMailboxLock('INBOX');
      try {
        const fetched = [];
        for await (const m of client.fetch('1:*', {
          uid: true,
          envelope: true,
          flags: true,
          source: true,
        })) {
          fetched.push(m);
        }
        expect(fetched.map((m) => m.envelope?.subject)).toEqual(['numbered 1', 'numbered 2']);
        expect(fetched[0]!.source!.equals(big)).toBe(true);
        // Appended before this session selected INBOX: \\Recent for it (RFC 3501 2.3.2).
        expect([...fetched[0]!.flags!]).toEqual(['\\Seen', '\\Recent']);
        const part = await client.download(String(fetched[1]!.uid), '1', { uid: true });
        const chunks: Buffer[] = [];
        for await (const c of part.content!) chunks.push(c as Buffer);
        expect(Buffer.concat(chunks).toString()).toContain('line of message 2');
        await client.messageFlagsAdd(String(fetched[1]!.uid), ['$Later'], { uid: true });
        await client.messageMove(String(fetched[0]!.uid), 'Archive', { uid: true });
      } finally {
        lock.release();
      }
      const status = await client.status('Archive', { messages: true, unseen: true });
      expect(status).toMatchObject({ messages: 1, unseen: 0 });
      const inbox = (await store.getMailbox('INBOX'))!;
      const metas = [];
      for await (const m of store.fetch(inbox.id, [{ start: 1, end: Infinity }])) metas.push(m);
      expect(metas.map((m) => m.flags)).toEqual([['$Later']]);
      await client.logout();
    } finally {
      client.close();
      await server.close();
      await cleanup();
    }
  });
});
