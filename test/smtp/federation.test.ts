/**
 * Alice (host on alpha.test, 127.0.0.2) writes to people on beta.test (127.0.0.3) through
 * her local submission server, the outbox and alpha's real relay; beta's real MX and
 * Dovecot deliver. What arrives is read back over IMAP and opened as the recipient's host
 * (or GnuPG) would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as openpgp from 'openpgp';
import { generateOwnKey, openMessage, type OwnKey } from '../../native-host/src/crypto/index.js';
import type { ResolverMap } from '../../provider/src/index.js';
import {
  allFiles,
  composeMessage,
  decryptWith,
  inbox,
  newAccount,
  startTestProvider,
  uploadKey,
  type MailAccount,
  type TestProvider,
} from '../provider/helpers.js';
import { TempGpg } from '../crypto/gpg.js';
import { filesUnder, header, localMessages, startHost, submit, type TestHost } from './helpers.js';

const resolver: ResolverMap = {};
let alpha: TestProvider;
let beta: TestProvider;
let alice: MailAccount;
let host: TestHost;
const people: Record<string, { account: MailAccount; key: OwnKey }> = {};

/** A beta.test user with a key at the provider (so beta's MX seals mail to it on receipt). */
async function betaUser(login: string) {
  const account = await newAccount(beta, login);
  const key = await generateOwnKey({ address: account.address });
  expect((await uploadKey(beta, account, key.publicArmored)).status).toBe(200);
  people[login] = { account, key };
  return people[login];
}

/**
 * Opens what a beta user received. Beta's MX seals plaintext on receipt (and leaves mail
 * already encrypted to the user as it is): `sent` is the message as Alice's host sent it.
 */
async function received(login: string, atLeast = 1) {
  const { account, key } = people[login]!;
  const sources = await inbox(beta, account, atLeast);
  expect(sources.length).toBeGreaterThanOrEqual(atLeast);
  const opened = [];
  for (const source of sources) {
    let sent = source;
    if (header(source, 'from')?.includes('encrypted@beta.test')) {
      sent = await decryptWith(key.privateArmored, source);
    }
    const inner = await openMessage(sent, {
      decryptionKeys: [key.privateArmored],
      senderKeys: () => [host.ownPublicKey],
    });
    if (!inner.ok) throw new Error(inner.error.message);
    opened.push({ sent, ...inner.value });
  }
  return opened;
}

beforeAll(async () => {
  alpha = await startTestProvider('alpha.test', '127.0.0.2', { resolver });
  beta = await startTestProvider('beta.test', '127.0.0.3', { resolver });
  resolver['alpha.test'] = {
    mx: `127.0.0.2:${alpha.ports.mx}`,
    caFingerprint: alpha.caFingerprint,
  };
  resolver['beta.test'] = { mx: `127.0.0.3:${beta.ports.mx}`, caFingerprint: beta.caFingerprint };
  alice = await newAccount(alpha, 'alice');
  host = await startHost(alice.address, {
    relay: async () => ({
      host: alpha.host,
      port: alpha.ports.submission,
      secure: true,
      servername: alpha.domain,
      ca: alpha.caCertPem,
      user: alice.address,
      accessToken: async () => alice.token,
    }),
  });
  for (const login of ['bob', 'carol', 'dave', 'erin']) await betaUser(login);
  // Alice's host knows bob's, dave's and erin's keys; carol's it has never seen.
  for (const login of ['bob', 'dave', 'erin']) {
    const { account, key } = people[login]!;
    const outcome = await host.keys.consider(account.address, key.publicArmored, 'manual');
    expect(outcome.accepted).toBe(true);
  }
}, 60_000);

afterAll(async () => {
  await host?.cleanup();
  await alpha?.cleanup();
  await beta?.cleanup();
});

describe('a recipient whose key is known', () => {
  it('receives the message encrypted and signed, with the real Subject and Message-Id inside', async () => {
    const bob = people.bob!.account;
    const raw = Buffer.concat([
      Buffer.from(
        'In-Reply-To: <seeds-1@beta.test>\r\nReferences: <seeds-0@beta.test> <seeds-1@beta.test>\r\n',
      ),
      await composeMessage({
        from: alice.address,
        to: bob.address,
        subject: 'Plan for the rooftop garden',
        text: 'The seeds arrive on Thursday: tomatoes, basil, marigolds.',
      }),
    ]);
    const messageId = header(raw, 'message-id');
    const reply = await submit(host, { from: alice.address, to: [bob.address] }, raw);
    expect(reply).toContain('250');
    await host.outbox.flush();
    expect(host.outbox.list()).toEqual([]);

    const [mail] = await received('bob');
    expect(header(mail!.sent, 'content-type')).toMatch(/^multipart\/encrypted/);
    expect(header(mail!.sent, 'subject')).toBe('...');
    expect(header(mail!.sent, 'autocrypt')).toContain(`addr=${alice.address}`);
    expect(mail!.encryption).toBe('pgp-mime');
    expect(mail!.verification.status).toBe('valid');
    expect(mail!.verification.signerAddress).toBe(alice.address);
    expect(header(mail!.message, 'subject')).toBe('Plan for the rooftop garden');
    expect(header(mail!.message, 'message-id')).toBe(messageId);
    // Threading survives, inside and outside.
    for (const m of [mail!.sent, mail!.message]) {
      expect(header(m, 'in-reply-to')).toBe('<seeds-1@beta.test>');
      expect(header(m, 'references')).toBe('<seeds-0@beta.test> <seeds-1@beta.test>');
    }
    expect(header(mail!.sent, 'message-id')).toBe(messageId);
    expect(mail!.message.toString()).toContain('tomatoes, basil, marigolds');
    expect(mail!.message.toString()).not.toContain('application/pgp-keys');

    // Alice's Sent copy is stored locally, encrypted to her, and queued for the upstream append.
    const sent = await localMessages(host.store, 'Sent');
    expect(sent).toHaveLength(1);
    expect(header(sent[0]!, 'content-type')).toMatch(/^multipart\/encrypted/);
    const own = await host.keys.ownKeys();
    const readable = await openMessage(sent[0]!, {
      decryptionKeys: own.map((k) => k.privateArmored),
    });
    expect(readable.ok && header(readable.value.message, 'subject')).toBe(
      'Plan for the rooftop garden',
    );
    expect(
      host.store.queue
        .pending()
        .some((c) => c.kind === 'append' && (c.payload as { mailbox: string }).mailbox === 'Sent'),
    ).toBe(true);

    // Neither provider's files (Dovecot's mail store, spools, databases, logs) hold plaintext.
    for (const file of [...allFiles(alpha.dataDir), ...allFiles(beta.dataDir)]) {
      expect(file.includes('rooftop garden')).toBe(false);
      expect(file.includes('marigolds')).toBe(false);
    }
    // Nor is anything of it left in the outbox.
    expect(filesUnder(`${host.dir}/account/outbox`)).toEqual([]);
  });

  it('gives each Bcc recipient a copy of their own that the others cannot see them in', async () => {
    const [bob, dave, erin] = ['bob', 'dave', 'erin'].map((l) => people[l]!);
    const raw = await composeMessage({
      from: alice.address,
      to: bob!.account.address,
      subject: 'Board minutes',
      text: 'Minutes attached.',
    });
    await submit(
      host,
      {
        from: alice.address,
        to: [bob!.account.address, dave!.account.address, erin!.account.address],
      },
      raw,
    );
    const queued = host.outbox.list();
    expect(queued[0]!.deliveries.map((d) => d.recipients)).toEqual([
      [bob!.account.address],
      [dave!.account.address],
      [erin!.account.address],
    ]);
    await host.outbox.flush();

    const bobs = (await received('bob', 2)).at(-1)!;
    expect(bobs.verification.status).toBe('valid');
    const bobView = bobs.sent.toString() + bobs.message.toString();
    expect(bobView).not.toContain('dave@');
    expect(bobView).not.toContain('erin@');
    // Bob's copy cannot be opened with Dave's key: it was not encrypted to him.
    const withDaves = await openMessage(bobs.sent, { decryptionKeys: [dave!.key.privateArmored] });
    expect(withDaves.ok).toBe(false);
    const [daves] = await received('dave');
    expect(header(daves!.message, 'subject')).toBe('Board minutes');
    expect(daves!.message.toString()).not.toContain('erin@');
  });

  it("carries the sender's public key as an attachment when the account says so", async () => {
    const bob = people.bob!.account;
    host.settings.attachPublicKey = true;
    try {
      const raw = await composeMessage({
        from: alice.address,
        to: bob.address,
        subject: 'My key, attached',
        text: 'So your mail program can file it.',
      });
      await submit(host, { from: alice.address, to: [bob.address] }, raw);
      await host.outbox.flush();
    } finally {
      host.settings.attachPublicKey = false;
    }
    const mail = (await received('bob', 3)).at(-1)!;
    expect(header(mail.message, 'subject')).toBe('My key, attached');
    expect(mail.message.toString()).toContain(`${alice.address}-email-key.asc`);
    expect(mail.message.toString()).toContain('Content-Type: application/pgp-keys');
    expect(mail.message.toString()).toContain('-----BEGIN PGP PUBLIC KEY BLOCK-----');
  });
});

describe('a recipient without a key', () => {
  it('gets the message signed only', async () => {
    const carol = people.carol!.account;
    const raw = await composeMessage({
      from: alice.address,
      to: carol.address,
      subject: 'Lunch on Friday?',
      text: 'The usual place at noon.',
    });
    await submit(host, { from: alice.address, to: [carol.address] }, raw);
    await host.outbox.flush();
    const [mail] = await received('carol');
    expect(header(mail!.sent, 'content-type')).toMatch(/^multipart\/signed/);
    expect(mail!.encryption).toBe('none');
    expect(mail!.verification.status).toBe('valid');
    expect(header(mail!.message, 'subject')).toBe('Lunch on Friday?');
  });

  it('is refused with a message naming them when the message is "encrypted only"', async () => {
    const [bob, carol] = [people.bob!.account, people.carol!.account];
    const raw = Buffer.concat([
      Buffer.from('X-Leap-Encrypted-Only: yes\r\n'),
      await composeMessage({
        from: alice.address,
        to: `${bob.address}, ${carol.address}`,
        subject: 'Salaries 2027',
        text: 'Confidential.',
      }),
    ]);
    const refused = submit(host, { from: alice.address, to: [bob.address, carol.address] }, raw);
    await expect(refused).rejects.toMatchObject({ responseCode: 550 });
    await expect(refused).rejects.toThrow(
      `no usable key was found for ${carol.address}. Remove them, or turn off "encrypted only"`,
    );
    expect(host.outbox.list()).toEqual([]);
    expect(filesUnder(`${host.dir}/account/outbox`)).toEqual([]);
  });

  it('is refused when the account sends only encrypted mail', async () => {
    const carol = people.carol!.account;
    host.settings.encryptedOnly = true;
    try {
      const raw = await composeMessage({
        from: alice.address,
        to: carol.address,
        subject: 'Anything',
        text: 'Anything.',
      });
      const refused = submit(host, { from: alice.address, to: [carol.address] }, raw);
      await expect(refused).rejects.toMatchObject({ responseCode: 550 });
      await expect(refused).rejects.toThrow(`no usable key was found for ${carol.address}.`);
    } finally {
      host.settings.encryptedOnly = false;
    }
    expect(host.outbox.list()).toEqual([]);
  });
});

describe('GnuPG at either end', () => {
  it('gpg decrypts and verifies what arrived, and the control header never left', async () => {
    const bob = people.bob!;
    const raw = Buffer.concat([
      Buffer.from('X-Leap-Encrypted-Only: yes\r\n'),
      await composeMessage({
        from: alice.address,
        to: bob.account.address,
        subject: 'Read me with GnuPG',
        text: 'Hello from the host.',
      }),
    ]);
    await submit(host, { from: alice.address, to: [bob.account.address] }, raw);
    await host.outbox.flush();
    const mail = (await received('bob', 4)).at(-1)!;
    expect(mail.message.toString()).not.toMatch(/x-leap/i);

    const gpg = await TempGpg.create();
    try {
      await gpg.run(['--import'], bob.key.privateArmored);
      await gpg.run(['--import'], host.ownPublicKey);
      const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(
        mail.sent.toString(),
      )![0];
      const result = await gpg.run(['--decrypt'], armored);
      expect(result.code).toBe(0);
      expect(result.status.some((l) => l.includes('GOODSIG'))).toBe(true);
      expect(result.stdout.toString()).toContain('Subject: Read me with GnuPG');
      expect(result.stdout.toString()).toContain('Hello from the host.');
    } finally {
      await gpg.dispose();
    }
  });

  it('passes a PGP/MIME message made by gpg through untouched, and the recipient reads it', async () => {
    const bob = people.bob!;
    const gpg = await TempGpg.create();
    let made: string;
    try {
      // Alice's own Thunderbird OpenPGP (here gpg with her key) encrypted it already.
      await gpg.run(['--import'], (await host.keys.ownKeys())[0]!.privateArmored);
      await gpg.run(['--import'], bob.key.publicArmored);
      const inner = [
        'Content-Type: text/plain; charset=utf-8; protected-headers="v1"',
        'Subject: Sealed by GnuPG',
        `From: ${alice.address}`,
        '',
        'Encrypted before it reached the host.',
        '',
      ].join('\r\n');
      const out = await gpg.run(
        ['--armor', '--encrypt', '--sign', '-r', bob.key.fingerprint, '-u', alice.address],
        inner,
      );
      expect(out.code).toBe(0);
      made = out.stdout.toString().trim();
    } finally {
      await gpg.dispose();
    }
    const body = [
      'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)',
      '--b1',
      'Content-Type: application/pgp-encrypted',
      '',
      'Version: 1',
      '',
      '--b1',
      'Content-Type: application/octet-stream; name="encrypted.asc"',
      '',
      made,
      '',
      '--b1--',
      '',
    ].join('\r\n');
    const raw = Buffer.from(
      [
        `From: ${alice.address}`,
        `To: ${bob.account.address}`,
        'Subject: ...',
        'Message-ID: <gpg-made-1@alpha.test>',
        'MIME-Version: 1.0',
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"',
        '',
        body,
      ].join('\r\n'),
    );
    await submit(host, { from: alice.address, to: [bob.account.address] }, raw);
    expect(host.outbox.list()[0]!.protection).toBe('passthrough');
    await host.outbox.flush();
    const mail = (await received('bob', 5)).at(-1)!;
    expect(mail.sent.toString()).toContain(made.replace(/\r?\n/g, '\r\n'));
    expect(header(mail.sent, 'message-id')).toBe('<gpg-made-1@alpha.test>');
    expect(mail.verification.status).toBe('valid');
    expect(header(mail.message, 'subject')).toBe('Sealed by GnuPG');
    expect(mail.message.toString()).toContain('Encrypted before it reached the host.');
  });
});

describe('a message that only looks encrypted', () => {
  it('forwards an inline PGP block with her own words: encrypted and signed, not passed through', async () => {
    const bob = people.bob!;
    const before = (await inbox(beta, bob.account)).length;
    // Someone's ciphertext, as Alice received it and now forwards it with a comment.
    const armored = await openpgp.encrypt({
      message: await openpgp.createMessage({ text: 'Old secret.' }),
      encryptionKeys: await openpgp.readKey({ armoredKey: bob.key.publicArmored }),
    });
    const comment = 'Bob, can you read this? The door code is 4711.';
    const raw = Buffer.concat([
      Buffer.from('X-Leap-Encrypted-Only: yes\r\n'),
      await composeMessage({
        from: alice.address,
        to: bob.account.address,
        subject: 'Fwd: can you read this',
        text: `${comment}\r\n\r\n${armored}\r\n`,
      }),
    ]);
    await submit(host, { from: alice.address, to: [bob.account.address] }, raw);
    expect(host.outbox.list().at(-1)!.protection).not.toBe('passthrough');
    await host.outbox.flush();
    const mail = (await received('bob', before + 1)).at(-1)!;
    // What left the machine carries her words only inside the encryption.
    expect(mail.sent.toString()).not.toContain('door code');
    expect(mail.encryption).not.toBe('none');
    expect(mail.verification.status).toBe('valid');
    expect(mail.message.toString()).toContain(comment);
  });
});
