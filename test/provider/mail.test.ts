import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allFiles,
  armoredPart,
  composeMessage,
  decryptWith,
  inbox,
  makeKey,
  newAccount,
  sendToMx,
  startTestProvider,
  uploadKey,
  type MailAccount,
  type TestProvider,
} from './helpers.js';

const MAX_BYTES = 300_000;

/** Talks raw SMTP: sends each line, returns the server's replies (bounded wait). */
function smtpTalk(p: TestProvider, lines: (string | Buffer)[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect({ host: p.host, port: p.ports.mx });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(text);
    }, 3000);
    let sent = false;
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!sent) {
        sent = true;
        for (const line of lines) socket.write(line);
        socket.write('QUIT\r\n');
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', reject);
  });
}

describe('incoming mail is encrypted before it is stored', () => {
  let p: TestProvider;
  let alice: MailAccount;
  let aliceKey: { privateKey: string; publicKey: string };

  beforeAll(async () => {
    p = await startTestProvider('alpha.test', '127.0.0.2', {
      limits: { maxMessageBytes: MAX_BYTES },
    });
    alice = await newAccount(p, 'alice');
    aliceKey = await makeKey(alice.address);
    expect((await uploadKey(p, alice, aliceKey.publicKey)).status).toBe(200);
  });
  afterAll(async () => p?.cleanup());

  it('stores a message from an outside sender so that only the key holder can read it', async () => {
    const subject = 'Quarterly figures zebra-9431';
    const body = 'The secret body text walrus-2718 that only Alice may read.';
    const sender = 'outsider@elsewhere.example';
    const raw = await composeMessage({ from: sender, to: alice.address, subject, text: body });
    await sendToMx(p, sender, [alice.address], raw);

    const [stored] = await inbox(p, alice, 1);
    expect(stored).toBeDefined();
    const source = stored as Buffer;
    expect(source.toString()).toMatch(
      /^Content-Type: multipart\/encrypted; protocol="application\/pgp-encrypted"/m,
    );
    // Nothing in Dovecot's whole mail directory reveals subject, body or sender.
    const files = allFiles(p.dovecot.mailDir);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      for (const secret of [subject, body, sender, 'zebra-9431', 'walrus-2718'])
        expect(file.includes(secret)).toBe(false);
    }
    // The original Message-ID and Date stay outside, for threading and sorting.
    for (const name of ['Message-ID', 'Date']) {
      const value = new RegExp(`^${name}: (.+)$`, 'im').exec(raw.toString())?.[1]?.trim() as string;
      expect(source.toString()).toMatch(
        new RegExp(`^${name}: ${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'im'),
      );
    }

    // Alice's private key gives back the original, byte for byte.
    expect((await decryptWith(aliceKey.privateKey, source)).equals(raw)).toBe(true);

    // So does GnuPG.
    const gnupgHome = mkdtempSync(join(tmpdir(), 'gnupg-'));
    try {
      const keyFile = join(gnupgHome, 'alice.asc');
      const msgFile = join(gnupgHome, 'msg.asc');
      writeFileSync(keyFile, aliceKey.privateKey);
      writeFileSync(msgFile, armoredPart(source));
      const env = { ...process.env, GNUPGHOME: gnupgHome };
      execFileSync('gpg', ['--batch', '--import', keyFile], {
        env,
        stdio: 'ignore',
        timeout: 20_000,
      });
      const plain = execFileSync('gpg', ['--batch', '--decrypt', msgFile], {
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 20_000,
      });
      expect(plain.equals(raw)).toBe(true);
    } finally {
      execFileSync('gpgconf', ['--kill', 'all'], {
        env: { ...process.env, GNUPGHOME: gnupgHome },
        stdio: 'ignore',
      });
      rmSync(gnupgHome, { recursive: true, force: true });
    }
  });

  /** An RFC 3156 message as another client would send it, encrypted to `armoredKey`. */
  async function sealedMessage(armoredKey: string, messageId: string): Promise<Buffer> {
    const inner = await openpgp.encrypt({
      message: await openpgp.createMessage({
        text: 'Content-Type: text/plain\r\n\r\nalready sealed\r\n',
      }),
      encryptionKeys: await openpgp.readKey({ armoredKey }),
    });
    return Buffer.from(
      [
        'From: bob@elsewhere.example',
        `To: ${alice.address}`,
        'Subject: ...',
        `Message-ID: <${messageId}>`,
        'MIME-Version: 1.0',
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"',
        '',
        '--b1',
        'Content-Type: application/pgp-encrypted',
        '',
        'Version: 1',
        '',
        '--b1',
        'Content-Type: application/octet-stream',
        '',
        inner.replace(/\r?\n/g, '\r\n').trimEnd(),
        '--b1--',
        '',
      ].join('\r\n'),
    );
  }

  it('stores a message already PGP/MIME-encrypted to the recipient as it came', async () => {
    const raw = await sealedMessage(aliceKey.publicKey, 'sealed-1@elsewhere.example');
    const before = (await inbox(p, alice)).length;
    await sendToMx(p, 'bob@elsewhere.example', [alice.address], raw);
    const after = await inbox(p, alice, before + 1);
    const stored = after.find((m) => m.includes('sealed-1@elsewhere.example')) as Buffer;
    expect(stored.includes(raw)).toBe(true);
  });

  it('encrypts a PGP/MIME message sealed to someone else like any other message', async () => {
    const stranger = await makeKey('stranger@elsewhere.example');
    const raw = await sealedMessage(stranger.publicKey, 'sealed-2@elsewhere.example');
    const before = (await inbox(p, alice)).length;
    await sendToMx(p, 'bob@elsewhere.example', [alice.address], raw);
    const after = await inbox(p, alice, before + 1);
    const stored = after.find((m) => m.includes('sealed-2@elsewhere.example')) as Buffer;
    expect(stored.includes(raw)).toBe(false);
    expect((await decryptWith(aliceKey.privateKey, stored)).equals(raw)).toBe(true);
  });

  it('holds mail for a user without a key, then delivers it encrypted when the key arrives', async () => {
    const bob = await newAccount(p, 'bob');
    const raw = await composeMessage({
      from: 'x@elsewhere.example',
      to: bob.address,
      subject: 'held-subject-4411',
      text: 'held body',
    });
    await sendToMx(p, 'x@elsewhere.example', [bob.address], raw);
    expect(await inbox(p, bob)).toHaveLength(0);
    const held = await p.store.heldFor(bob.id);
    expect(held).toHaveLength(1);
    // The spool copy is readable by the provider's user only.
    expect(statSync((held[0] as { path: string }).path).mode & 0o077).toBe(0);

    const key = await makeKey(bob.address);
    expect((await uploadKey(p, bob, key.publicKey)).status).toBe(200);
    const [stored] = await inbox(p, bob, 1);
    expect((await decryptWith(key.privateKey, stored as Buffer)).equals(raw)).toBe(true);
    expect(await p.store.heldFor(bob.id)).toHaveLength(0);
    expect(readdirSync(join(p.dataDir, 'spool'))).toHaveLength(0);
  });

  it('delivers held mail on the next sweep if the key arrived without triggering delivery', async () => {
    const dora = await newAccount(p, 'dora');
    const raw = await composeMessage({
      from: 'x@elsewhere.example',
      to: dora.address,
      subject: 'late',
      text: 'late body',
    });
    await sendToMx(p, 'x@elsewhere.example', [dora.address], raw);
    expect(await p.store.heldFor(dora.id)).toHaveLength(1);
    // As after a crash between storing the key and delivering: the key is there, the mail held.
    const key = await makeKey(dora.address);
    const fingerprint = (await openpgp.readKey({ armoredKey: key.publicKey })).getFingerprint();
    await p.store.setPublicKey(dora.id, key.publicKey, fingerprint);
    await p.sweepHeldMail();
    const [stored] = await inbox(p, dora, 1);
    expect((await decryptWith(key.privateKey, stored as Buffer)).equals(raw)).toBe(true);
    expect(await p.store.heldFor(dora.id)).toHaveLength(0);
  });

  it('bounces held mail after the hold time without quoting it, and deletes it', async () => {
    const carol = await newAccount(p, 'carol');
    const raw = await composeMessage({
      from: alice.address,
      to: carol.address,
      subject: 'never-read-7788',
      text: 'x',
    });
    await sendToMx(p, alice.address, [carol.address], raw);
    expect(await p.store.heldFor(carol.id)).toHaveLength(1);
    const before = (await inbox(p, alice)).length;

    await p.sweepHeldMail(Date.now() + 6 * 24 * 3600_000);
    expect(await p.store.heldFor(carol.id)).toHaveLength(0);
    expect(readdirSync(join(p.dataDir, 'spool'))).toHaveLength(0);
    const messages = await inbox(p, alice, before + 1);
    const bounce = await decryptWith(aliceKey.privateKey, messages[messages.length - 1] as Buffer);
    expect(bounce.toString()).toContain(
      `Subject: Undelivered mail: ${carol.address} has no encryption key`,
    );
    expect(bounce.toString()).not.toContain('never-read-7788');
  });

  it('refuses unknown users, other domains and oversized messages, storing nothing', async () => {
    const before = (await inbox(p, alice)).length;
    const raw = await composeMessage({
      from: 'x@elsewhere.example',
      to: 'ghost@alpha.test',
      subject: 's',
      text: 't',
    });
    await expect(sendToMx(p, 'x@elsewhere.example', ['ghost@alpha.test'], raw)).rejects.toThrow(
      /no such user/,
    );
    await expect(sendToMx(p, 'x@elsewhere.example', ['someone@beta.test'], raw)).rejects.toThrow(
      /Relaying .* denied/,
    );

    const big = await composeMessage({
      from: 'x@elsewhere.example',
      to: alice.address,
      subject: 'big',
      text: 'y'.repeat(MAX_BYTES + 10),
    });
    await expect(sendToMx(p, 'x@elsewhere.example', [alice.address], big)).rejects.toMatchObject({
      responseCode: 552,
    });
    expect(await inbox(p, alice)).toHaveLength(before);
  });

  it('answers 451, never 250, when Dovecot cannot store the message', async () => {
    const frida = await newAccount(p, 'frida');
    const key = await makeKey(frida.address);
    expect((await uploadKey(p, frida, key.publicKey)).status).toBe(200);
    // Her mail folder is there but Dovecot may not enter it: LMTP refuses after DATA.
    const home = join(p.dovecot.mailDir, 'alpha.test', 'frida');
    mkdirSync(home, { recursive: true, mode: 0o000 });
    chmodSync(home, 0o000);
    try {
      const raw = await composeMessage({
        from: 'x@elsewhere.example',
        to: frida.address,
        subject: 'not stored',
        text: 'the sender must keep this one',
      });
      await expect(sendToMx(p, 'x@elsewhere.example', [frida.address], raw)).rejects.toMatchObject({
        responseCode: 451,
      });
    } finally {
      chmodSync(home, 0o700);
    }
  });

  it('answers SMTP garbage with errors and keeps working', async () => {
    const before = (await inbox(p, alice)).length;
    const replies = await smtpTalk(p, [
      'EHLO garbage.test\r\n',
      'RCPT TO:<alice@alpha.test>\r\n',
      'DATA\r\n',
      'MAIL FROM:<not closed\r\n',
      'FOO BAR\r\n',
      Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a]),
    ]);
    expect(replies).toMatch(/^503 /m);
    expect(replies).toMatch(/^50[01] /m);
    expect(await inbox(p, alice)).toHaveLength(before);

    const raw = await composeMessage({
      from: 'x@elsewhere.example',
      to: alice.address,
      subject: 'after garbage',
      text: 'ok',
    });
    await sendToMx(p, 'x@elsewhere.example', [alice.address], raw);
    expect(await inbox(p, alice, before + 1)).toHaveLength(before + 1);
  });

  describe('submission relay', () => {
    function relay(auth: object) {
      return nodemailer.createTransport({
        host: p.host,
        port: p.ports.submission,
        secure: true,
        tls: { ca: p.caCertPem, servername: p.domain },
        auth,
        connectionTimeout: 10_000,
      } as never);
    }

    it('takes mail from a user logged in with the session token and delivers locally, encrypted', async () => {
      const dan = await newAccount(p, 'dan');
      const before = (await inbox(p, alice)).length;
      const raw = await composeMessage({
        from: dan.address,
        to: alice.address,
        subject: 'via relay 5150',
        text: 'hello',
      });
      for (const auth of [
        { user: dan.address, pass: dan.token },
        { type: 'OAuth2', user: dan.address, accessToken: dan.token },
      ]) {
        const transport = relay(auth);
        await transport.sendMail({ envelope: { from: dan.address, to: [alice.address] }, raw });
        transport.close();
      }
      const messages = await inbox(p, alice, before + 2);
      expect(messages).toHaveLength(before + 2);
      for (const m of messages.slice(before)) {
        expect(m.includes('via relay 5150')).toBe(false);
        expect((await decryptWith(aliceKey.privateKey, m)).equals(raw)).toBe(true);
      }
    });

    it('refuses a wrong token and a foreign sender address', async () => {
      const erin = await newAccount(p, 'erin');
      const raw = await composeMessage({
        from: erin.address,
        to: alice.address,
        subject: 's',
        text: 't',
      });
      const bad = relay({ user: erin.address, pass: 'not-a-token' });
      await expect(
        bad.sendMail({ envelope: { from: erin.address, to: [alice.address] }, raw }),
      ).rejects.toMatchObject({ responseCode: 535 });
      bad.close();
      const spoof = relay({ user: erin.address, pass: erin.token });
      await expect(
        spoof.sendMail({ envelope: { from: alice.address, to: [alice.address] }, raw }),
      ).rejects.toMatchObject({ responseCode: 553 });
      spoof.close();
    });
  });
});
