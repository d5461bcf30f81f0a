/**
 * The host's account service against the reference provider, without Thunderbird: setup
 * creates the storage secret, key and servers; mail from another user is synced, decrypted
 * and served by the local IMAP server; a restart resumes without the password; a second
 * device recovers the storage secret and uses the same key.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountService } from '../../native-host/src/account/index.js';
import { createFileLogger } from '../../native-host/src/log/index.js';
import { mapResolver, type Resolver } from '../../native-host/src/net/index.js';
import type { Progress, SetupResult } from '../../shared/src/rpc.js';
import {
  deliverMail,
  loopbackNames,
  makeKey,
  newAccount,
  startTestProvider,
  uploadKey,
  type TestProvider,
} from '../provider/helpers.js';
import { waitFor } from '../helpers/wait.js';

/** The host's loopback certificate from the account spec (DER, base64) as PEM. */
const certificatePem = (result: SetupResult) =>
  new X509Certificate(Buffer.from(result.account.certificate, 'base64')).toString();

async function localInbox(result: SetupResult): Promise<{ subject: string; source: string }[]> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: result.account.imap.port,
    // The host's own certificate, as Thunderbird pins it.
    secure: true,
    tls: { ca: certificatePem(result) },
    auth: { user: result.account.username, pass: result.account.password },
    logger: false,
  });
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const out: { subject: string; source: string }[] = [];
      if ((client.mailbox && client.mailbox.exists) || 0) {
        for await (const m of client.fetch('1:*', { envelope: true, source: true })) {
          out.push({
            subject: m.envelope?.subject ?? '',
            source: m.source?.toString('utf8') ?? '',
          });
        }
      }
      return out;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

describe('account service', () => {
  let alpha: TestProvider;
  let resolver: Resolver;
  const dirs: string[] = [];
  const services: AccountService[] = [];
  const deviceKey = randomBytes(32).toString('base64');
  const password = 'correct horse battery staple';

  const progress: Progress[] = [];
  const newService = (dataDir = mkdtempSync(join(tmpdir(), 'lb-acct-')), key = deviceKey) => {
    dirs.push(dataDir);
    const service = new AccountService({
      dataDir,
      logger: createFileLogger(join(dataDir, 'logs', 'host.log'), 'debug'),
      resolver,
      knownProviders: { 'alpha.test': alpha.caFingerprint },
      onProgress: (p) => progress.push(p),
    });
    service.setDeviceKey(key);
    services.push(service);
    return { service, dataDir };
  };

  beforeAll(async () => {
    alpha = await startTestProvider('alpha.test');
    resolver = mapResolver(loopbackNames(alpha));
  });

  afterAll(async () => {
    for (const s of services) await s.stopAll().catch(() => undefined);
    await alpha?.cleanup();
    if (!process.env.LEAPBIRD_KEEP_E2E)
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('sets up, syncs and serves decrypted mail, and resumes after a restart', async () => {
    const first = newService();
    const result = await first.service.signUp({
      domain: 'alpha.test',
      username: 'alice',
      password,
    });
    expect(result.account.email).toBe('alice@alpha.test');
    expect(result.ownKey.published).toBe(true);
    // While it worked, the add-on was told each step in words.
    const steps = progress.filter((p) => p.task === 'setup');
    expect(steps.map((p) => p.done)).toEqual([0, 1, 2, 3]);
    expect(steps.every((p) => p.total === 4)).toBe(true);
    expect(steps[0]!.message).toContain('alpha.test');
    expect(steps[1]!.message).toMatch(/never leaves this computer/);

    const bob = await newAccount(alpha, 'bob');
    await uploadKey(alpha, bob, (await makeKey(bob.address)).publicKey);
    const subject = `Protected subject ${randomBytes(3).toString('hex')}`;
    await deliverMail(alpha, {
      from: bob.address,
      to: 'alice@alpha.test',
      subject,
      text: 'hello alice',
    });

    const message = await waitFor(
      'the message in the local INBOX',
      async () => (await localInbox(result)).find((m) => m.subject === subject),
      60_000,
      500,
    );
    expect(message.source).toContain('hello alice');
    expect(message.source).toMatch(/X-Leap-Encryption: stored/i);
    // The add-on was told how the sync went, in figures and in words.
    const finished = await waitFor(
      'a progress event saying all mail, with the new message, is here',
      async () =>
        progress.find(
          (p) => p.message === 'alice@alpha.test: all mail is here.' && (p.total ?? 0) > 0,
        ),
      30_000,
      200,
    );
    expect(finished).toMatchObject({ task: 'sync', done: finished.total });

    // Restart: the host comes back with only the device key, no password.
    await first.service.stopAll();
    const again = newService(first.dataDir);
    await again.service.resumeAll();
    expect(again.service.status().accounts).toEqual([
      { email: 'alice@alpha.test', state: expect.stringMatching(/syncing|connected/) },
    ]);
    expect((await localInbox(result)).some((m) => m.subject === subject)).toBe(true);
    await again.service.stopAll();
  });

  it('on a second device recovers the storage secret from the password and uses the same key', async () => {
    const device1 = newService();
    const one = await device1.service.signUp({ domain: 'alpha.test', username: 'carol', password });
    await device1.service.stopAll();
    const device2 = newService(undefined, randomBytes(32).toString('base64'));
    const two = await device2.service.logIn({ domain: 'alpha.test', username: 'carol', password });
    expect(two.ownKey.fingerprint).toBe(one.ownKey.fingerprint);
    await device2.service.stopAll();
  });

  it('refuses to resume with another device key, and says to log in again', async () => {
    const device = newService();
    await device.service.signUp({ domain: 'alpha.test', username: 'dave', password });
    await device.service.stopAll();
    const stranger = newService(device.dataDir, randomBytes(32).toString('base64'));
    await stranger.service.resumeAll();
    const status = stranger.service.status();
    expect(status.accounts[0]?.state).toBe('needs_login');
    expect(status.lastError?.message).toBeTruthy();
  });
});
