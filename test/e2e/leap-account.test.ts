/**
 * The whole product in a real headless Thunderbird against the reference provider: the
 * add-on sets up an account (SRP sign-up, storage secret, key generated and published),
 * Thunderbird gets exactly one account pointing at the host, mail from another user arrives
 * encrypted at the provider and shows in Thunderbird's Inbox with its real subject, and a
 * message sent from Thunderbird reaches the other user encrypted.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMessage } from '../../native-host/src/crypto/index.js';
import {
  deliverMail,
  inbox,
  hostConfigFor,
  makeKey,
  newAccount,
  startTestProvider,
  uploadKey,
  type TestProvider,
} from '../provider/helpers.js';
import { ThunderbirdRun } from '../helpers/thunderbird.js';
import { waitFor } from '../helpers/wait.js';

describe('a LEAP account in Thunderbird, end to end', () => {
  let alpha: TestProvider;
  let tb: ThunderbirdRun;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let bob: { id: string; token: string; address: string; privateKey: string };

  beforeAll(async () => {
    alpha = await startTestProvider('alpha.test');
    tb = await ThunderbirdRun.start({
      name: 'leap-account',
      hardTimeoutMs: 240_000,
      hostConfig: hostConfigFor(alpha),
    });
    const account = await newAccount(alpha, 'bob');
    const key = await makeKey(account.address);
    await uploadKey(alpha, account, key.publicKey);
    bob = { ...account, privateKey: key.privateKey };
  });

  afterAll(async () => {
    await tb?.stop();
    await alpha?.cleanup();
  });

  it('sets up the account through the add-on: one Thunderbird account, key published', async () => {
    const control = await tb.control();
    const done = await control.call(
      'setup.run',
      { mode: 'signUp', domain: 'alpha.test', username: 'alice', password },
      180_000,
    );
    expect(done).toMatchObject({ email: 'alice@alpha.test', created: true });
    const prefs = readFileSync(join(tb.profile, 'prefs.js'), 'utf8');
    expect(prefs.match(/mail\.server\.server\d+\.type", "imap"/g) ?? []).toHaveLength(1);
    // The provider knows alice's public key now (nicknym), and never saw the password.
    const res = await fetchNicknym(alpha, 'alice@alpha.test');
    expect(res).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
  });

  it('shows mail from another user in the Inbox, decrypted, with its real subject', async () => {
    const control = await tb.control();
    const subject = `Lunch on Friday? ${randomBytes(3).toString('hex')}`;
    await deliverMail(alpha, {
      from: bob.address,
      to: 'alice@alpha.test',
      subject,
      text: 'Shall we?',
    });
    const found = await waitFor(
      'the message in Thunderbird',
      async () =>
        (
          await control.call('mail.list', { email: 'alice@alpha.test', folder: 'inbox' })
        ).messages.find((m) => m.subject === subject),
      90_000,
      1000,
    );
    expect(found.author).toContain(bob.address);
  });

  it('sends from Thunderbird to a user with a key: it arrives encrypted and signed', async () => {
    const control = await tb.control();
    const subject = `Report ${randomBytes(3).toString('hex')}`;
    await control.call(
      'compose.send',
      { from: 'alice@alpha.test', to: [bob.address], subject, body: 'The numbers are in.' },
      120_000,
    );
    const sources = await inbox(alpha, bob, 1, 60_000);
    const raw = sources.find((s) => s.toString('utf8').includes('multipart/encrypted'));
    expect(raw).toBeDefined();
    expect(raw!.toString('utf8')).not.toContain(subject); // the subject travels inside
    const opened = await openMessage(raw!, { decryptionKeys: [bob.privateKey] });
    expect(opened.ok).toBe(true);
    if (opened.ok) expect(opened.value.message.toString('utf8')).toContain(subject);
  });
});

async function fetchNicknym(p: TestProvider, address: string): Promise<string> {
  const { httpsRequest } = await import('../../native-host/src/net/index.js');
  const res = await httpsRequest({
    url: `https://api.${p.domain}/nicknym?address=${encodeURIComponent(address)}`,
    resolver: () => ({ origin: p.apiUrl }),
    ca: p.caCertPem,
  });
  return res.body.toString('utf8');
}
