/**
 * The synced account settings `encryptedOnly` and `attachOwnKey` decide what the other
 * device sends. Two devices (two real hosts, two data folders) logged in to one account on
 * the real provider; the setting is changed on the first through the add-on's RPC, syncs
 * through the provider, and then the second device's local SMTP server (TLS, its own
 * certificate) is given mail as Thunderbird gives it; what reaches the recipients' mailboxes
 * at the provider is what counts.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AccountSettingsValue, SetupResult } from '../../shared/src/rpc.js';
import {
  decryptWith,
  hostConfigFor,
  inbox,
  makeKey,
  newAccount,
  startTestProvider,
  uploadKey,
  type MailAccount,
  type TestProvider,
} from '../provider/helpers.js';
import { startHostAsAddon, type AddonSide } from '../helpers/addon-side.js';
import { waitFor } from '../helpers/wait.js';

describe('synced settings change what the other device sends', () => {
  let provider: TestProvider;
  let first: AddonSide;
  let second: AddonSide;
  let secondSetup: SetupResult;
  /** Has a key at the provider: mail to bob is encrypted. */
  let bob: MailAccount;
  let bobKey: string;
  /** Has none: mail to carol cannot be encrypted (the provider's MX holds it for her). */
  let carol: MailAccount;
  /** The messages that reached the provider for carol. */
  const forCarol = (count: number) =>
    waitFor(`${count} message(s) for carol at the provider`, async () => {
      const held = (await provider.store.heldFor(carol.id)).map((m) =>
        readFileSync(m.path, 'utf8'),
      );
      return held.length >= count && held;
    });
  const dirs: string[] = [];
  const credentials = { domain: 'alpha.test', username: 'alice', password: 'alice on two devices' };
  const email = 'alice@alpha.test';

  /** Mail given to the second device's SMTP server as Thunderbird gives it. */
  const sendFromSecond = (to: string, subject: string) =>
    nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: secondSetup.account.smtp.port,
        secure: true,
        tls: {
          ca: new X509Certificate(
            Buffer.from(secondSetup.account.certificate, 'base64'),
          ).toString(),
        },
        auth: { user: secondSetup.account.username, pass: secondSetup.account.password },
      })
      .sendMail({ from: email, to, subject, text: `${subject}: the text` });

  /** Changes a setting on the first device and waits until the second one has it. */
  async function changeOnFirst(settings: Partial<AccountSettingsValue>) {
    const now = await first.addon.call('settings.set', { email, settings });
    expect(now).toMatchObject(settings);
    await waitFor(
      'the setting on the second device',
      async () => {
        const there = await second.addon.call('settings.get', { email });
        return Object.entries(settings).every(
          ([name, value]) => there[name as keyof AccountSettingsValue] === value,
        );
      },
      30_000,
    );
  }

  /** Bob's copy of the message with this subject, decrypted with his key. */
  async function bobReceived(subject: string, count: number): Promise<string> {
    const sources = await inbox(provider, bob, count, 30_000);
    for (const source of sources) {
      const plain = (await decryptWith(bobKey, source)).toString('utf8');
      if (plain.includes(subject)) return plain;
    }
    throw new Error(`bob has no message "${subject}"`);
  }

  beforeAll(async () => {
    provider = await startTestProvider('alpha.test');
    bob = await newAccount(provider, 'bob');
    const key = await makeKey(bob.address);
    bobKey = key.privateKey;
    await uploadKey(provider, bob, key.publicKey);
    carol = await newAccount(provider, 'carol');
    const dir1 = mkdtempSync(join(tmpdir(), 'lb-settings-1-'));
    const dir2 = mkdtempSync(join(tmpdir(), 'lb-settings-2-'));
    dirs.push(dir1, dir2);
    first = await startHostAsAddon({ dataDir: dir1, ...hostConfigFor(provider) });
    await first.addon.call('setup.signUp', credentials);
    second = await startHostAsAddon({ dataDir: dir2, ...hostConfigFor(provider) });
    secondSetup = await second.addon.call('setup.logIn', credentials);
  }, 180_000);

  afterAll(async () => {
    await second?.stop();
    await first?.stop();
    await provider?.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('by default the second device sends without its key attached, and plain mail when it must', async () => {
    expect(await second.addon.call('settings.get', { email })).toEqual({
      encryptedOnly: false,
      attachOwnKey: false,
    });
    await sendFromSecond(bob.address, 'Before attaching');
    expect(await bobReceived('Before attaching', 1)).not.toContain('application/pgp-keys');
    await sendFromSecond(carol.address, 'Plain to carol');
    expect((await forCarol(1))[0]).toContain('Plain to carol');
  }, 90_000);

  it('attachOwnKey turned on on the first device: the second attaches the key', async () => {
    await changeOnFirst({ attachOwnKey: true });
    await sendFromSecond(bob.address, 'With my key');
    const received = await bobReceived('With my key', 2);
    expect(received).toMatch(/Content-Type: application\/pgp-keys/);
    expect(received).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
  }, 90_000);

  it('encryptedOnly turned on on the first device: the second refuses mail it cannot encrypt', async () => {
    await changeOnFirst({ encryptedOnly: true });
    const refused = await sendFromSecond(carol.address, 'Must not leave').then(
      () => null,
      (error: Error & { responseCode?: number }) => error,
    );
    expect(refused?.responseCode).toBeGreaterThanOrEqual(500);
    expect(refused?.message).toMatch(/carol@alpha\.test/);
    // Encryptable mail still goes.
    await sendFromSecond(bob.address, 'Still encrypted');
    await bobReceived('Still encrypted', 3);
    expect(await provider.store.heldFor(carol.id)).toHaveLength(1);
  }, 90_000);

  it('turned off again, the second device sends plain mail again', async () => {
    await changeOnFirst({ encryptedOnly: false, attachOwnKey: false });
    await sendFromSecond(carol.address, 'Plain again');
    expect((await forCarol(2))[1]).toContain('Plain again');
    await sendFromSecond(bob.address, 'Without the key again');
    expect(await bobReceived('Without the key again', 4)).not.toContain('application/pgp-keys');
  }, 90_000);
});
