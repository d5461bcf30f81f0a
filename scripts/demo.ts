/**
 * `npm start`: LeapBird end to end on this machine, with nothing to configure.
 *
 * Starts a reference provider (alpha.test) on loopback with a correspondent, Bob, who has
 * a key; starts Thunderbird with a fresh profile, the add-on and the native host; signs up
 * Alice through the add-on; Bob sends four kinds of mail; Alice's Thunderbird shows them
 * decrypted; Alice replies encrypted and Bob decrypts it.
 *
 * With a display, Thunderbird stays open for you to look around (Ctrl-C stops everything).
 * Without one (or with --headless) the same runs headless, prints each step and stops.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptMessage, openMessage, signMessage } from '../native-host/src/crypto/index.js';
import { httpsRequest } from '../native-host/src/net/index.js';
import { startProvider, type RunningProvider } from '../provider/src/index.js';
import {
  composeMessage,
  inbox,
  hostConfigFor,
  makeKey,
  newAccount,
  sendToMx,
  uploadKey,
} from '../test/provider/helpers.js';
import { ThunderbirdRun } from '../test/helpers/thunderbird.js';
import { waitFor } from '../test/helpers/wait.js';

const headless = process.argv.includes('--headless') || !process.env.DISPLAY;
let step = 0;
const say = (text: string) => process.stdout.write(`demo ${String(++step).padStart(2)}: ${text}\n`);
const fail = (text: string): never => {
  throw new Error(text);
};

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'leapbird-demo-'));
  chmodSync(dataDir, 0o711); // Dovecot's unprivileged processes reach the provider's files below it
  const cleanups: (() => Promise<void> | void)[] = [
    () => rmSync(dataDir, { recursive: true, force: true }),
  ];
  const stopAll = async () => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(143)));
  try {
    const provider = await startProvider({
      domain: 'alpha.test',
      dataDir: join(dataDir, 'provider'),
    });
    cleanups.push(() => provider.stop());
    say(
      `provider alpha.test running: API ${provider.apiUrl}, IMAP ${provider.ports.imap}, MX ${provider.ports.mx}`,
    );
    const p = { ...provider, dataDir: join(dataDir, 'provider'), cleanup: async () => {} };

    const bob = await newAccount(p, 'bob', `pw-${randomBytes(6).toString('hex')}`);
    const bobKey = await makeKey(bob.address);
    await uploadKey(p, bob, bobKey.publicKey);
    say(`correspondent ${bob.address} signed up and published a key`);

    const tb = await ThunderbirdRun.start({
      name: 'demo',
      ...(headless ? {} : { display: process.env.DISPLAY }),
      hardTimeoutMs: headless ? 300_000 : 24 * 3600_000,
      hostConfig: hostConfigFor(provider),
    });
    cleanups.push(() => tb.stop().then(() => undefined));
    const control = await tb.control();
    say(
      `Thunderbird ${headless ? '(headless) ' : ''}started with the add-on; it connected to the native host`,
    );

    const password = `demo-${randomBytes(6).toString('hex')}`;
    const setup = await control.call(
      'setup.run',
      { mode: 'signUp', domain: 'alpha.test', username: 'alice', password },
      180_000,
    );
    say(
      `account ${setup.email} created: signed up over SRP, key generated and published, Thunderbird account ${setup.accountId} configured`,
    );

    const aliceKey = await nicknym(provider, setup.email);
    const messages = await bobsMessages(bob.address, setup.email, bobKey.privateKey, aliceKey);
    for (const m of messages) await sendToMx(p, bob.address, [setup.email], m.raw);
    say(`Bob sent ${messages.length} messages: ${messages.map((m) => m.kind).join(', ')}`);

    const seen = await waitFor(
      'all of them in Thunderbird',
      async () => {
        const list = (await control.call('mail.list', { email: setup.email, folder: 'inbox' }))
          .messages;
        return messages.every((m) => list.some((l) => l.subject === m.subject)) ? list : undefined;
      },
      120_000,
      1000,
    );
    say(
      `${seen.length} messages synced, decrypted where encrypted, and shown in Thunderbird's Inbox with their real subjects`,
    );

    const subject = `Re: lunch ${randomBytes(2).toString('hex')}`;
    await control.call(
      'compose.send',
      { from: setup.email, to: [bob.address], subject, body: 'Friday works. — Alice' },
      120_000,
    );
    const arrived = await inbox(p, bob, 1, 60_000);
    const raw =
      arrived.find((s) => s.toString('utf8').includes('multipart/encrypted')) ??
      fail('Bob did not get an encrypted message');
    const opened = await openMessage(raw, {
      decryptionKeys: [bobKey.privateKey],
      senderKeys: async () => [aliceKey],
    });
    if (!opened.ok || !opened.value.message.toString('utf8').includes(subject))
      fail('Bob could not decrypt the reply');
    if (opened.ok)
      say(
        `Alice's reply reached Bob encrypted (subject hidden outside) and signed (${opened.value.verification.status})`,
      );

    if (headless) {
      say('all steps passed; stopping everything');
    } else {
      say(
        'Thunderbird stays open: look at the Inbox, the LeapBird button and the key page. Ctrl-C stops everything.',
      );
      await new Promise(() => {});
    }
  } finally {
    await stopAll();
  }
}

async function nicknym(provider: RunningProvider, address: string): Promise<string> {
  const res = await httpsRequest({
    url: `https://api.${provider.domain}/nicknym?address=${encodeURIComponent(address)}`,
    resolver: () => ({ origin: provider.apiUrl }),
    ca: provider.caCertPem,
  });
  const key = (JSON.parse(res.body.toString('utf8')) as { openpgp?: string }).openpgp;
  return key ?? fail(`no key published for ${address}`);
}

async function bobsMessages(from: string, to: string, bobPrivate: string, alicePublic: string) {
  const stamp = randomBytes(2).toString('hex');
  const plain = (subject: string, text: string) => composeMessage({ from, to, subject, text });
  const encrypted = await encryptMessage(
    await plain(`Lunch on Friday? ${stamp}`, 'Shall we try the new place?'),
    {
      senderAddress: from,
      senderPrivateKey: bobPrivate,
      recipientKeys: [alicePublic],
    },
  );
  const signed = await signMessage(
    await plain(`Minutes of Monday ${stamp}`, 'Signed, not secret.'),
    {
      senderAddress: from,
      senderPrivateKey: bobPrivate,
    },
  );
  if (!encrypted.ok || !signed.ok) fail('could not prepare the demo messages');
  const attachment = Buffer.from(
    [
      `From: ${from}`,
      `To: ${to}`,
      `Subject: Holiday photo ${stamp}`,
      `Message-ID: <${stamp}.photo@alpha.test>`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'The view from the top.',
      '--b1',
      'Content-Type: image/png; name="view.png"',
      'Content-Disposition: attachment; filename="view.png"',
      'Content-Transfer-Encoding: base64',
      '',
      randomBytes(3000).toString('base64').replace(/.{76}/g, '$&\r\n'),
      '--b1--',
      '',
    ].join('\r\n'),
  );
  return [
    {
      kind: 'encrypted and signed',
      subject: `Lunch on Friday? ${stamp}`,
      raw: encrypted.ok ? encrypted.value : Buffer.alloc(0),
    },
    {
      kind: 'signed only',
      subject: `Minutes of Monday ${stamp}`,
      raw: signed.ok ? signed.value : Buffer.alloc(0),
    },
    {
      kind: 'plain',
      subject: `Plain note ${stamp}`,
      raw: await plain(`Plain note ${stamp}`, 'Nothing special.'),
    },
    { kind: 'with an attachment', subject: `Holiday photo ${stamp}`, raw: attachment },
  ];
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`demo: FAILED: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
