/**
 * Screenshots of the add-on in a real Thunderbird on Xvfb: the setup tab on first run, the
 * key page, a compose window's hint, and a message's verification badge and banner.
 * Run after `npm run build`:  npx tsx test/helpers/screenshots.ts
 * Writes .test-output/screenshots/*.png (not committed).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encryptMessage, signMessage } from '../../native-host/src/crypto/index.js';
import { httpsRequest } from '../../native-host/src/net/index.js';
import { composeMessage, sendToMx } from '../provider/helpers.js';
import { startLeapScene, type LeapScene } from './leap-scenario.js';
import { waitFor } from './wait.js';
import { startXvfb, type VirtualDisplay } from './xvfb.js';

const out = resolve(import.meta.dirname, '..', '..', '.test-output', 'screenshots');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function shoot(screen: VirtualDisplay, name: string): void {
  const file = screen.shoot(join(out, `${name}.png`));
  process.stdout.write(`screenshot: ${file}\n`);
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const screen = await startXvfb();
  const display = screen.display;
  let scene: LeapScene | null = null;
  try {
    scene = await startLeapScene({ name: 'screenshots', hardTimeoutMs: 240_000, display }, false);
    const { control, alice, bob } = scene;
    await pause(4000); // the setup tab opens by itself on first run
    shoot(screen, '1-setup-provider');
    await control.call('ui.openPage', { page: 'setup', hash: 'alpha.test' });
    await pause(2500);
    shoot(screen, '2-setup-account');

    await control.call(
      'setup.run',
      {
        mode: 'signUp',
        domain: 'alpha.test',
        username: 'alice',
        password: `pw-${randomBytes(6).toString('hex')}`,
      },
      120_000,
    );
    await control.call('ui.openPage', { page: 'setup' });
    await pause(1500);
    shoot(screen, '3-setup-done');

    const ids = await deliverFromBob(scene);
    const good = await control.call('ui.displayMessage', {
      email: alice,
      headerMessageId: ids.good,
    });
    await pause(2000);
    shoot(screen, '4-message-encrypted-signed');
    process.stdout.write(`display: ${JSON.stringify(good)}\n`);
    const forged = await control.call('ui.displayMessage', {
      email: alice,
      headerMessageId: ids.forged,
    });
    await pause(2000);
    shoot(screen, '5-message-bad-signature');
    process.stdout.write(`display: ${JSON.stringify(forged)}\n`);
    // The toolbar button shows in the mail space (here the message tab), not on content tabs.
    const popup = await control.call('ui.openPopup', {});
    await pause(1500);
    shoot(screen, '5b-toolbar-popup');
    process.stdout.write(`toolbar popup: ${JSON.stringify(popup)}\n`);

    await control.call('ui.openPage', { page: 'keys' });
    await pause(2500);
    shoot(screen, '6-key-page');

    const { tabId } = await control.call('ui.composeOpen', {
      from: alice,
      to: [bob.address, 'nobody@alpha.test'],
      subject: 'Plans for Friday',
    });
    await waitFor(
      'the compose hint',
      async () => (await control.call('ui.composeState', { tabId })).state === 'signed',
      30_000,
      300,
    );
    await pause(1000);
    shoot(screen, '7-compose-signed-only');
    await control
      .call('ui.openPopup', { tabId })
      .catch((e: Error) => process.stdout.write(`popup: ${e.message}\n`));
    await pause(1500);
    shoot(screen, '8-compose-popup');
  } finally {
    await scene?.stop();
    screen.stop();
  }
}

/** Bob sends alice one encrypted, signed message and one signed message changed on the way. */
async function deliverFromBob(scene: LeapScene): Promise<{ good: string; forged: string }> {
  const { alice, bob, provider, control } = scene;
  const res = await httpsRequest({
    url: `https://api.${provider.domain}/nicknym?address=${encodeURIComponent(alice)}`,
    resolver: () => ({ origin: provider.apiUrl }),
    ca: provider.caCertPem,
  });
  const aliceKey = (JSON.parse(res.body.toString('utf8')) as { openpgp: string }).openpgp;
  const sender = { senderAddress: bob.address, senderPrivateKey: bob.privateKey };
  const lunch = await composeMessage({
    from: bob.address,
    to: alice,
    subject: 'Lunch?',
    text: 'Meet at noon at the usual place.',
  });
  const encrypted = await encryptMessage(lunch, { ...sender, recipientKeys: [aliceKey] });
  if (!encrypted.ok) throw new Error(encrypted.error.message);
  const invoice = await signMessage(
    await composeMessage({
      from: bob.address,
      to: alice,
      subject: 'Invoice',
      text: 'Pay 100 EUR.',
    }),
    sender,
  );
  if (!invoice.ok) throw new Error(invoice.error.message);
  const forged = Buffer.from(
    invoice.value.toString('latin1').replace('Pay 100 EUR', 'Pay 900 EUR'),
    'latin1',
  );
  await sendToMx(provider, bob.address, [alice], encrypted.value);
  await sendToMx(provider, bob.address, [alice], forged);
  const id = (raw: Buffer) => /^Message-ID:\s*<([^>]+)>/im.exec(raw.toString('latin1'))![1]!;
  const ids = { good: id(lunch), forged: id(invoice.value) };
  await waitFor(
    'both messages in the Inbox',
    async () => {
      const { messages } = await control.call('mail.list', { email: alice, folder: 'inbox' });
      const have = new Set(messages.map((m) => m.headerMessageId));
      return have.has(ids.good) && have.has(ids.forged);
    },
    90_000,
    1000,
  );
  return ids;
}

await main();
