/**
 * The foundation end to end, in a real headless Thunderbird: the add-on starts the native
 * host, they exchange typed pings, the host has the add-on create an account that points
 * at a real Dovecot on loopback (standing in for the host's own IMAP server, over TLS with a
 * pinned certificate like the host's), Thunderbird logs in there, and a message composed in Thunderbird reaches an SMTP listener.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotInstance } from '../../provider/src/dovecot/index.js';
import { ensureLocalTls } from '../../native-host/src/tls/index.js';
import type { AccountSpec } from '../../shared/src/rpc.js';
import { ThunderbirdRun } from '../helpers/thunderbird.js';
import { waitFor } from '../helpers/wait.js';

interface Received {
  from: string;
  to: string[];
  raw: string;
  user: string | undefined;
}

describe('Thunderbird ↔ add-on ↔ native host', () => {
  const email = 'alice@alpha.test';
  const password = randomBytes(12).toString('hex');
  let scratch: string;
  let dovecot: DovecotInstance;
  let smtp: SMTPServer;
  let smtpPort: number;
  const received: Received[] = [];
  let tb: ThunderbirdRun;
  let account: AccountSpec;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'lb-bridge-'));
    chmodSync(scratch, 0o711); // Dovecot's unprivileged auth process reads below it
    // A certificate made like the host's: the account pins it, so Thunderbird must trust
    // exactly it on these two ports.
    const tls = await ensureLocalTls(scratch);
    const keyPath = join(scratch, 'tls', 'local.key');
    chmodSync(join(scratch, 'tls'), 0o755);
    chmodSync(keyPath, 0o644); // Dovecot reads it after dropping privileges
    dovecot = await startDovecot({
      dataDir: join(scratch, 'dovecot'),
      auth: { kind: 'passwd-file', users: [{ user: email, password }] },
      tls: { certPath: join(scratch, 'tls', 'local.crt'), keyPath },
    });
    smtp = new SMTPServer({
      secure: true,
      key: tls.keyPem,
      cert: tls.certPem,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, callback) {
        if (auth.username === email && auth.password === password) callback(null, { user: email });
        else callback(new Error('Invalid username or password'));
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
            user: session.user as string | undefined,
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
    smtpPort = (smtp.server.address() as AddressInfo).port;
    account = {
      email,
      fullName: 'Alice Example',
      username: email,
      password,
      imap: { host: '127.0.0.1', port: dovecot.imapsPort! },
      smtp: { host: '127.0.0.1', port: smtpPort },
      certificate: tls.certBase64,
    };
    tb = await ThunderbirdRun.start({ name: 'bridge' });
  });

  afterAll(async () => {
    await tb?.stop();
    await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
    await dovecot?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('starts the host and exchanges typed pings both ways', async () => {
    const control = await tb.control();
    const hello = await tb.waitForHostEvent('addon.hello');
    expect(hello.addonVersion).toBe('0.1.0');
    expect(String(hello.thunderbirdVersion)).toMatch(/^\d+\./);

    // add-on → host: the add-on pinged after hello and reported the answer back.
    await tb.waitForHostEvent('addon.ping_ok');
    expect(tb.hostLog().some((e) => e.event === 'rpc.ping')).toBe(true);

    // host → add-on
    const nonce = randomBytes(8).toString('hex');
    await expect(control.call('addon.ping', { nonce })).resolves.toEqual({
      nonce,
      addonVersion: '0.1.0',
    });
  });

  it('creates exactly one account pointing at the IMAP server, and Thunderbird logs in there', async () => {
    const control = await tb.control();
    const first = await control.call('accounts.ensure', account);
    expect(first.created).toBe(true);
    const again = await control.call('accounts.ensure', account);
    expect(again).toEqual({ accountId: first.accountId, created: false });
    await expect(control.call('accounts.find', { email })).resolves.toEqual({
      accountId: first.accountId,
    });

    await waitFor('Thunderbird to log in to Dovecot', () =>
      readFileSync(dovecot.logPath, 'utf8').includes(`Login: user=<${email}>`),
    );
    // The profile has one IMAP server on 127.0.0.1 for this user, not two.
    const prefs = readFileSync(join(tb.profile, 'prefs.js'), 'utf8');
    const imapServers = prefs.match(/mail\.server\.server\d+\.type", "imap"/g) ?? [];
    expect(imapServers).toHaveLength(1);
  });

  it('sends a message composed in Thunderbird through the configured SMTP server', async () => {
    const control = await tb.control();
    const subject = `Hello from Thunderbird ${randomBytes(4).toString('hex')}`;
    await control.call('compose.send', {
      from: email,
      to: ['bob@beta.test'],
      subject,
      body: 'This went through compose.beginNew and compose.sendMessage.',
    });
    const message = await waitFor('the SMTP listener to receive the message', () =>
      received.find((m) => m.raw.includes(subject)),
    );
    expect(message.user).toBe(email);
    expect(message.from).toBe(email);
    expect(message.to).toEqual(['bob@beta.test']);
    expect(message.raw).toContain('This went through compose.beginNew and compose.sendMessage.');
  });

  it('removes the account again', async () => {
    const control = await tb.control();
    await expect(control.call('accounts.remove', { email })).resolves.toEqual({ removed: true });
    await expect(control.call('accounts.find', { email })).resolves.toEqual({ accountId: null });
  });

  it('quits cleanly when asked', async () => {
    const result = await tb.stop();
    expect(result.clean).toBe(true);
    expect(tb.hostLog().some((e) => e.event === 'host.stop')).toBe(true);
  });
});
