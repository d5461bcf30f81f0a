/**
 * Verification badges in a real Thunderbird: a message bob encrypted and signed to alice
 * shows "encrypted, signed by an unverified key" on the message display action, "verified"
 * once alice checked bob's fingerprint, and one whose signed text was changed on the way
 * shows a bad signature (badge and banner).
 */
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encryptMessage, signMessage } from '../../native-host/src/crypto/index.js';
import { httpsRequest } from '../../native-host/src/net/index.js';
import { composeMessage, sendToMx, type TestProvider } from '../provider/helpers.js';
import { startLeapScene, type LeapScene } from '../helpers/leap-scenario.js';
import { waitFor } from '../helpers/wait.js';

describe('verification badges in Thunderbird', () => {
  let scene: LeapScene;
  const ids = { good: '', forged: '' };

  beforeAll(async () => {
    scene = await startLeapScene({ name: 'ui-display', hardTimeoutMs: 170_000 });
    const { bob, alice, provider } = scene;
    const aliceKey = await fetchNicknym(provider, alice);
    const good = await composeMessage({
      from: bob.address,
      to: alice,
      subject: 'Plans',
      text: 'Meet at noon.',
    });
    const encrypted = await encryptMessage(good, {
      senderAddress: bob.address,
      senderPrivateKey: bob.privateKey,
      recipientKeys: [aliceKey],
    });
    if (!encrypted.ok) throw new Error(encrypted.error.message);
    const signed = await signMessage(
      await composeMessage({
        from: bob.address,
        to: alice,
        subject: 'Invoice',
        text: 'Pay 100 EUR.',
      }),
      { senderAddress: bob.address, senderPrivateKey: bob.privateKey },
    );
    if (!signed.ok) throw new Error(signed.error.message);
    // Changed on the way: same length, so only the signature can tell.
    const forged = Buffer.from(
      signed.value.toString('latin1').replace('Pay 100 EUR', 'Pay 900 EUR'),
      'latin1',
    );
    expect(forged.equals(signed.value)).toBe(false);
    ids.good = messageId(good);
    ids.forged = messageId(signed.value);
    await sendToMx(provider, bob.address, [alice], encrypted.value);
    await sendToMx(provider, bob.address, [alice], forged);
    // Incoming mail can take a while to reach Thunderbird's Inbox: wait, bounded.
    await waitFor(
      'both messages in Thunderbird’s Inbox',
      async () => {
        const { messages } = await scene.control.call('mail.list', {
          email: alice,
          folder: 'inbox',
        });
        const have = new Set(messages.map((m) => m.headerMessageId));
        return have.has(ids.good) && have.has(ids.forged);
      },
      90_000,
      1000,
    );
  }, 170_000);

  afterAll(async () => {
    await scene?.stop();
  });

  it('shows an encrypted message signed by a key found at the provider as encrypted, unverified', async () => {
    const report = await scene.control.call('ui.displayMessage', {
      email: scene.alice,
      headerMessageId: ids.good,
    });
    expect(report.state).toBe('signed_unverified');
    expect(report.badgeText).toBe('enc');
    expect(report.title).toContain('Encrypted and signed by');
    expect(report.title).toContain(scene.bob.address);
    // Read from the message pane: the display script put it there.
    expect(report.banner).toMatch(/^Encrypted and signed by .*bob@alpha\.test\. The key was found/);
  });

  it('shows it as signed by a verified key once alice checked bob’s fingerprint', async () => {
    const key = await openpgp.readKey({ armoredKey: scene.bob.publicKey });
    const verified = await scene.control.call('ui.verifyContact', {
      email: scene.alice,
      contact: scene.bob.address,
      fingerprint: key.getFingerprint().toUpperCase(),
    });
    expect(verified.validation).toBe('Fingerprint');
    const report = await scene.control.call('ui.displayMessage', {
      email: scene.alice,
      headerMessageId: ids.good,
    });
    expect(report.state).toBe('signed_verified');
    expect(report.badgeText).toBe('✓');
    expect(report.title).toContain('with a key you verified');
  });

  it('shows a message whose signed text was changed as a bad signature', async () => {
    const report = await scene.control.call('ui.displayMessage', {
      email: scene.alice,
      headerMessageId: ids.forged,
    });
    expect(report.state).toBe('bad_signature');
    expect(report.badgeText).toBe('!');
    expect(report.banner).toMatch(/BAD SIGNATURE/);
  });
});

function messageId(raw: Buffer): string {
  const id = /^Message-ID:\s*<([^>]+)>/im.exec(raw.toString('latin1'))?.[1];
  if (!id) throw new Error('message without a Message-ID');
  return id;
}

async function fetchNicknym(p: TestProvider, address: string): Promise<string> {
  const res = await httpsRequest({
    url: `https://api.${p.domain}/nicknym?address=${encodeURIComponent(address)}`,
    resolver: () => ({ origin: p.apiUrl }),
    ca: p.caCertPem,
  });
  const armored = (JSON.parse(res.body.toString('utf8')) as { openpgp?: string }).openpgp;
  if (!armored) throw new Error(`no key for ${address} at the provider`);
  return armored;
}
