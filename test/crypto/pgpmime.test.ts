/**
 * PGP/MIME as the SMTP server and the sync engine use it: what the outside of an encrypted
 * message shows, what the recipient gets back, signatures under tampering, keys carried in
 * messages, and broken input that must give an error value instead of a crash.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { createMessage, encrypt, readKey } from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  encryptMessage,
  encryptMessageStream,
  generateOwnKey,
  isWholeOpenPGPMessage,
  openMessage,
  parseAutocryptHeader,
  renewOwnKey,
  signMessage,
  signMessageStream,
  type OwnKey,
} from '../../native-host/src/crypto/index.js';
import { parseEntity, toCRLF } from '../../native-host/src/crypto/mime.js';
import { decodeTransfer } from '../../native-host/src/crypto/transfer.js';
import {
  bodyOf,
  header,
  headerNames,
  multipartMessage,
  plainMessage,
  topParts,
} from './fixtures.js';

let alice: OwnKey;
let bob: OwnKey;
let bobOld: OwnKey;
let mallory: OwnKey;

beforeAll(async () => {
  [alice, bob, bobOld, mallory] = await Promise.all([
    generateOwnKey({ address: 'alice@alpha.test' }),
    generateOwnKey({ address: 'bob@beta.test' }),
    generateOwnKey({ address: 'bob@beta.test' }),
    generateOwnKey({ address: 'mallory@evil.test' }),
  ]);
});

const fromAlice = () => ({
  senderAddress: 'alice@alpha.test',
  senderPrivateKey: alice.privateArmored,
});

describe('encrypt and sign', () => {
  it('shows only delivery and threading headers outside, with a neutral Subject and no Bcc', async () => {
    const sent = await encryptMessage(plainMessage(), {
      ...fromAlice(),
      recipientKeys: [bob.publicArmored],
    });
    expect(sent.ok).toBe(true);
    if (!sent.ok) return;
    const outside = sent.value;
    expect(header(outside, 'subject')).toBe('...');
    expect(header(outside, 'message-id')).toBe('<original-123@alpha.test>');
    expect(header(outside, 'in-reply-to')).toBe('<parent-1@beta.test>');
    expect(header(outside, 'references')).toBe('<root-0@beta.test> <parent-1@beta.test>');
    expect(header(outside, 'from')).toBe('Alice <alice@alpha.test>');
    expect(header(outside, 'cc')).toBe('carol@gamma.test');
    expect(header(outside, 'content-type')).toMatch(
      /^multipart\/encrypted; protocol="application\/pgp-encrypted"/,
    );
    expect(headerNames(outside)).not.toContain('bcc');
    expect(headerNames(outside)).not.toContain('user-agent');
    const text = outside.toString('latin1');
    expect(text).not.toContain('Quarterly');
    expect(text).not.toContain('numbers are 42');
    expect(text).not.toContain('secret-dave');
    const autocrypt = parseAutocryptHeader(header(outside, 'autocrypt') ?? '');
    expect(autocrypt.ok && autocrypt.value.addr).toBe('alice@alpha.test');
    const parts = topParts(outside);
    expect(parts).toHaveLength(2);
    expect(bodyOf(parts[0]!).toString().trim()).toBe('Version: 1');
  });

  it('gives the recipient the original headers and body back, signed by the sender', async () => {
    const sent = await encryptMessage(plainMessage(), {
      ...fromAlice(),
      recipientKeys: [bob.publicArmored],
    });
    if (!sent.ok) throw new Error(sent.error.message);
    const opened = await openMessage(sent.value, {
      decryptionKeys: [bob.privateArmored],
      senderKeys: (sender) => (sender === 'alice@alpha.test' ? [alice.publicArmored] : []),
    });
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    const got = opened.value.message;
    expect(header(got, 'subject')).toBe('Quarterly numbers (confidential)');
    expect(header(got, 'message-id')).toBe('<original-123@alpha.test>');
    expect(header(got, 'user-agent')).toBe('Thunderbird 153');
    expect(headerNames(got).filter((n) => n === 'subject')).toHaveLength(1);
    expect(headerNames(got)).not.toContain('bcc');
    expect(bodyOf(got).toString('utf8')).toBe(
      'Hello Bob,\r\nthe numbers are 42 and 17.\r\nGrüße, Alice\r\n',
    );
    expect(opened.value.verification).toEqual({
      status: 'valid',
      signerFingerprint: alice.fingerprint,
      signerAddress: 'alice@alpha.test',
      signerKeyId: expect.any(String),
    });
    expect(opened.value.harvestedKeys).toEqual([
      expect.objectContaining({
        source: 'autocrypt',
        address: 'alice@alpha.test',
        fingerprint: alice.fingerprint,
      }),
    ]);
  });

  it('gossips the keys of visible recipients to each other, never a Bcc recipient', async () => {
    const [carol, dave] = await Promise.all([
      generateOwnKey({ address: 'carol@gamma.test' }),
      generateOwnKey({ address: 'secret-dave@delta.test' }),
    ]);
    const sent = await encryptMessage(plainMessage(), {
      ...fromAlice(),
      recipientKeys: [bob.publicArmored, carol.publicArmored, dave.publicArmored],
    });
    if (!sent.ok) throw new Error(sent.error.message);
    expect(headerNames(sent.value)).not.toContain('autocrypt-gossip');
    // Gossip counts only from a message signed by the sender's already accepted key.
    const opened = await openMessage(sent.value, {
      decryptionKeys: [dave.privateArmored],
      senderKeys: () => [alice.publicArmored],
    });
    if (!opened.ok) throw new Error(opened.error.message);
    const gossip = opened.value.harvestedKeys.filter((h) => h.source === 'autocrypt-gossip');
    expect(gossip.map((g) => [g.address, g.fingerprint])).toEqual([
      ['bob@beta.test', bob.fingerprint],
      ['carol@gamma.test', carol.fingerprint],
    ]);
    expect(opened.value.message.toString('latin1')).not.toContain('secret-dave');
  });

  it('keeps the sent copy readable by the sender', async () => {
    const sent = await encryptMessage(plainMessage(), {
      ...fromAlice(),
      recipientKeys: [bob.publicArmored],
    });
    if (!sent.ok) throw new Error(sent.error.message);
    const opened = await openMessage(sent.value, { decryptionKeys: [alice.privateArmored] });
    expect(opened.ok && header(opened.value.message, 'subject')).toBe(
      'Quarterly numbers (confidential)',
    );
  });

  it('reports a signature from a key the reader does not know, or a different key, honestly', async () => {
    const sent = await encryptMessage(plainMessage(), {
      ...fromAlice(),
      recipientKeys: [bob.publicArmored],
    });
    if (!sent.ok) throw new Error(sent.error.message);
    const unknown = await openMessage(sent.value, {
      decryptionKeys: [bob.privateArmored],
      senderKeys: () => [],
    });
    expect(unknown.ok && unknown.value.verification.status).toBe('unknown_key');
    // Mallory claims to be Alice: the signature is not from a key the reader has for her.
    const forged = await encryptMessage(plainMessage(), {
      senderAddress: 'alice@alpha.test',
      senderPrivateKey: mallory.privateArmored,
      recipientKeys: [bob.publicArmored],
    });
    if (!forged.ok) throw new Error(forged.error.message);
    const opened = await openMessage(forged.value, {
      decryptionKeys: [bob.privateArmored],
      senderKeys: () => [alice.publicArmored],
    });
    expect(opened.ok && opened.value.verification.status).toBe('unknown_key');
    // Mallory's Autocrypt header does not match the From address, so nothing is harvested.
    expect(opened.ok && opened.value.harvestedKeys).toEqual([]);
  });

  it('decrypts mail sent to an older key of the reader', async () => {
    const sent = await encryptMessage(plainMessage(), {
      ...fromAlice(),
      recipientKeys: [bobOld.publicArmored],
    });
    if (!sent.ok) throw new Error(sent.error.message);
    const opened = await openMessage(sent.value, {
      decryptionKeys: [bob.privateArmored, bobOld.privateArmored],
    });
    expect(opened.ok && opened.value.encryption).toBe('pgp-mime');
  });

  it('streams a large message through without changing a byte of the body', async () => {
    const line = 'x'.repeat(70) + '\n';
    const size = 3 * 1024 * 1024;
    const head = plainMessage({ body: '' });
    // Chunks that split CRLF pairs and lines at odd places, as sockets do.
    async function* chunks() {
      yield Buffer.from(head.slice(0, 100));
      yield Buffer.from(head.slice(100));
      for (let sent = 0; sent < size; sent += 64 * 1024 + 1) {
        yield Buffer.from(
          line.repeat(Math.ceil((64 * 1024 + 1) / line.length)).slice(0, 64 * 1024 + 1),
        );
      }
    }
    const stream = await encryptMessageStream(chunks(), {
      ...fromAlice(),
      recipientKeys: [bob.publicArmored],
    });
    if (!stream.ok) throw new Error(stream.error.message);
    const out: Buffer[] = [];
    for await (const c of stream.value) out.push(c as Buffer);
    const opened = await openMessage(Buffer.concat(out), {
      decryptionKeys: [bob.privateArmored],
      senderKeys: () => [alice.publicArmored],
    });
    if (!opened.ok) throw new Error(opened.error.message);
    const expected = Buffer.concat(
      await Readable.from(chunks())
        .toArray()
        .then((c) => c as Buffer[]),
    );
    const expectedBody = bodyOf(expected).toString('latin1').replace(/\r?\n/g, '\r\n');
    expect(bodyOf(opened.value.message).toString('latin1')).toBe(expectedBody);
    expect(opened.value.verification.status).toBe('valid');
  });

  it('refuses an expired recipient key with a clear error', async () => {
    const old = await generateOwnKey({
      address: 'old@beta.test',
      now: new Date(Date.now() - 400 * 86_400_000),
    });
    const sent = await encryptMessage(plainMessage(), {
      ...fromAlice(),
      recipientKeys: [old.publicArmored],
    });
    expect(sent.ok).toBe(false);
    if (!sent.ok)
      expect(sent.error).toMatchObject({
        code: 'no_usable_key',
        message: expect.stringContaining('old@beta.test'),
      });
  });
});

describe('sign only', () => {
  it('produces a 7-bit multipart/signed message that verifies after transport rewrites line ends', async () => {
    const sent = await signMessage(multipartMessage(), fromAlice());
    if (!sent.ok) throw new Error(sent.error.message);
    expect([...sent.value].every((b) => b < 128)).toBe(true);
    expect(sent.value.toString('latin1')).not.toMatch(/[ \t]\r\n/);
    const viaLf = Buffer.from(sent.value.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
    const opened = await openMessage(viaLf, {
      decryptionKeys: [],
      senderKeys: () => [alice.publicArmored],
    });
    if (!opened.ok) throw new Error(opened.error.message);
    expect(opened.value.encryption).toBe('none');
    expect(opened.value.verification.status).toBe('valid');
    expect(header(opened.value.message, 'subject')).toBe('With attachment');
    expect(header(opened.value.message, 'content-type')).toMatch(/^multipart\/mixed/);
  });

  it('signs any body so that it verifies after transport and decodes to the same content', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Lines of any bytes but line breaks, including the ones relays damage: trailing
        // spaces, "From " starts, a lone dot, 8-bit text, very long lines.
        fc.array(
          fc.oneof(
            fc
              .uint8Array({ maxLength: 1200 })
              .map((b) => Buffer.from(b.filter((x) => x !== 10 && x !== 13))),
            fc
              .constantFrom('From me', '.', 'trailing  ', 'tab\t', '', 'Grüße')
              .map((t) => Buffer.from(t)),
          ),
          { maxLength: 8 },
        ),
        fc.constantFrom('text/plain; charset=utf-8', 'application/octet-stream'),
        async (lines, type) => {
          const body = Buffer.from(lines.map((l) => l.toString('latin1')).join('\r\n'), 'latin1');
          const raw = Buffer.concat([
            Buffer.from(
              `From: alice@alpha.test\r\nSubject: x\r\nContent-Type: ${type}\r\nContent-Transfer-Encoding: binary\r\n\r\n`,
            ),
            body,
          ]);
          const sent = await signMessage(raw, fromAlice());
          if (!sent.ok) throw new Error(sent.error.message);
          expect([...sent.value].every((b) => b < 128)).toBe(true);
          const viaLf = Buffer.from(sent.value.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
          const opened = await openMessage(viaLf, {
            decryptionKeys: [],
            senderKeys: () => [alice.publicArmored],
          });
          if (!opened.ok) throw new Error(opened.error.message);
          expect(opened.value.verification.status).toBe('valid');
          const part = parseEntity(opened.value.message);
          const encoding = part.headers.find((h) => h.key === 'content-transfer-encoding')?.value;
          // The relay's LF line ends stay in what the reader stores; the content is the same.
          expect(toCRLF(decodeTransfer(part.body, encoding)).equals(body)).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('detects a changed body and a changed protected Subject', async () => {
    const sent = await signMessage(plainMessage(), fromAlice());
    if (!sent.ok) throw new Error(sent.error.message);
    const text = sent.value.toString('latin1');
    for (const tampered of [
      text.replace('42 and 17', '42 and 71'),
      text.replace(/(\r\n--[^\r]*\r\n(?:.*\r\n)*?Subject: )Quarterly/, '$1Yearly'),
    ]) {
      expect(tampered).not.toBe(text);
      const opened = await openMessage(Buffer.from(tampered, 'latin1'), {
        decryptionKeys: [],
        senderKeys: () => [alice.publicArmored],
      });
      expect(opened.ok && opened.value.verification.status).toBe('invalid');
    }
  });
  it('sends nothing signed when the source changes between the signing and the sending pass', async () => {
    let opened = 0;
    // The third read (the output) differs from the second (the one the signature covers).
    const read = async function* () {
      opened++;
      yield Buffer.from(
        plainMessage({ body: opened < 3 ? 'Pay 10 euros.\r\n' : 'Pay 99 euros.\r\n' }),
      );
    };
    const sent = await signMessageStream(read, fromAlice());
    if (!sent.ok) throw new Error(sent.error.message);
    const chunks: Buffer[] = [];
    await expect(
      (async () => {
        for await (const chunk of sent.value) chunks.push(chunk as Buffer);
      })(),
    ).rejects.toThrow(/changed while it was being signed/);
    expect(Buffer.concat(chunks).toString()).not.toContain('signature.asc');
  });
});

describe('sender key attachment', () => {
  it('attaches the public key inside the protection when asked, and the reader harvests it', async () => {
    const options = { ...fromAlice(), attachPublicKey: true, autocrypt: false };
    const encrypted = await encryptMessage(plainMessage(), {
      ...options,
      recipientKeys: [bob.publicArmored],
    });
    const signed = await signMessage(plainMessage(), options);
    for (const sent of [encrypted, signed]) {
      if (!sent.ok) throw new Error(sent.error.message);
      expect(header(sent.value, 'autocrypt')).toBeUndefined();
      const opened = await openMessage(sent.value, {
        decryptionKeys: [bob.privateArmored],
        senderKeys: () => [alice.publicArmored],
      });
      if (!opened.ok) throw new Error(opened.error.message);
      expect(opened.value.verification.status).toBe('valid');
      expect(header(opened.value.message, 'subject')).toBe('Quarterly numbers (confidential)');
      expect(header(opened.value.message, 'content-type')).toMatch(/^multipart\/mixed/);
      const [text, key] = topParts(opened.value.message);
      expect(header(text!, 'content-type')).toBe('text/plain; charset=UTF-8; format=flowed');
      expect(header(key!, 'content-type')).toBe(
        'application/pgp-keys; name="alice@alpha.test-email-key.asc"',
      );
      expect(opened.value.harvestedKeys).toEqual([
        expect.objectContaining({
          source: 'attachment',
          address: 'alice@alpha.test',
          fingerprint: alice.fingerprint,
        }),
      ]);
    }
  });
});

describe('keys and renewal', () => {
  it('renews within 60 days of expiry to the same fingerprint, and old signatures still verify', async () => {
    const created = new Date(Date.now() - 320 * 86_400_000);
    const old = await generateOwnKey({ address: 'renew@alpha.test', now: created });
    const signedBefore = await signMessage(plainMessage(), {
      senderAddress: 'renew@alpha.test',
      senderPrivateKey: old.privateArmored,
    });
    if (!signedBefore.ok) throw new Error(signedBefore.error.message);
    const renewed = await renewOwnKey(old.privateArmored);
    if (!renewed.ok) throw new Error(renewed.error.message);
    expect(renewed.value.fingerprint).toBe(old.fingerprint);
    expect(renewed.value.expires.getTime()).toBeGreaterThan(Date.now() + 364 * 86_400_000);
    const opened = await openMessage(signedBefore.value, {
      decryptionKeys: [],
      senderKeys: () => [renewed.value.publicArmored],
    });
    expect(opened.ok && opened.value.verification.status).toBe('valid');
  });
});

describe('incoming oddities', () => {
  it('passes through only a message that is, as a whole, one OpenPGP message', async () => {
    const sent = await encryptMessage(plainMessage(), {
      ...fromAlice(),
      recipientKeys: [bob.publicArmored],
    });
    if (!sent.ok) throw new Error(sent.error.message);
    expect(await isWholeOpenPGPMessage(sent.value)).toBe(true);
    expect(await isWholeOpenPGPMessage(plainMessage())).toBe(false);
    const armored = await encrypt({
      message: await createMessage({ text: 'inline secret' }),
      encryptionKeys: await readKey({ armoredKey: bob.publicArmored }),
    });
    expect(await isWholeOpenPGPMessage(plainMessage({ body: armored }))).toBe(true);
    // A forwarded inline message with the user's own text is plaintext.
    const forwarded = plainMessage({ body: `My notes, in clear:\r\n${armored}` });
    expect(await isWholeOpenPGPMessage(forwarded)).toBe(false);
    const fake = plainMessage({
      body: '-----BEGIN PGP MESSAGE-----\r\n\r\nnot really\r\n-----END PGP MESSAGE-----\r\n',
    });
    expect(await isWholeOpenPGPMessage(fake)).toBe(false);
  });

  it('decrypts inline PGP and harvests attached keys', async () => {
    const armored = await encrypt({
      message: await createMessage({ text: 'inline secret' }),
      encryptionKeys: await readKey({ armoredKey: bob.publicArmored }),
    });
    const message = [
      'From: carol@gamma.test',
      'To: bob@beta.test',
      'Subject: inline',
      'Content-Type: multipart/mixed; boundary="m"',
      '',
      '--m',
      'Content-Type: text/plain',
      '',
      'hi',
      '--m',
      'Content-Type: application/pgp-keys; name="carol.asc"',
      '',
      alice.publicArmored.replace(/\n/g, '\r\n'),
      '--m--',
      '',
    ].join('\r\n');
    const harvested = await openMessage(message, { decryptionKeys: [] });
    // The attached key is Alice's: a message from Carol does not get to file keys for Alice.
    expect(harvested.ok && harvested.value.harvestedKeys).toEqual([]);
    const inline = `From: carol@gamma.test\r\nSubject: inline\r\n\r\n${armored}\r\n`;
    const opened = await openMessage(inline, { decryptionKeys: [bob.privateArmored] });
    if (!opened.ok) throw new Error(opened.error.message);
    expect(opened.value.encryption).toBe('inline');
    expect(bodyOf(opened.value.message).toString()).toMatch(/^inline secret/);
    // Text around the block would pass for decrypted: such a message is not opened.
    const partly = `From: carol@gamma.test\r\nSubject: inline\r\n\r\nBefore\r\n${armored}\r\nAfter\r\n`;
    const refused = await openMessage(partly, { decryptionKeys: [bob.privateArmored] });
    expect(!refused.ok && refused.error.code).toBe('partly_encrypted');
  });

  it('turns broken input into error values with codes', async () => {
    const sent = await encryptMessage(plainMessage(), {
      ...fromAlice(),
      recipientKeys: [bob.publicArmored],
    });
    if (!sent.ok) throw new Error(sent.error.message);
    const text = sent.value.toString('latin1');
    const truncated = text.slice(0, text.indexOf('-----BEGIN PGP MESSAGE-----') + 200);
    const cases: [string, string | Buffer, string][] = [
      ['truncated armour', truncated, 'malformed_armor'],
      ['wrong key', sent.value, 'wrong_key'],
      [
        'no encrypted part',
        'Content-Type: multipart/encrypted; boundary="x"\r\n\r\n--x\r\n\r\nVersion: 1\r\n--x--\r\n',
        'malformed_message',
      ],
      ['no boundary', 'Content-Type: multipart/encrypted\r\n\r\ngarbage', 'malformed_message'],
      [
        'garbage armour',
        text.replace(
          /(-----BEGIN PGP MESSAGE-----\r\n\r\n)[\s\S]*?(\r\n-----END)/,
          '$1not base64 at all!$2',
        ),
        'malformed_armor',
      ],
      [
        'signed without signature part',
        'Content-Type: multipart/signed; boundary="s"\r\n\r\n--s\r\n\r\nonly\r\n--s--\r\n',
        'malformed_message',
      ],
    ];
    for (const [name, input, code] of cases) {
      const opened = await openMessage(input, { decryptionKeys: [mallory.privateArmored] });
      expect({ name, code: opened.ok ? 'ok' : opened.error.code }).toEqual({ name, code });
      if (!opened.ok) expect(opened.error.message.length).toBeGreaterThan(10);
    }
  });

  it('reads odd but harmless mail as plain: 8-bit headers, unknown charset, deep nesting', async () => {
    const deep =
      Array.from(
        { length: 60 },
        (_, i) => `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`,
      ).join('') + 'x';
    const odd = [
      Buffer.from(
        'From: Jürgen <j@x.test>\r\nSubject: Grüße \xff\xfe\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nbody\xff\r\n',
        'latin1',
      ),
      Buffer.from(deep),
      Buffer.from(''),
      Buffer.from('no header at all'),
      Buffer.from([0, 1, 2, 255, 13, 10, 13, 10, 0]),
    ];
    for (const input of odd) {
      const opened = await openMessage(input, { decryptionKeys: [bob.privateArmored] });
      expect(opened.ok && opened.value.encryption).toBe('none');
      expect(opened.ok && opened.value.message.equals(input)).toBe(true);
    }
  });
});
