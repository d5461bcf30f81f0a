/**
 * The local IMAP server as Thunderbird uses it: 500 messages synced from the provider appear
 * in Thunderbird with their subjects and unread; marking one read and moving another in
 * Thunderbird reaches the local store and, through the sync engine, the provider's mailbox.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListedMessage } from '../../shared/src/rpc.js';
import {
  composeMessage,
  imapClient,
  logIn,
  hostConfigFor,
  sendToMx,
  startTestProvider,
  type TestProvider,
} from '../provider/helpers.js';
import { ThunderbirdRun } from '../helpers/thunderbird.js';
import { waitFor } from '../helpers/wait.js';

const COUNT = 500;

describe('Thunderbird on the local IMAP server', () => {
  let alpha: TestProvider;
  let tb: ThunderbirdRun;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const stamp = randomBytes(3).toString('hex');
  const subjects = Array.from(
    { length: COUNT },
    (_, i) => `Batch ${stamp} #${String(i).padStart(3, '0')}`,
  );
  let listed: ListedMessage[] = [];

  beforeAll(async () => {
    alpha = await startTestProvider('alpha.test');
    tb = await ThunderbirdRun.start({
      name: 'imap-thunderbird',
      hardTimeoutMs: 300_000,
      hostConfig: hostConfigFor(alpha),
    });
    const control = await tb.control();
    await control.call(
      'setup.run',
      { mode: 'signUp', domain: 'alpha.test', username: 'alice', password },
      180_000,
    );
    for (const subject of subjects) {
      const raw = await composeMessage({
        from: 'bob@outside.test',
        to: 'alice@alpha.test',
        subject,
        text: `body of ${subject}`,
      });
      await sendToMx(alpha, 'bob@outside.test', ['alice@alpha.test'], raw);
    }
  }, 240_000);

  afterAll(async () => {
    await tb?.stop();
    await alpha?.cleanup();
  });

  it(`shows all ${COUNT} messages with their subjects, unread`, { timeout: 150_000 }, async () => {
    const control = await tb.control();
    let seen = 0;
    listed = await waitFor(
      `${COUNT} messages in Thunderbird`,
      async () => {
        const list = (
          await control.call('mail.list', { email: 'alice@alpha.test', folder: 'inbox' })
        ).messages;
        seen = list.length;
        return list.length >= COUNT ? list : undefined;
      },
      140_000,
      2000,
    ).catch((error: Error) => {
      // How far Thunderbird got tells a lost update from a stalled client.
      throw new Error(`${error.message} (it lists ${seen})`);
    });
    expect(listed.map((m) => m.subject).sort()).toEqual([...subjects].sort());
    expect(listed.every((m) => !m.read)).toBe(true);
  });

  it(
    'marks a message read and moves another to Trash, and the provider sees both',
    { timeout: 120_000 },
    async () => {
      const control = await tb.control();
      const read = listed.find((m) => m.subject === subjects[7])!;
      const moved = listed.find((m) => m.subject === subjects[8])!;
      await control.call('mail.markRead', { ids: [read.id] });
      await control.call('mail.move', { email: 'alice@alpha.test', ids: [moved.id], to: 'trash' });

      const session = await logIn(alpha, 'alice', password);
      const account = { id: session.id!, token: session.token!, address: 'alice@alpha.test' };
      await waitFor(
        'the read flag and the move at the provider',
        async () => {
          const imap = imapClient(alpha, account);
          await imap.connect();
          try {
            const seen = new Map<string, string[]>();
            for (const box of ['INBOX', 'Trash']) {
              const lock = await imap.getMailboxLock(box);
              try {
                if (!imap.mailbox || !imap.mailbox.exists) continue;
                for (const m of await imap.fetchAll('1:*', { envelope: true, flags: true })) {
                  // The provider stores ciphertext: the subject is known by the message's order of arrival.
                  seen.set(`${box}:${m.seq}`, [...(m.flags ?? [])]);
                }
              } finally {
                lock.release();
              }
            }
            const inboxCount = [...seen.keys()].filter((k) => k.startsWith('INBOX:')).length;
            const trashCount = [...seen.keys()].filter((k) => k.startsWith('Trash:')).length;
            const seenFlags = [...seen.entries()].filter(
              ([k, f]) => k.startsWith('INBOX:') && f.includes('\\Seen'),
            ).length;
            return inboxCount === COUNT - 1 && trashCount === 1 && seenFlags === 1;
          } finally {
            await imap.logout();
          }
        },
        100_000,
        2000,
      );
    },
  );
});
