/**
 * Exactly once across a lost answer: an APPEND that reached the server just before the
 * host died is found again by its journalled id and linked, not appended a second time.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SyncEngine } from '../../native-host/src/sync/index.js';
import {
  localMessages,
  openTempStore,
  providerWithAccount,
  testKeys,
  type SyncAccount,
} from './helpers.js';

let account: SyncAccount;
beforeAll(async () => {
  account = await providerWithAccount('journal.test');
}, 60_000);
afterAll(async () => {
  await account?.provider.cleanup();
});

it('links a journalled APPEND that already reached the server instead of appending it again', async () => {
  const local = await openTempStore();
  const engine = new SyncEngine({
    store: local.store,
    credentials: account.credentials,
    keys: testKeys(account),
  });
  const c = account.credentials as { accessToken: () => Promise<string> };
  const other = new ImapFlow({
    host: account.provider.host,
    port: account.provider.ports.imap,
    secure: true,
    tls: { ca: account.provider.caCertPem, servername: account.provider.domain },
    auth: { user: account.address, accessToken: await c.accessToken() },
    logger: false,
  });
  try {
    await engine.syncOnce();
    const sent = (await local.store.getMailbox('Sent'))!;
    await local.store.append(sent.id, {
      content: Buffer.from(`From: <${account.address}>\r\nSubject: sent once\r\n\r\nhello\r\n`),
      flags: ['\\Seen'],
    });
    const [entry] = local.store.queue.pending();
    // The state a crash leaves: the id journalled, the message upstream, no answer seen.
    engine.state.setJournal(`replay:${entry!.seq}`, { appendId: 'lost-answer-1' });
    await other.connect();
    await other.append(
      'Sent',
      Buffer.from('X-Leap-Append-Id: lost-answer-1\r\nSubject: ...\r\n\r\nciphertext\r\n'),
    );

    const report = await engine.syncOnce();
    expect(report.replayed).toBe(1);
    const box = await other.mailboxOpen('Sent');
    expect(box.exists).toBe(1);
    expect(await localMessages(local.store, 'Sent')).toHaveLength(1);
    expect(report.folders.find((f) => f.mailbox === 'Sent')).toMatchObject({
      done: 1,
      total: 1,
      synced: true,
    });
  } finally {
    await other.logout().catch(() => undefined);
    local.store.close();
    local.cleanup();
  }
}, 60_000);
