/**
 * The upstream server goes away while the user flags, moves, deletes and saves a draft
 * locally; when it comes back the changes apply upstream exactly once. Conflicts resolve as
 * IMAP does: flags set on both sides end up as their union, an upstream expunge wins.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startProvider } from '../../provider/src/index.js';
import { SyncEngine } from '../../native-host/src/sync/index.js';
import { decryptWith } from '../provider/helpers.js';
import {
  deliver,
  localMessages,
  makeMessage,
  messageId,
  openTempStore,
  providerWithAccount,
  testKeys,
  type SyncAccount,
} from './helpers.js';

let account: SyncAccount;
let restarted: Awaited<ReturnType<typeof startProvider>> | null = null;

beforeAll(async () => {
  account = await providerWithAccount('offline.test');
}, 60_000);
afterAll(async () => {
  await restarted?.stop();
  await account?.provider.cleanup();
});

/** Another client of the same mailbox (a phone, webmail): straight to Dovecot. */
async function otherClient(): Promise<ImapFlow> {
  const c = account.credentials as { accessToken: () => Promise<string> };
  const client = new ImapFlow({
    host: account.provider.host,
    port: restarted?.ports.imap ?? account.provider.ports.imap,
    secure: true,
    tls: { ca: account.provider.caCertPem, servername: account.provider.domain },
    auth: { user: account.address, accessToken: await c.accessToken() },
    logger: false,
  });
  await client.connect();
  return client;
}

async function upstreamState(client: ImapFlow, path: string) {
  const box = await client.mailboxOpen(path);
  if (!box.exists) return [];
  const out = [];
  for await (const m of client.fetch('1:*', { uid: true, flags: true, source: true })) {
    out.push({ uid: m.uid, flags: [...(m.flags ?? [])].sort(), source: m.source! });
  }
  return out;
}

it('replays flags, moves, deletes and a draft made offline, exactly once', async () => {
  const sent = Array.from({ length: 8 }, (_, i) => ({
    from: 'someone@outside.test',
    raw: makeMessage(i, 'someone@outside.test', account.address, 500),
  }));
  await deliver(account.provider, account.address, sent);
  const setup = await otherClient();
  await setup.mailboxCreate('Archive');
  await setup.logout();

  const local = await openTempStore();
  const keys = testKeys(account);
  const engine = new SyncEngine({ store: local.store, credentials: account.credentials, keys });
  try {
    await engine.syncOnce();
    const store = local.store;
    const inbox = (await store.getMailbox('INBOX'))!;
    const archive = (await store.getMailbox('Archive'))!;
    const before = await localMessages(store, 'INBOX');
    expect(before).toHaveLength(8);
    const uidOf = (i: number) =>
      before.find((m) => messageId(m.raw) === messageId(sent[i]!.raw))!.uid;
    const uidValidity = (await store.status(inbox.id)).uidValidity;

    // Meanwhile on another device: message 0 answered, message 7 expunged.
    const phone = await otherClient();
    const upstreamBefore = await upstreamState(phone, 'INBOX');
    const upUid = (i: number) =>
      upstreamBefore.find((m) => messageId(m.source) === messageId(sent[i]!.raw))!.uid;
    await phone.messageFlagsAdd(String(upUid(0)), ['\\Answered'], { uid: true });
    await phone.messageDelete(String(upUid(7)), { uid: true });
    await phone.logout();

    await account.provider.stop();
    await expect(engine.syncOnce()).rejects.toMatchObject({ code: 'upstream_unreachable' });

    const one = (uid: number) => [{ start: uid, end: uid }];
    await store.storeFlags(inbox.id, [...one(uidOf(0)), ...one(uidOf(1))], {
      operation: 'add',
      flags: ['\\Flagged'],
    });
    await store.storeFlags(inbox.id, one(uidOf(7)), { operation: 'add', flags: ['\\Seen'] });
    await store.moveMessages(inbox.id, [...one(uidOf(2)), ...one(uidOf(3))], archive.id);
    await store.storeFlags(inbox.id, one(uidOf(4)), { operation: 'add', flags: ['\\Deleted'] });
    await store.expunge(inbox.id, one(uidOf(4)));
    const drafts =
      (await store.getMailbox('Drafts')) ??
      (await store.createMailbox('Drafts', { specialUse: '\\Drafts' }));
    const draft = Buffer.from(
      `From: <${account.address}>\r\nTo: <friend@outside.test>\r\nSubject: half-written\r\n` +
        `Message-ID: <draft-1@offline.test>\r\n\r\nDear friend,\r\n`,
    );
    await store.append(drafts.id, { content: draft, flags: ['\\Draft'] });
    expect(store.queue.pending().length).toBeGreaterThan(0);

    restarted = await startProvider({
      domain: account.provider.domain,
      dataDir: account.provider.dataDir,
      host: account.provider.host,
      ports: {
        api: account.provider.ports.api,
        mx: account.provider.ports.mx,
        submission: account.provider.ports.submission,
        imap: account.provider.ports.imap,
      },
    });
    const report = await engine.syncOnce();
    expect(report.replayed).toBeGreaterThanOrEqual(6);
    expect(store.queue.pending()).toHaveLength(0);

    const check = await otherClient();
    const upInbox = await upstreamState(check, 'INBOX');
    const upArchive = await upstreamState(check, 'Archive');
    const upDrafts = await upstreamState(check, 'Drafts');
    const idsUp = (list: { source: Buffer }[]) => list.map((m) => messageId(m.source)).sort();
    const idsOf = (...i: number[]) => i.map((n) => messageId(sent[n]!.raw)).sort();
    expect(idsUp(upInbox)).toEqual(idsOf(0, 1, 5, 6));
    expect(idsUp(upArchive)).toEqual(idsOf(2, 3));
    const flagsUp = (i: number) =>
      upInbox.find((m) => messageId(m.source) === messageId(sent[i]!.raw))!.flags;
    expect(flagsUp(0)).toEqual(['\\Answered', '\\Flagged']);
    expect(flagsUp(1)).toEqual(['\\Flagged']);
    // The draft went up encrypted to the user's own key, and nothing else went up twice.
    expect(upDrafts).toHaveLength(1);
    expect(upDrafts[0]!.source.toString()).toContain('multipart/encrypted');
    expect(upDrafts[0]!.source.toString()).not.toContain('Dear friend');
    expect((await decryptWith(account.privateKey, upDrafts[0]!.source)).toString()).toContain(
      'Dear friend,',
    );

    // Locally: the union of flags, the upstream expunge won, and nothing is duplicated.
    const localInbox = await localMessages(store, 'INBOX');
    expect(localInbox.map((m) => messageId(m.raw)).sort()).toEqual(idsOf(0, 1, 5, 6));
    const localFlags = (i: number) =>
      localInbox.find((m) => messageId(m.raw) === messageId(sent[i]!.raw))!.flags.sort();
    expect(localFlags(0)).toEqual(['\\Answered', '\\Flagged']);
    expect((await localMessages(store, 'Archive')).map((m) => messageId(m.raw)).sort()).toEqual(
      idsOf(2, 3),
    );
    expect(await localMessages(store, 'Drafts')).toHaveLength(1);
    expect((await store.status(inbox.id)).uidValidity).toBe(uidValidity);
    expect(report.folders.every((f) => f.synced)).toBe(true);

    // Exactly once: another pass replays nothing and changes nothing upstream.
    const second = await engine.syncOnce();
    expect(second.replayed).toBe(0);
    expect(idsUp(await upstreamState(check, 'INBOX'))).toEqual(idsOf(0, 1, 5, 6));
    expect(await upstreamState(check, 'Archive')).toHaveLength(2);
    expect(await upstreamState(check, 'Drafts')).toHaveLength(1);
    await check.logout();
  } finally {
    local.store.close();
    local.cleanup();
  }
}, 120_000);

it('follows upstream flag changes and expunges without QRESYNC (CONDSTORE and UID diffing)', async () => {
  const sent = Array.from({ length: 4 }, (_, i) => ({
    from: 'plainer@outside.test',
    raw: makeMessage(100 + i, 'plainer@outside.test', account.address, 400),
  }));
  await deliver(
    { ...account.provider, ports: restarted?.ports ?? account.provider.ports },
    account.address,
    sent,
  );
  const local = await openTempStore();
  const engine = new SyncEngine({
    store: local.store,
    credentials: account.credentials,
    keys: testKeys(account),
    qresync: false,
  });
  try {
    await engine.syncOnce();
    const phone = await otherClient();
    const upstream = await upstreamState(phone, 'INBOX');
    const upUid = (i: number) =>
      upstream.find((m) => messageId(m.source) === messageId(sent[i]!.raw))!.uid;
    await phone.messageFlagsAdd(String(upUid(0)), ['\\Seen', '$Important'], { uid: true });
    await phone.messageDelete(`${upUid(1)},${upUid(2)}`, { uid: true });
    const remaining = (await upstreamState(phone, 'INBOX')).length;
    await phone.logout();

    const report = await engine.syncOnce();
    expect(report.folders.find((f) => f.mailbox === 'INBOX')).toMatchObject({
      done: remaining,
      total: remaining,
      synced: true,
    });
    const mine = await localMessages(local.store, 'INBOX');
    const ids = mine.map((m) => messageId(m.raw));
    expect(ids).toContain(messageId(sent[0]!.raw));
    expect(ids).toContain(messageId(sent[3]!.raw));
    expect(ids).not.toContain(messageId(sent[1]!.raw));
    expect(ids).not.toContain(messageId(sent[2]!.raw));
    const first = mine.find((m) => messageId(m.raw) === messageId(sent[0]!.raw))!;
    expect(first.flags.sort()).toEqual(['$Important', '\\Seen']);
  } finally {
    local.store.close();
    local.cleanup();
  }
}, 60_000);
