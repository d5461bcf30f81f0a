/**
 * Mail delivered through the provider's MX (encrypted there to the user's key) syncs into
 * the local store: every message decrypts to the bytes that were sent, signatures from a
 * known sender show as valid, a tampered one as invalid, and X-Leap headers from outside
 * never survive.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encryptMessage, signMessage } from '../../native-host/src/crypto/index.js';
import { SyncEngine, type SyncProgress } from '../../native-host/src/sync/index.js';
import { makeKey } from '../provider/helpers.js';
import {
  deliver,
  leapHeader,
  localMessages,
  makeMessage,
  messageId,
  openTempStore,
  providerWithAccount,
  testKeys,
  withoutLeapHeaders,
  type SyncAccount,
} from './helpers.js';

const COUNT = 2000;

/**
 * The stored message is the original, byte for byte, after the trace fields the provider's
 * delivery put on the outer envelope (Return-Path, Delivered-To, Received), which the
 * decryption keeps as any mail client shows them.
 */
function decryptedIsOriginal(stored: Buffer, original: Buffer): boolean {
  if (!stored.subarray(stored.length - original.length).equals(original)) return false;
  const prefix = stored.subarray(0, stored.length - original.length).toString('latin1');
  return prefix
    .split('\r\n')
    .slice(0, -1)
    .every((line) => /^(Return-Path|Delivered-To|Received):|^[ \t]/i.test(line));
}
let account: SyncAccount;
/** Messages the earlier test left in the INBOX. */
let earlier = 0;
/** Senders whose keys the user knows, filled by the signature test. */
const senders: Record<string, string> = {};

beforeAll(async () => {
  account = await providerWithAccount('incoming.test');
}, 60_000);
afterAll(async () => {
  await account?.provider.cleanup();
});

it('shows signatures of a known sender as valid, a tampered one as invalid, and drops X-Leap headers from outside', async () => {
  const bob = 'bob@outside.test';
  const bobKey = await makeKey(bob);
  const sign = async (subject: string, text: string, extra = '') => {
    const raw = Buffer.from(
      `From: <${bob}>\r\nTo: <${account.address}>\r\nSubject: ${subject}\r\n` +
        `Message-ID: <${subject.replace(/\W/g, '')}@outside.test>\r\n${extra}` +
        `Content-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n`,
    );
    const signed = await signMessage(raw, {
      senderAddress: bob,
      senderPrivateKey: bobKey.privateKey,
    });
    if (!signed.ok) throw new Error(signed.error.message);
    return signed.value;
  };
  const good = await sign(
    'good',
    'A signed hello.',
    'X-Leap-Signature: valid; pubkey="FORGED"\r\n',
  );
  const tampered = Buffer.from(
    (await sign('tampered', 'Pay 10 euros.')).toString('latin1').replace('Pay 10', 'Pay 99'),
    'latin1',
  );
  const dave = 'dave@outside.test';
  const daveKey = await makeKey(dave);
  const unknownRaw = Buffer.from(
    `From: <${dave}>\r\nTo: <${account.address}>\r\nSubject: unknown\r\n` +
      `Message-ID: <unknown@outside.test>\r\n\r\nFrom someone we have no key for.\r\n`,
  );
  const unknown = await signMessage(unknownRaw, {
    senderAddress: dave,
    senderPrivateKey: daveKey.privateKey,
  });
  if (!unknown.ok) throw new Error(unknown.error.message);
  const sealed = await encryptMessage(
    Buffer.from(
      `From: <${bob}>\r\nTo: <${account.address}>\r\nSubject: secret\r\nMessage-ID: <sealed@outside.test>\r\n\r\nEnd-to-end.\r\n`,
    ),
    { recipientKeys: [account.publicKey], senderAddress: bob, senderPrivateKey: bobKey.privateKey },
  );
  if (!sealed.ok) throw new Error(sealed.error.message);
  await deliver(account.provider, account.address, [
    { from: bob, raw: good },
    { from: bob, raw: tampered },
    { from: dave, raw: unknown.value },
    { from: bob, raw: sealed.value },
  ]);
  earlier = 4;
  const local = await openTempStore();
  try {
    senders[bob] = bobKey.publicKey;
    const keys = testKeys(account, senders);
    await new SyncEngine({ store: local.store, credentials: account.credentials, keys }).syncOnce();
    const stored = await localMessages(local.store, 'INBOX');
    const find = (id: string) => stored.find((m) => messageId(m.raw) === `<${id}@outside.test>`)!;
    expect(leapHeader(find('good').raw, 'X-Leap-Signature')).toMatch(
      /^valid; pubkey="[0-9A-F]{40}"; signer="bob@outside.test"$/,
    );
    // Signed but sent unencrypted: the provider saw it and stored it encrypted.
    expect(leapHeader(find('good').raw, 'X-Leap-Encryption')).toBe('stored');
    expect(find('good').raw.toString('latin1')).not.toContain('FORGED');
    expect(leapHeader(find('tampered').raw, 'X-Leap-Signature')).toBe('invalid');
    expect(leapHeader(find('unknown').raw, 'X-Leap-Signature')).toBe('unknown-key');
    expect(leapHeader(find('sealed').raw, 'X-Leap-Encryption')).toBe('end-to-end');
    expect(leapHeader(find('sealed').raw, 'X-Leap-Signature')).toMatch(/^valid; /);
    expect(find('sealed').raw.toString()).toContain('End-to-end.');
  } finally {
    local.store.close();
    local.cleanup();
  }
}, 60_000);

it(`syncs ${COUNT} messages from the MX and each decrypts to the original bytes`, async () => {
  const sent = Array.from({ length: COUNT }, (_, i) => ({
    from: `sender${i % 17}@outside.test`,
    raw: makeMessage(i, `sender${i % 17}@outside.test`, account.address),
  }));
  await deliver(account.provider, account.address, sent);
  const local = await openTempStore();
  try {
    const progress: SyncProgress[] = [];
    // Through the worker pool, so its path (sender keys asked across threads) is the one
    // checked here; the other tests open messages on the main thread.
    const engine = new SyncEngine({
      store: local.store,
      credentials: account.credentials,
      keys: testKeys(account, senders),
      openWorkers: 2,
      onProgress: (p) => progress.push(p),
    });
    const report = await engine.syncOnce();
    const total = COUNT + earlier;
    const inbox = report.folders.find((f) => f.mailbox === 'INBOX')!;
    expect(inbox).toEqual({ mailbox: 'INBOX', done: total, total, synced: true });
    expect(report.stored).toBe(total);

    const all = await localMessages(local.store, 'INBOX');
    const signature = (id: string) =>
      leapHeader(
        all.find((m) => messageId(m.raw) === `<${id}@outside.test>`)!.raw,
        'X-Leap-Signature',
      );
    expect(signature('good')).toMatch(/^valid; pubkey="[0-9A-F]{40}"; signer="bob@outside.test"$/);
    expect(signature('tampered')).toBe('invalid');
    expect(signature('sealed')).toMatch(/^valid; /);

    const byId = new Map(sent.map((m) => [messageId(m.raw), m.raw]));
    const stored = (await localMessages(local.store, 'INBOX')).filter((m) =>
      byId.has(messageId(m.raw)),
    );
    expect(stored).toHaveLength(COUNT);
    const mismatches = stored.filter((m) => {
      const original = byId.get(messageId(m.raw));
      return !original || !decryptedIsOriginal(withoutLeapHeaders(m.raw), original);
    });
    expect(mismatches).toHaveLength(0);
    expect(new Set(stored.map((m) => leapHeader(m.raw, 'X-Leap-Encryption')))).toEqual(
      new Set(['stored']),
    );
    // Progress went up to the total, folder by folder, and never past it.
    const inboxProgress = progress.filter((p) => p.mailbox === 'INBOX');
    expect(inboxProgress.at(-1)).toEqual({ mailbox: 'INBOX', done: total, total, synced: true });
    expect(inboxProgress.every((p) => p.done <= p.total)).toBe(true);

    // A second pass finds nothing new and keeps the count.
    const again = await engine.syncOnce();
    expect(again.stored).toBe(0);
    const inboxId = (await local.store.getMailbox('INBOX'))!.id;
    expect((await local.store.status(inboxId)).messages).toBe(total);
  } finally {
    local.store.close();
    local.cleanup();
  }
}, 240_000);
