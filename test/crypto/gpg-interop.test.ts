/**
 * GnuPG 2.2 interoperability, both ways: our keys import into gpg, gpg decrypts and verifies
 * what we send, and we decrypt and verify PGP/MIME built around gpg's output the way
 * Thunderbird's built-in OpenPGP and Enigmail build it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encryptMessage,
  generateOwnKey,
  openMessage,
  renewOwnKey,
  signMessage,
  signMessageStream,
  type OwnKey,
} from '../../native-host/src/crypto/index.js';
import { toCRLF } from '../../native-host/src/crypto/mime.js';
import { bodyOf, header, multipartMessage, plainMessage, topParts } from './fixtures.js';
import { TempGpg } from './gpg.js';

let gpg: TempGpg;
let alice: OwnKey;
let bobFingerprint: string;
let bobPublic: string;

beforeAll(async () => {
  gpg = await TempGpg.create();
  alice = await generateOwnKey({ address: 'alice@alpha.test' });
  bobFingerprint = await gpg.generateKey('bob@beta.test');
  bobPublic = await gpg.exportPublic(bobFingerprint);
});

afterAll(async () => {
  await gpg?.dispose();
});

describe('keys in GnuPG', () => {
  it('imports a generated key, public and private, as an ed25519/cv25519 v4 key', async () => {
    const imported = await gpg.run(['--import'], alice.privateArmored);
    expect(imported.code).toBe(0);
    expect(imported.status.some((l) => l.includes('IMPORT_OK'))).toBe(true);
    const listing = (
      await gpg.run(['--with-colons', '--list-secret-keys', alice.fingerprint])
    ).stdout.toString();
    // Algorithm 22 = EdDSA (sign, certify), 18 = ECDH (encrypt), both on 255-bit curves.
    expect(listing).toMatch(/^sec:[^:]*:255:22:.*:scESC:/m);
    expect(listing).toMatch(/^ssb:[^:]*:255:18:.*:e:/m);
    expect(listing).toContain(`fpr:::::::::${alice.fingerprint}:`);
    expect(listing).toContain('alice@alpha.test');
  });

  it('takes a renewed key as the same key with the later expiry', async () => {
    const renewed = await renewOwnKey(alice.privateArmored, {
      now: new Date(Date.now() + 320 * 86_400_000),
    });
    expect(renewed.ok).toBe(true);
    if (!renewed.ok) return;
    const home = await TempGpg.create();
    try {
      await home.run(['--import'], alice.publicArmored);
      await home.run(['--import'], renewed.value.publicArmored);
      const listing = (
        await home.run(['--with-colons', '--list-keys', alice.fingerprint])
      ).stdout.toString();
      const primary = Number(/^pub:[^:]*:255:22:[^:]*:\d+:(\d+):/m.exec(listing)?.[1]);
      const subkey = Number(/^sub:[^:]*:255:18:[^:]*:\d+:(\d+):/m.exec(listing)?.[1]);
      expect(listing).toContain(`fpr:::::::::${alice.fingerprint}:`);
      expect(primary * 1000).toBe(renewed.value.expires.getTime());
      expect(subkey * 1000).toBe(renewed.value.expires.getTime());
      expect(primary * 1000).toBeGreaterThan(alice.expires.getTime());
    } finally {
      await home.dispose();
    }
  });
});

describe('gpg reads what we send', () => {
  it('decrypts an encrypted message with the real headers inside and a good SHA-512 signature', async () => {
    await gpg.run(['--import'], alice.publicArmored);
    const sent = await encryptMessage(plainMessage(), {
      senderAddress: 'alice@alpha.test',
      senderPrivateKey: alice.privateArmored,
      recipientKeys: [bobPublic],
    });
    expect(sent.ok).toBe(true);
    if (!sent.ok) return;
    const [, payload] = topParts(sent.value);
    const decrypted = await gpg.run(['--decrypt'], bodyOf(payload!));
    expect(decrypted.code).toBe(0);
    const inner = decrypted.stdout.toString('utf8');
    expect(inner).toContain('Subject: Quarterly numbers (confidential)');
    expect(inner).toContain('the numbers are 42 and 17.');
    expect(inner).toContain('Grüße, Alice');
    const validSig = decrypted.status.find((l) => l.includes('VALIDSIG'));
    expect(validSig).toContain(alice.fingerprint);
    // Field 8 of VALIDSIG is the hash algorithm: 10 = SHA-512.
    expect(validSig?.split(' ')[9]).toBe('10');
  });

  it('verifies a sign-only message, also after a relay turned CRLF into LF', async () => {
    await gpg.run(['--import'], alice.publicArmored);
    const sent = await signMessage(multipartMessage(), {
      senderAddress: 'alice@alpha.test',
      senderPrivateKey: alice.privateArmored,
    });
    expect(sent.ok).toBe(true);
    if (!sent.ok) return;
    expect(header(sent.value, 'content-type')).toContain('micalg=pgp-sha512');
    const mangled = Buffer.from(sent.value.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    const [signedPart, signaturePart] = topParts(mangled);
    const dataFile = await gpg.write('signed-part', toCRLF(signedPart!));
    const sigFile = await gpg.write('signed-part.asc', bodyOf(signaturePart!));
    const verified = await gpg.run(['--verify', sigFile, dataFile]);
    expect(verified.code).toBe(0);
    expect(verified.status.find((l) => l.includes('VALIDSIG'))).toContain(alice.fingerprint);
  });
  it('verifies a streamed signature over 8-bit text, binary and bare LF line ends, read in odd pieces', async () => {
    await gpg.run(['--import'], alice.publicArmored);
    const raw = Buffer.from(
      [
        'From: Alice <alice@alpha.test>',
        'To: nokey@gamma.test',
        'Subject: Streamed',
        'Content-Type: multipart/mixed; boundary="s"',
        '',
        '--s',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        'Grüße aus Köln,   ',
        'From here on: 8-bit text with bare LF line ends.',
        '.',
        '--s',
        'Content-Type: application/octet-stream',
        'Content-Transfer-Encoding: binary',
        '',
        '\x00\xff\xfe binary = not text \x80',
        '--s--',
        '',
      ].join('\n'),
      'latin1',
    );
    let opened = 0;
    // Pieces of 7 bytes: line breaks, escapes and delimiters are split across reads.
    const read = async function* () {
      opened++;
      for (let i = 0; i < raw.length; i += 7) yield raw.subarray(i, i + 7);
    };
    const sent = await signMessageStream(read, {
      senderAddress: 'alice@alpha.test',
      senderPrivateKey: alice.privateArmored,
    });
    if (!sent.ok) throw new Error(sent.error.message);
    const chunks: Buffer[] = [];
    for await (const chunk of sent.value) chunks.push(chunk as Buffer);
    const message = Buffer.concat(chunks);
    // Read again for each pass, never collected: the original is asked for three times.
    expect(opened).toBe(3);
    expect([...message].every((b) => b < 128)).toBe(true);
    const [signedPart, signaturePart] = topParts(message);
    const [text, binary] = topParts(signedPart!);
    expect(header(text!, 'content-transfer-encoding')).toBe('quoted-printable');
    expect(header(binary!, 'content-transfer-encoding')).toBe('base64');
    const verified = await gpg.run([
      '--verify',
      await gpg.write('streamed.asc', bodyOf(signaturePart!)),
      await gpg.write('streamed', signedPart!),
    ]);
    expect(verified.code).toBe(0);
    expect(verified.status.find((l) => l.includes('VALIDSIG'))).toContain(alice.fingerprint);
  });
});

describe('we read what gpg sends', () => {
  const inner = [
    'Content-Type: text/plain; charset=utf-8; protected-headers="v1"',
    'Subject: Real subject from Bob',
    'From: Bob <bob@beta.test>',
    'To: alice@alpha.test',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Hi Alice, this came from GnuPG.',
    '',
  ].join('\r\n');

  function wrapEncrypted(armored: string): Buffer {
    // The structure Thunderbird's built-in OpenPGP produces (and Enigmail before it).
    return Buffer.from(
      [
        'From: Bob <bob@beta.test>',
        'To: alice@alpha.test',
        'Subject: ...',
        'Message-ID: <from-gpg-1@beta.test>',
        'MIME-Version: 1.0',
        'Content-Type: multipart/encrypted;',
        ' protocol="application/pgp-encrypted";',
        ' boundary="------------enigABCDEF"',
        '',
        'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)',
        '--------------enigABCDEF',
        'Content-Type: application/pgp-encrypted',
        'Content-Description: PGP/MIME version identification',
        '',
        'Version: 1',
        '',
        '--------------enigABCDEF',
        'Content-Type: application/octet-stream; name="encrypted.asc"',
        'Content-Description: OpenPGP encrypted message',
        'Content-Disposition: inline; filename="encrypted.asc"',
        '',
        armored.trim(),
        '',
        '--------------enigABCDEF--',
        '',
      ].join('\r\n'),
    );
  }

  it('decrypts and verifies gpg --encrypt --sign, restoring the protected Subject', async () => {
    await gpg.run(['--import'], alice.publicArmored);
    const made = await gpg.run(
      [
        '--armor',
        '--encrypt',
        '--sign',
        '--digest-algo',
        'SHA512',
        '-r',
        alice.fingerprint,
        '-u',
        bobFingerprint,
      ],
      inner,
    );
    expect(made.code).toBe(0);
    const opened = await openMessage(wrapEncrypted(made.stdout.toString()), {
      decryptionKeys: [alice.privateArmored],
      senderKeys: () => [bobPublic],
    });
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.value.encryption).toBe('pgp-mime');
    expect(header(opened.value.message, 'subject')).toBe('Real subject from Bob');
    expect(header(opened.value.message, 'message-id')).toBe('<from-gpg-1@beta.test>');
    expect(bodyOf(opened.value.message).toString()).toContain('this came from GnuPG.');
    expect(opened.value.verification).toMatchObject({
      status: 'valid',
      signerFingerprint: bobFingerprint,
      signerAddress: 'bob@beta.test',
    });
  });

  it('decrypts gpg mail whose inside is multipart/signed (RFC 3156 section 6.1, as Enigmail sent it)', async () => {
    const signature = await gpg.run(
      ['--armor', '--detach-sign', '--digest-algo', 'SHA512', '-u', bobFingerprint],
      inner,
    );
    const signedEntity = [
      'Content-Type: multipart/signed; micalg=pgp-sha512; protocol="application/pgp-signature";',
      ' boundary="inner-sig"',
      '',
      '--inner-sig',
      inner,
      '--inner-sig',
      'Content-Type: application/pgp-signature',
      '',
      signature.stdout.toString().trim(),
      '--inner-sig--',
      '',
    ].join('\r\n');
    const made = await gpg.run(['--armor', '--encrypt', '-r', alice.fingerprint], signedEntity);
    expect(made.code).toBe(0);
    const opened = await openMessage(wrapEncrypted(made.stdout.toString()), {
      decryptionKeys: [alice.privateArmored],
      senderKeys: () => [bobPublic],
    });
    if (!opened.ok) throw new Error(opened.error.message);
    expect(opened.value.encryption).toBe('pgp-mime');
    expect(opened.value.verification).toMatchObject({
      status: 'valid',
      signerFingerprint: bobFingerprint,
    });
    expect(header(opened.value.message, 'subject')).toBe('Real subject from Bob');
    expect(header(opened.value.message, 'content-type')).toMatch(/^text\/plain/);
    expect(opened.value.message.toString()).not.toContain('BEGIN PGP SIGNATURE');
  });

  it('verifies a multipart/signed message with a gpg detached signature (text mode too)', async () => {
    for (const mode of [[], ['--textmode']]) {
      const signed = await gpg.run(
        ['--armor', '--detach-sign', '--digest-algo', 'SHA512', ...mode, '-u', bobFingerprint],
        inner,
      );
      expect(signed.code).toBe(0);
      const message = [
        'From: Bob <bob@beta.test>',
        'To: alice@alpha.test',
        'Subject: Real subject from Bob',
        'MIME-Version: 1.0',
        'Content-Type: multipart/signed; micalg=pgp-sha512;',
        ' protocol="application/pgp-signature"; boundary="sig-b"',
        '',
        '--sig-b',
        inner,
        '--sig-b',
        'Content-Type: application/pgp-signature; name="OpenPGP_signature.asc"',
        '',
        signed.stdout.toString().trim(),
        '--sig-b--',
        '',
      ].join('\r\n');
      const opened = await openMessage(message, {
        decryptionKeys: [],
        senderKeys: () => [bobPublic],
      });
      expect(opened.ok && opened.value.verification.status).toBe('valid');
      // Someone changes a word on the way: the signature no longer holds.
      const tampered = await openMessage(message.replace('came from', 'came FROM'), {
        decryptionKeys: [],
        senderKeys: () => [bobPublic],
      });
      expect(tampered.ok && tampered.value.verification.status).toBe('invalid');
    }
  });
});
