/**
 * The attacker is a contact alice has verified (she compared carol's fingerprint with her).
 * Carol's key also carries a user ID for an address that is not hers, dave@outside.test (a
 * provider with no key directory, so the first Autocrypt key seen is taken), and she sends
 * alice signed mail "From: dave@outside.test" with her own key in its Autocrypt header. The
 * host files that key for dave (it names dave) and checks the next message with it: the
 * signature is valid. What must not happen is that alice sees it as "verified": she
 * checked carol's key for carol, not for dave. Played through the real path: the provider's
 * MX, the host's sync, and the display in a real Thunderbird.
 */
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMessage } from '../../native-host/src/crypto/index.js';
import { composeMessage, newAccount, sendToMx, uploadKey } from '../provider/helpers.js';
import { startLeapScene, type LeapScene } from '../helpers/leap-scenario.js';
import { waitFor } from '../helpers/wait.js';

const DAVE = 'dave@outside.test';

describe('a verified contact impersonating another', () => {
  let scene: LeapScene;
  let carolFingerprint = '';
  const ids: string[] = [];

  beforeAll(async () => {
    scene = await startLeapScene({ name: 'adversary-verified-contact', hardTimeoutMs: 200_000 });
    const { provider, control, alice } = scene;
    const carol = await newAccount(provider, 'carol');
    const key = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ email: carol.address }, { email: DAVE }],
      format: 'armored',
    });
    const uploaded = await uploadKey(provider, carol, key.publicKey);
    expect(uploaded.status).toBeLessThan(300);
    carolFingerprint = (await openpgp.readKey({ armoredKey: key.publicKey }))
      .getFingerprint()
      .toUpperCase();
    const verified = await control.call('ui.verifyContact', {
      email: alice,
      contact: carol.address,
      fingerprint: carolFingerprint,
    });
    expect(verified.validation).toBe('Fingerprint');
    const keydata = Buffer.from((await openpgp.readKey({ armoredKey: key.publicKey })).write());
    const autocrypt = `addr=${DAVE}; keydata=${keydata.toString('base64').replace(/(.{76})/g, '$1\r\n ')}`;
    // Two messages, as a real correspondent sends them: the first teaches alice's host the
    // key (a key is never used for the message that brought it), the second is checked with it.
    for (const subject of ['Hello from dave', 'Please pay this invoice']) {
      const signed = await signMessage(
        await composeMessage({ from: DAVE, to: alice, subject, text: 'Dave here.' }),
        { senderAddress: DAVE, senderPrivateKey: key.privateKey },
      );
      if (!signed.ok) throw new Error(signed.error.message);
      const raw = Buffer.concat([Buffer.from(`Autocrypt: ${autocrypt}\r\n`), signed.value]);
      ids.push(messageId(raw));
      await sendToMx(provider, DAVE, [alice], raw);
      await waitFor(
        `“${subject}” in Thunderbird’s Inbox`,
        async () => {
          const { messages } = await control.call('mail.list', { email: alice, folder: 'inbox' });
          return messages.some((m) => m.headerMessageId === ids.at(-1));
        },
        90_000,
        1000,
      );
    }
  }, 200_000);

  afterAll(async () => {
    await scene?.stop();
  });

  it('a key verified for one address does not verify mail from another address it names', async () => {
    const report = await scene.control.call('ui.displayMessage', {
      email: scene.alice,
      headerMessageId: ids[1]!,
    });
    // The signature is good and the key is the one alice verified, but for carol: alice
    // never checked it for dave, so it is signed, not verified.
    expect(report.state).toBe('signed_unverified');
    expect(report.badgeText).not.toBe('✓');
    expect(report.title).not.toContain('with a key you verified');
    expect(report.banner).not.toMatch(/checked with them/);
  });
});

function messageId(raw: Buffer): string {
  const id = /^Message-ID:\s*<([^>]+)>/im.exec(raw.toString('latin1'))?.[1];
  if (!id) throw new Error('message without a Message-ID');
  return id;
}
