/**
 * The attacker sits between the sender and the user's host: a relay on the way, or the
 * provider itself. It cannot read end-to-end encrypted mail but can rewrite everything
 * outside the encryption. Each attack travels the real path: MX, provider store, the
 * host's sync into the local store Thunderbird reads.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encryptMessage } from '../../native-host/src/crypto/index.js';
import { SyncEngine } from '../../native-host/src/sync/index.js';
import { makeKey } from '../provider/helpers.js';
import {
  deliver,
  leapHeader,
  localMessages,
  messageId,
  openTempStore,
  providerWithAccount,
  testKeys,
  type SyncAccount,
} from '../sync/helpers.js';

let account: SyncAccount;
const BOB = 'bob@outside.test';

beforeAll(async () => {
  account = await providerWithAccount('relay.test');
}, 60_000);
afterAll(async () => {
  await account?.provider.cleanup();
});

/** Header fields of the stored message, by lower-case name. */
function fieldNames(raw: Buffer): string[] {
  const text = raw.toString('latin1');
  return text
    .slice(0, text.indexOf('\r\n\r\n'))
    .split('\r\n')
    .filter((line) => !/^[ \t]/.test(line))
    .map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
}

it('adds Reply-To and a read-receipt request outside a header-protected message', async () => {
  const bobKey = await makeKey(BOB);
  const sealed = await encryptMessage(
    Buffer.from(
      `From: <${BOB}>\r\nTo: <${account.address}>\r\nSubject: contract\r\n` +
        `Message-ID: <protected@outside.test>\r\nContent-Type: text/plain\r\n\r\nSigned and sealed.\r\n`,
    ),
    {
      recipientKeys: [account.publicKey],
      senderAddress: BOB,
      senderPrivateKey: bobKey.privateKey,
    },
  );
  if (!sealed.ok) throw new Error(sealed.error.message);
  // The relay puts its own fields in front of the encrypted message.
  const rewritten = Buffer.concat([
    Buffer.from(
      'Reply-To: <attacker@evil.test>\r\nDisposition-Notification-To: <attacker@evil.test>\r\n',
    ),
    sealed.value,
  ]);
  await deliver(account.provider, account.address, [{ from: BOB, raw: rewritten }]);
  const local = await openTempStore();
  try {
    const keys = testKeys(account, { [BOB]: bobKey.publicKey });
    await new SyncEngine({ store: local.store, credentials: account.credentials, keys }).syncOnce();
    const stored = (await localMessages(local.store, 'INBOX')).find(
      (m) => messageId(m.raw) === '<protected@outside.test>',
    )!;
    // Shown as Bob's encrypted, validly signed message: so nothing outside may add to it.
    expect(leapHeader(stored.raw, 'X-Leap-Encryption')).toBe('end-to-end');
    expect(leapHeader(stored.raw, 'X-Leap-Signature')).toMatch(/^valid; /);
    expect(stored.raw.toString('latin1')).not.toContain('attacker@evil.test');
    expect(fieldNames(stored.raw)).not.toContain('reply-to');
    expect(fieldNames(stored.raw)).toContain('subject');
    expect(stored.raw.toString('latin1')).toContain('Subject: contract');
  } finally {
    local.store.close();
    local.cleanup();
  }
}, 60_000);

it('stores plain mail encrypted on arrival: the user is told it was not end-to-end', async () => {
  const raw = Buffer.from(
    `From: <${BOB}>\r\nTo: <${account.address}>\r\nSubject: hello\r\n` +
      `Message-ID: <at-rest@outside.test>\r\nContent-Type: text/plain\r\n\r\nSent in the clear.\r\n`,
  );
  await deliver(account.provider, account.address, [{ from: BOB, raw }]);
  const local = await openTempStore();
  try {
    await new SyncEngine({
      store: local.store,
      credentials: account.credentials,
      keys: testKeys(account),
    }).syncOnce();
    const stored = (await localMessages(local.store, 'INBOX')).find(
      (m) => messageId(m.raw) === '<at-rest@outside.test>',
    )!;
    // The provider saw it in the clear: "stored", never "end-to-end" (nor the old "decrypted").
    expect(leapHeader(stored.raw, 'X-Leap-Encryption')).toBe('stored');
    // And the sender's header section is the one shown, not the MX wrapper's.
    expect(stored.raw.toString('latin1')).toContain(`From: <${BOB}>`);
    expect(stored.raw.toString('latin1')).not.toContain('encrypted@');
  } finally {
    local.store.close();
    local.cleanup();
  }
}, 60_000);
