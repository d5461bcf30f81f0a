/**
 * A legacy (non-LEAP) account: servers found through the provider's autoconfig file, the
 * password checked and kept only wrapped, plaintext mail stored locally and replaced upstream
 * by a copy encrypted to the user, and mail sent through the provider's own SMTP server.
 * Real Dovecot (TLS, passwd-file), a real TLS SMTP server, all on loopback.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCa } from '../../provider/src/ca/index.js';
import { startDovecot, type DovecotInstance } from '../../provider/src/dovecot/index.js';
import { AccountService } from '../../native-host/src/account/index.js';
import { createFileLogger } from '../../native-host/src/log/index.js';
import { mapResolver } from '../../native-host/src/net/index.js';
import type { SetupResult } from '../../shared/src/rpc.js';
import { waitFor } from '../helpers/wait.js';

/** The host's loopback certificate from the account spec (DER, base64) as PEM. */
const certificatePem = (result: SetupResult) =>
  new X509Certificate(Buffer.from(result.account.certificate, 'base64')).toString();

const EMAIL = 'lena@legacy.test';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('legacy IMAP/SMTP account', () => {
  const password = `legacy-${randomBytes(8).toString('hex')}`;
  let scratch: string;
  let dovecot: DovecotInstance;
  let smtp: SMTPServer;
  let autoconfig: Server;
  let service: AccountService;
  let dataDir: string;
  const relayed: string[] = [];
  let result: SetupResult;
  const setupSteps: string[] = [];

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'lb-legacy-'));
    chmodSync(scratch, 0o711);
    const ca = await ensureCa(join(scratch, 'tls'), 'legacy.test', ['127.0.0.1']);
    chmodSync(join(scratch, 'tls', 'ca'), 0o755);
    chmodSync(ca.serverKeyPath, 0o644); // Dovecot reads it after dropping privileges
    dovecot = await startDovecot({
      dataDir: join(scratch, 'dovecot'),
      auth: { kind: 'passwd-file', users: [{ user: EMAIL, password }] },
      tls: { certPath: ca.serverCertPath, keyPath: ca.serverKeyPath },
    });
    smtp = new SMTPServer({
      secure: true,
      cert: ca.serverCertPem,
      key: ca.serverKeyPem,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _s, cb) {
        cb(auth.username === EMAIL && auth.password === password ? null : new Error('bad'), {
          user: EMAIL,
        });
      },
      onData(stream, _s, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          relayed.push(Buffer.concat(chunks).toString('utf8'));
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    const xml = `<?xml version="1.0"?><clientConfig version="1.1"><emailProvider id="legacy.test">
      <incomingServer type="imap"><hostname>imap.legacy.test</hostname><port>143</port><socketType>plain</socketType></incomingServer>
      <incomingServer type="imap"><hostname>imap.legacy.test</hostname><port>${dovecot.imapsPort}</port><socketType>SSL</socketType><username>%EMAILADDRESS%</username></incomingServer>
      <outgoingServer type="smtp"><hostname>smtp.legacy.test</hostname><port>${smtpPort}</port><socketType>SSL</socketType></outgoingServer>
      </emailProvider></clientConfig>`;
    autoconfig = createServer({ cert: ca.serverCertPem, key: ca.serverKeyPem }, (req, res) => {
      if (req.url?.startsWith('/.well-known/autoconfig/mail/config-v1.1.xml')) res.end(xml);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => autoconfig.listen(0, '127.0.0.1', () => r()));
    const origin = `https://127.0.0.1:${(autoconfig.address() as AddressInfo).port}`;
    const resolver = mapResolver({
      'legacy.test': { origin, ca: ca.caCertPem },
      'autoconfig.legacy.test': { origin: 'https://127.0.0.1:1', ca: ca.caCertPem },
      'imap.legacy.test': { origin: 'https://127.0.0.1', ca: ca.caCertPem },
      'smtp.legacy.test': { origin: 'https://127.0.0.1', ca: ca.caCertPem },
    });
    dataDir = join(scratch, 'host');
    service = new AccountService({
      dataDir,
      logger: createFileLogger(join(dataDir, 'logs', 'host.log'), 'info'),
      resolver,
      onProgress: (p) => p.task === 'setup' && setupSteps.push(p.message),
    });
    service.setDeviceKey(randomBytes(32).toString('base64'));
  });

  afterAll(async () => {
    await service?.stopAll();
    await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
    autoconfig?.close();
    await dovecot?.stop();
    if (scratch && !process.env.LEAPBIRD_KEEP_E2E)
      rmSync(scratch, { recursive: true, force: true });
  });

  it('finds the servers through autoconfig, preferring TLS and skipping plaintext ones', async () => {
    const found = await service.discover(EMAIL);
    expect(found).toMatchObject({
      imap: { host: 'imap.legacy.test', port: dovecot.imapsPort, security: 'tls' },
      smtp: { host: 'smtp.legacy.test', security: 'tls' },
    });
  });

  it('refuses a wrong password with a sentence, and keeps nothing', async () => {
    const found = (await service.discover(EMAIL))!;
    await expect(
      service.setUpLegacy({ email: EMAIL, password: 'wrong', imap: found.imap, smtp: found.smtp }),
    ).rejects.toMatchObject({
      code: 'wrong_password',
    });
    expect(service.registry.list()).toEqual([]);
  });

  it(
    'keeps plaintext mail locally, replaces the upstream copy with an encrypted one, and sends',
    { timeout: 90_000 },
    async () => {
      const found = (await service.discover(EMAIL))!;
      result = await service.setUpLegacy({
        email: EMAIL,
        password,
        imap: found.imap,
        smtp: found.smtp,
      });
      expect(result.account.email).toBe(EMAIL);
      // The refused attempt before said its first step too; this one said both.
      expect(setupSteps.slice(-2)).toEqual([
        'Checking your password with imap.legacy.test…',
        'Creating your encryption key and starting the first sync…',
      ]);

      // Someone's plaintext mail lands at the legacy provider.
      const subject = `Plain old mail ${randomBytes(3).toString('hex')}`;
      const upstream = new ImapFlow({
        host: '127.0.0.1',
        port: dovecot.imapsPort!,
        secure: true,
        tls: {
          servername: 'imap.legacy.test',
          ca: readFileSync(join(scratch, 'tls', 'ca', 'ca.crt'), 'utf8'),
        },
        auth: { user: EMAIL, pass: password },
        logger: false,
      });
      await upstream.connect();
      await upstream.append(
        'INBOX',
        `From: Old Friend <old@elsewhere.test>\r\nTo: ${EMAIL}\r\nSubject: ${subject}\r\nMessage-ID: <m1@elsewhere.test>\r\n\r\nNo crypto here.\r\n`,
      );

      const localSubjects = async () => {
        const local = new ImapFlow({
          host: '127.0.0.1',
          port: result.account.imap.port,
          // The host's own certificate, as Thunderbird pins it.
          secure: true,
          tls: { ca: certificatePem(result) },
          auth: { user: result.account.username, pass: result.account.password },
          logger: false,
        });
        await local.connect();
        try {
          const lock = await local.getMailboxLock('INBOX');
          try {
            const exists = local.mailbox ? local.mailbox.exists : 0;
            return exists
              ? (await local.fetchAll('1:*', { envelope: true })).map((m) => m.envelope?.subject)
              : [];
          } finally {
            lock.release();
          }
        } finally {
          await local.logout();
        }
      };
      await waitFor(
        'the message in the local INBOX',
        async () => (await localSubjects()).includes(subject),
        25_000,
        500,
      );

      // Upstream, the plaintext copy is gone; what is there is encrypted to the user.
      await waitFor(
        'the upstream copy to be replaced',
        async () => {
          const lock = await upstream.getMailboxLock('INBOX');
          try {
            const all = await upstream.fetchAll('1:*', { source: true }).catch(() => []);
            const text = all.map((m) => m.source?.toString('utf8') ?? '').join('\n');
            return (
              all.length >= 1 &&
              !text.includes('No crypto here.') &&
              text.includes('multipart/encrypted')
            );
          } finally {
            lock.release();
          }
        },
        25_000,
        500,
      );
      await upstream.logout();

      // Sending goes through the provider's SMTP with the user's password; no key for the
      // recipient, so it is signed only.
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: result.account.smtp.port,
        secure: true,
        tls: { ca: certificatePem(result) },
        auth: { user: result.account.username, pass: result.account.password },
      });
      await transport.sendMail({
        from: EMAIL,
        to: 'someone@elsewhere.test',
        subject: 'Signed hello',
        text: 'hi',
      });
      const sent = await waitFor(
        'the relayed message',
        () => relayed.find((m) => m.includes('multipart/signed')),
        30_000,
      );
      expect(sent).toContain('Signed hello');
    },
  );

  it('keeps the legacy password only encrypted on disk', () => {
    const leaks = filesUnder(dataDir).filter((f) => readFileSync(f).includes(password));
    expect(leaks).toEqual([]);
  });
});
