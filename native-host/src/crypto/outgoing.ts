/**
 * Outgoing PGP/MIME (RFC 3156): encrypt+sign (multipart/encrypted) and sign only
 * (multipart/signed), with header protection: the real headers travel inside the
 * protected part (marked `protected-headers="v1"`), the outside keeps only what delivery
 * and threading need, and the outer Subject is neutral on encrypted mail.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as openpgp from 'openpgp';
import { autocryptHeaderFor, formatAutocryptHeader } from './autocrypt.js';
import { describe, fail, ok, type Result } from './errors.js';
import { pgpConfig, readKey, readPrivateKey } from './keys.js';
import {
  buildEntity,
  createCRLFNormaliser,
  headerEnd,
  headerValue,
  parseHeaders,
  serializeHeaders,
  toCRLF,
  type HeaderField,
} from './mime.js';
import { MAX_HEADER_BYTES, planSevenBitSafe, sevenBitSafe } from './transfer.js';

/** Headers that stay readable outside the encryption: delivery, threading, display. */
const KEPT_OUTSIDE = ['from', 'to', 'cc', 'date', 'message-id', 'in-reply-to', 'references'];
/** Headers copied into a signed part so the signature covers them too. */
const PROTECTED = [...KEPT_OUTSIDE, 'subject', 'reply-to'];
export const NEUTRAL_SUBJECT = '...';

export interface SenderOptions {
  /** The sender's address (the Autocrypt addr). */
  senderAddress: string;
  /** The sender's current private key, armoured and unprotected. */
  senderPrivateKey: string;
  /** Add an Autocrypt header with the sender's public key (default true). */
  autocrypt?: boolean;
  /** Also attach the sender's public key as application/pgp-keys, as LEAP did (default false). */
  attachPublicKey?: boolean;
}

export interface EncryptOptions extends SenderOptions {
  /** Public keys of every recipient; the sender's own key is added so Sent stays readable. */
  recipientKeys: string[];
}

interface Prepared {
  signingKey: openpgp.PrivateKey;
  autocrypt: string | null;
  keyAttachment: { address: string; armored: string } | null;
}

async function prepareSender(options: SenderOptions): Promise<Result<Prepared>> {
  const signingKey = await readPrivateKey(options.senderPrivateKey);
  if (!signingKey.ok) return signingKey;
  const usable = await signingKey.value.getSigningKey().then(
    () => true,
    () => false,
  );
  if (!usable) return fail('no_usable_key', 'Your own key cannot sign (it may have expired).');
  let autocrypt: string | null = null;
  if (options.autocrypt !== false) {
    const header = await autocryptHeaderFor(
      options.senderAddress,
      signingKey.value.toPublic().armor(),
    );
    if (!header.ok) return header;
    autocrypt = header.value;
  }
  const keyAttachment = options.attachPublicKey
    ? { address: options.senderAddress, armored: signingKey.value.toPublic().armor() }
    : null;
  return ok({ signingKey: signingKey.value, autocrypt, keyAttachment });
}

function boundary(): string {
  return `----=_leapbird_${randomBytes(12).toString('hex')}`;
}

const isContentHeader = (h: HeaderField) => h.key.startsWith('content-');

/**
 * The protected part around the original body: `head` goes before it, `tail` after. The
 * part carries `headers` (marked `protected-headers="v1"`) and the original content
 * headers; with a key attachment it becomes multipart/mixed of the original content and
 * the sender's key.
 */
function protectedPart(
  headers: (HeaderField | string)[],
  original: HeaderField[],
  keyAttachment: Prepared['keyAttachment'],
): { head: Buffer; tail: Buffer } {
  const content = original.filter(isContentHeader);
  const type = headerValue(original, 'content-type') ?? 'text/plain; charset=us-ascii';
  if (!keyAttachment) {
    const marked = /protected-headers\s*=/i.test(type) ? type : `${type}; protected-headers="v1"`;
    const fields = [
      ...headers,
      ...content.filter((h) => h.key !== 'content-type'),
      `Content-Type: ${marked}`,
    ];
    return { head: buildEntity(fields, Buffer.alloc(0)), tail: Buffer.alloc(0) };
  }
  const b = boundary();
  const file = `${keyAttachment.address}-email-key.asc`;
  const head = Buffer.concat([
    buildEntity(
      [...headers, `Content-Type: multipart/mixed; boundary="${b}"; protected-headers="v1"`],
      Buffer.from(`--${b}\r\n`),
    ),
    buildEntity(content.length > 0 ? content : [`Content-Type: ${type}`], Buffer.alloc(0)),
  ]);
  const tail = Buffer.from(
    [
      '',
      `--${b}`,
      `Content-Type: application/pgp-keys; name="${file}"`,
      `Content-Disposition: attachment; filename="${file}"`,
      '',
      toCRLF(Buffer.from(keyAttachment.armored)).toString('latin1').trimEnd(),
      `--${b}--`,
      '',
    ].join('\r\n'),
  );
  return { head, tail };
}

/** A Message-Id both sides agree on, so a reply threads even when the client added none. */
function ensureMessageId(headers: HeaderField[], senderAddress: string): HeaderField[] {
  if (headerValue(headers, 'message-id')) return headers;
  const domain = senderAddress.split('@')[1] ?? 'localhost';
  return [
    ...headers,
    ...parseHeaders(Buffer.from(`Message-ID: <${randomBytes(16).toString('hex')}@${domain}>`)),
  ];
}

/** Reads the header section off the front of a stream; the rest of the stream is the body. */
async function readHead(
  iterator: AsyncIterator<Uint8Array>,
): Promise<Result<{ headers: HeaderField[]; bodyStart: Buffer }>> {
  let buffered = Buffer.alloc(0);
  for (;;) {
    const end = headerEnd(buffered);
    if (end) {
      return ok({
        headers: parseHeaders(buffered.subarray(0, end.headerLength)),
        bodyStart: buffered.subarray(end.bodyStart),
      });
    }
    if (buffered.length > MAX_HEADER_BYTES) {
      return fail('malformed_message', 'The message has no end to its header section.');
    }
    const next = await iterator.next();
    if (next.done) return ok({ headers: parseHeaders(buffered), bodyStart: Buffer.alloc(0) });
    buffered = Buffer.concat([buffered, Buffer.from(next.value)]);
  }
}

interface Envelope {
  /** Outer headers and MIME structure up to the armoured ciphertext. */
  opening: Buffer;
  closing: Buffer;
  /** What goes around the original body inside the encryption. */
  inner: { head: Buffer; tail: Buffer };
  encryptionKeys: openpgp.PublicKey[];
  signingKey: openpgp.PrivateKey;
}

/** Everything but the body: keys checked, headers split between inside and outside. */
async function prepareEncryption(
  headers: HeaderField[],
  options: EncryptOptions,
): Promise<Result<Envelope>> {
  const sender = await prepareSender(options);
  if (!sender.ok) return sender;
  const recipients = await readRecipientKeys(options.recipientKeys);
  if (!recipients.ok) return recipients;
  const original = ensureMessageId(
    headers.filter((h) => h.key !== 'bcc'),
    options.senderAddress,
  );
  const inner = protectedPart(
    [...original.filter((h) => !isContentHeader(h)), ...gossipHeaders(original, recipients.value)],
    original,
    sender.value.keyAttachment,
  );
  const b = boundary();
  const outer = [
    ...original.filter((h) => KEPT_OUTSIDE.includes(h.key)),
    `Subject: ${NEUTRAL_SUBJECT}`,
    'MIME-Version: 1.0',
    ...(sender.value.autocrypt ? [sender.value.autocrypt] : []),
    `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${b}"`,
  ];
  const opening = Buffer.concat([
    serializeHeaders(outer),
    Buffer.from(
      [
        '',
        'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156).',
        `--${b}`,
        'Content-Type: application/pgp-encrypted',
        'Content-Description: PGP/MIME version identification',
        '',
        'Version: 1',
        '',
        `--${b}`,
        'Content-Type: application/octet-stream; name="encrypted.asc"',
        'Content-Description: OpenPGP encrypted message',
        'Content-Disposition: inline; filename="encrypted.asc"',
        '',
        '',
      ].join('\r\n'),
    ),
  ]);
  return ok({
    opening,
    closing: Buffer.from(`\r\n--${b}--\r\n`),
    inner,
    encryptionKeys: [...recipients.value, sender.value.signingKey.toPublic()],
    signingKey: sender.value.signingKey,
  });
}

/**
 * Encrypts and signs a whole RFC 822 message into RFC 3156 multipart/encrypted, as a stream:
 * the body is never held whole in memory, so a 50 MB attachment costs buffers, not copies.
 * Key problems and a broken header section are reported before the first byte is produced.
 * Web streams cost a few milliseconds to set up: small messages go faster through
 * {@link encryptMessage}.
 */
export async function encryptMessageStream(
  input: AsyncIterable<Uint8Array>,
  options: EncryptOptions,
): Promise<Result<Readable>> {
  const iterator = input[Symbol.asyncIterator]();
  const head = await readHead(iterator);
  if (!head.ok) return head;
  const envelope = await prepareEncryption(head.value.headers, options);
  if (!envelope.ok) return envelope;
  const { opening, closing, inner, encryptionKeys, signingKey } = envelope.value;
  const bodyStart = head.value.bodyStart;
  const normalise = createCRLFNormaliser();
  async function* plaintext(): AsyncGenerator<Uint8Array> {
    yield inner.head;
    if (bodyStart.length > 0) yield normalise(bodyStart);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      yield normalise(next.value);
    }
    yield inner.tail;
  }

  let armored: ReadableStream<string>;
  try {
    const message = await openpgp.createMessage({
      binary: Readable.toWeb(Readable.from(plaintext())) as ReadableStream<Uint8Array>,
    });
    armored = (await openpgp.encrypt({
      message,
      encryptionKeys,
      signingKeys: signingKey,
      format: 'armored',
      config: pgpConfig,
    })) as unknown as ReadableStream<string>;
  } catch (error) {
    return fail('encryption_failed', `The message could not be encrypted: ${describe(error)}`);
  }
  const armourLines = createCRLFNormaliser();
  async function* output(): AsyncGenerator<Buffer> {
    yield opening;
    const reader = armored.getReader();
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      yield armourLines(Buffer.from(next.value, 'latin1'));
    }
    yield closing;
  }
  return ok(Readable.from(output(), { objectMode: false }));
}

/**
 * Autocrypt-Gossip (Autocrypt Level 1 section 2.7): with several recipients, each learns the
 * others' keys from inside the encryption, so a reply to all can be encrypted too. Only
 * for addresses the To and Cc headers already show: a Bcc recipient is never revealed.
 */
function gossipHeaders(headers: HeaderField[], keys: openpgp.PublicKey[]): string[] {
  const visible = new Set(
    headers
      .filter((h) => h.key === 'to' || h.key === 'cc')
      .flatMap((h) => h.value.match(/[^\s<>,;:"()@]+@[^\s<>,;:"()@]+/g) ?? [])
      .map((a) => a.toLowerCase()),
  );
  if (keys.length < 2) return [];
  const gossip: string[] = [];
  for (const key of keys) {
    const address = key
      .getUserIDs()
      .map((uid) => (/<([^<>]+)>/.exec(uid)?.[1] ?? uid).toLowerCase())
      .find((a) => visible.has(a));
    if (address) {
      gossip.push(
        formatAutocryptHeader(
          { addr: address, preferEncrypt: 'nopreference', keydata: key.write() },
          'Autocrypt-Gossip',
        ),
      );
    }
  }
  return gossip;
}

async function readRecipientKeys(armoredKeys: string[]): Promise<Result<openpgp.PublicKey[]>> {
  const keys: openpgp.PublicKey[] = [];
  for (const armored of armoredKeys) {
    const key = await readKey(armored);
    if (!key.ok) return key;
    const usable = await key.value.getEncryptionKey().then(
      () => true,
      () => false,
    );
    if (!usable) {
      const who = key.value.getUserIDs()[0] ?? key.value.getFingerprint().toUpperCase();
      return fail(
        'no_usable_key',
        `The key of ${who} cannot be used to encrypt (expired or revoked?).`,
      );
    }
    keys.push(key.value.toPublic());
  }
  return ok(keys);
}

/** The same as {@link encryptMessageStream} for a message already in memory. */
export async function encryptMessage(
  raw: Uint8Array | string,
  options: EncryptOptions,
): Promise<Result<Buffer>> {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw);
  const end = headerEnd(bytes);
  if (end === null && bytes.length > MAX_HEADER_BYTES) {
    return fail('malformed_message', 'The message has no end to its header section.');
  }
  const headers = parseHeaders(end ? bytes.subarray(0, end.headerLength) : bytes);
  const body = end ? bytes.subarray(end.bodyStart) : Buffer.alloc(0);
  const envelope = await prepareEncryption(headers, options);
  if (!envelope.ok) return envelope;
  const { opening, closing, inner, encryptionKeys, signingKey } = envelope.value;
  try {
    const armored = await openpgp.encrypt({
      message: await openpgp.createMessage({
        binary: Buffer.concat([inner.head, toCRLF(body), inner.tail]),
      }),
      encryptionKeys,
      signingKeys: signingKey,
      format: 'armored',
      config: pgpConfig,
    });
    return ok(Buffer.concat([opening, toCRLF(Buffer.from(armored, 'latin1')), closing]));
  } catch (error) {
    return fail('encryption_failed', `The message could not be encrypted: ${describe(error)}`);
  }
}

/**
 * OpenPGP.js keeps a copy of a literal packet's data for writing the packet later; a
 * detached signature never writes it, so over a stream that copy would hold the whole
 * message until the end. Hashing the data directly keeps it a stream.
 */
function hashWithoutCopy(message: openpgp.Message<openpgp.MaybeStream<Uint8Array>>): void {
  const literal = message.packets.findPacket(openpgp.enums.packet.literalData) as unknown as {
    getBytes: (clone?: boolean) => unknown;
  };
  const getBytes = literal.getBytes.bind(literal);
  literal.getBytes = () => getBytes(false);
}

/** Up to this size the signed part is hashed from memory: web streams cost milliseconds. */
const SIGN_IN_MEMORY_BYTES = 1024 * 1024;

/** A detached signature over the bytes, with the micalg parameter naming its hash. */
async function detachedSignature(
  signedPart: AsyncIterable<Buffer>,
  inMemory: boolean,
  signingKey: openpgp.PrivateKey,
): Promise<{ armored: string; micalg: string }> {
  let data: openpgp.MaybeStream<Uint8Array>;
  if (inMemory) {
    const chunks: Buffer[] = [];
    for await (const chunk of signedPart) chunks.push(chunk);
    data = Buffer.concat(chunks);
  } else {
    data = Readable.toWeb(Readable.from(signedPart)) as ReadableStream<Uint8Array>;
  }
  const message = await openpgp.createMessage({ binary: data });
  hashWithoutCopy(message);
  const signature = (await openpgp.sign({
    message,
    signingKeys: signingKey,
    detached: true,
    format: 'armored',
    config: pgpConfig,
  })) as openpgp.MaybeStream<string>;
  let armored = '';
  if (typeof signature === 'string') {
    armored = signature;
  } else {
    const reader = signature.getReader();
    for (let next = await reader.read(); !next.done; next = await reader.read()) {
      armored += next.value;
    }
  }
  const packet = (await openpgp.readSignature({ armoredSignature: armored })).packets[0];
  const hash = openpgp.enums.read(openpgp.enums.hash, packet?.hashAlgorithm ?? 10);
  return { armored, micalg: `pgp-${hash.toLowerCase()}` };
}

/** Passes the bytes on and keeps a digest of them. */
async function* digesting(source: AsyncIterable<Buffer>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

/** The multipart/signed message as chunks; see {@link signMessageStream}. */
async function signedChunks(
  read: () => AsyncIterable<Uint8Array>,
  options: SenderOptions,
): Promise<Result<AsyncGenerator<Buffer>>> {
  const sender = await prepareSender(options);
  if (!sender.ok) return sender;
  const first = read()[Symbol.asyncIterator]();
  const head = await readHead(first);
  if (!head.ok) {
    await first.return?.();
    return head;
  }
  const headers = ensureMessageId(
    head.value.headers.filter((h) => h.key !== 'bcc'),
    options.senderAddress,
  );
  const part = protectedPart(
    headers.filter((h) => PROTECTED.includes(h.key)),
    headers,
    sender.value.keyAttachment,
  );
  // The size of the part before it is made safe, known after each pass.
  let size = 0;
  /** The protected part around the body: the first pass goes on where the head was read. */
  async function* unsafePart(
    opened: { iterator: AsyncIterator<Uint8Array>; bodyStart: Buffer } | null,
  ): AsyncGenerator<Uint8Array> {
    const iterator = opened?.iterator ?? read()[Symbol.asyncIterator]();
    try {
      let bodyStart = opened?.bodyStart;
      if (!bodyStart) {
        const again = await readHead(iterator);
        if (!again.ok) throw new Error(again.error.message);
        bodyStart = again.value.bodyStart;
      }
      yield part.head;
      size = part.head.length + bodyStart.length + part.tail.length;
      yield bodyStart;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        size += next.value.length;
        yield next.value;
      }
      yield part.tail;
    } finally {
      await iterator.return?.();
    }
  }
  const planned = await planSevenBitSafe(
    unsafePart({ iterator: first, bodyStart: head.value.bodyStart }),
  );
  if (!planned.ok) return planned;
  const plan = planned.value;

  const signed = createHash('sha256');
  let signature: { armored: string; micalg: string };
  try {
    signature = await detachedSignature(
      digesting(sevenBitSafe(unsafePart(null), plan), signed),
      size <= SIGN_IN_MEMORY_BYTES,
      sender.value.signingKey,
    );
  } catch (error) {
    return fail('signing_failed', `The message could not be signed: ${describe(error)}`);
  }
  const expected = signed.digest('hex');

  const b = boundary();
  const outer = [
    ...headers.filter((h) => !isContentHeader(h) && h.key !== 'mime-version'),
    'MIME-Version: 1.0',
    ...(sender.value.autocrypt ? [sender.value.autocrypt] : []),
    `Content-Type: multipart/signed; micalg=${signature.micalg}; protocol="application/pgp-signature"; boundary="${b}"`,
  ];
  const opening = buildEntity(
    outer,
    Buffer.from(`This is an OpenPGP/MIME signed message (RFC 4880 and 3156).\r\n--${b}\r\n`),
  );
  const closing = Buffer.from(
    [
      '',
      `--${b}`,
      'Content-Type: application/pgp-signature; name="signature.asc"',
      'Content-Description: OpenPGP digital signature',
      'Content-Disposition: attachment; filename="signature.asc"',
      '',
      toCRLF(Buffer.from(signature.armored)).toString('latin1').trimEnd(),
      `--${b}--`,
      '',
    ].join('\r\n'),
  );
  async function* output(): AsyncGenerator<Buffer> {
    yield opening;
    const emitted = createHash('sha256');
    yield* digesting(sevenBitSafe(unsafePart(null), plan), emitted);
    // The signature covers what was hashed; a source that changed in between would go out
    // with a signature that fails, so it does not go out at all.
    if (emitted.digest('hex') !== expected) {
      throw new Error('The message changed while it was being signed.');
    }
    yield closing;
  }
  return ok(output());
}

/**
 * Signs a message into RFC 3156 multipart/signed, as a stream. The signed part is made
 * canonical (CRLF) and 7-bit safe first, so that no relay can change a byte the signature
 * covers. `read` opens the original message afresh on each call; it is read three times
 * (which leaves need re-encoding, the signature, the output), so a 50 MB attachment costs
 * buffers, not copies. Key problems and broken structure are reported before the first
 * byte is produced.
 */
export async function signMessageStream(
  read: () => AsyncIterable<Uint8Array>,
  options: SenderOptions,
): Promise<Result<Readable>> {
  const signed = await signedChunks(read, options);
  return signed.ok ? ok(Readable.from(signed.value, { objectMode: false })) : signed;
}

/** The same as {@link signMessageStream} for a message already in memory. */
export async function signMessage(
  raw: Uint8Array | string,
  options: SenderOptions,
): Promise<Result<Buffer>> {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : Buffer.from(raw);
  const signed = await signedChunks(async function* () {
    yield bytes;
  }, options);
  if (!signed.ok) return signed;
  const chunks: Buffer[] = [];
  for await (const chunk of signed.value) chunks.push(chunk);
  return ok(Buffer.concat(chunks));
}
