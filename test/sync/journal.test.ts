/**
 * Exactly once across a lost answer: an APPEND or a MOVE that reached the server just
 * before the host died is found again from the journal and linked, not done a second time
 * (which for a MOVE would also download the moved message again as a new one).
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SyncEngine } from '../../native-host/src/sync/index.js';
import {
  deliver,
  makeMessage,
  messageId,
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

it('links the messages of a journalled MOVE that already happened upstream', async () => {
  const raw = makeMessage(1, 'mover@outside.test', account.address, 400);
  await deliver(account.provider, account.address, [{ from: 'mover@outside.test', raw }]);
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
    const inbox = (await local.store.getMailbox('INBOX'))!;
    const archive =
      (await local.store.getMailbox('Archive')) ?? (await local.store.createMailbox('Archive'));
    const mine = (await localMessages(local.store, 'INBOX')).find(
      (m) => messageId(m.raw) === messageId(raw),
    )!;
    await other.connect();
    if (!(await other.list()).some((f) => f.path === 'Archive'))
      await other.mailboxCreate('Archive');
    const target = await other.status('Archive', { uidNext: true, uidValidity: true });
    const upInbox = await other.mailboxOpen('INBOX');
    const found = await other.search({ header: { 'message-id': messageId(raw)! } }, { uid: true });
    await local.store.moveMessages(inbox.id, [{ start: mine.uid, end: mine.uid }], archive.id);
    const entry = local.store.queue.pending().find((e) => e.kind === 'move')!;
    // The state a crash leaves: the target's UIDNEXT journalled, the MOVE done upstream.
    engine.state.setJournal(`replay:${entry.seq}`, {
      [`INBOX\0${Number(upInbox.uidValidity)}`]: {
        uidValidity: Number(target && target.uidValidity),
        uidNext: target && target.uidNext,
      },
    });
    await other.messageMove(String((found as number[])[0]), 'Archive', { uid: true });

    const report = await engine.syncOnce();
    expect(report.folders.find((f) => f.mailbox === 'Archive')).toMatchObject({ synced: true });
    const archived = await localMessages(local.store, 'Archive');
    expect(archived.filter((m) => messageId(m.raw) === messageId(raw))).toHaveLength(1);
    expect((await other.mailboxOpen('Archive')).exists).toBe(archived.length);
  } finally {
    await other.logout().catch(() => undefined);
    local.store.close();
    local.cleanup();
  }
}, 60_000);

it('keeps uploads queued while there is no own key yet, and still syncs incoming mail', async () => {
  const local = await openTempStore();
  const keys = testKeys(account);
  const ownKey = keys.ownKey;
  keys.ownKey = async () => null;
  const engine = new SyncEngine({ store: local.store, credentials: account.credentials, keys });
  try {
    await engine.syncOnce();
    const drafts = (await local.store.getMailbox('Drafts'))!;
    await local.store.append(drafts.id, {
      content: Buffer.from(`From: <${account.address}>\r\nSubject: wait for key\r\n\r\nlater\r\n`),
    });
    const raw = makeMessage(7, 'nokey@outside.test', account.address, 300);
    await deliver(account.provider, account.address, [{ from: 'nokey@outside.test', raw }]);

    const waiting = await engine.syncOnce();
    expect(waiting.replayed).toBe(0);
    expect(local.store.queue.pending()).toHaveLength(1);
    const inbox = await localMessages(local.store, 'INBOX');
    expect(inbox.some((m) => messageId(m.raw) === messageId(raw))).toBe(true);

    keys.ownKey = ownKey;
    const sent = await engine.syncOnce();
    expect(sent.replayed).toBe(1);
    expect(local.store.queue.pending()).toHaveLength(0);
    expect(sent.folders.find((f) => f.mailbox === 'Drafts')).toMatchObject({
      done: 1,
      total: 1,
      synced: true,
    });
  } finally {
    local.store.close();
    local.cleanup();
  }
}, 60_000);
