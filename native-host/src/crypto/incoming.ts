/**
 * Incoming mail as its sender sent it (storage layers already taken off, see storage.ts):
 * recognise what is encrypted or signed, decrypt (RFC 3156 multipart/encrypted, also when
 * the inside is itself multipart/signed, and inline PGP that is one armored block and
 * nothing else), verify (combined signatures, multipart/signed, cleartext-signed) with the
 * key already known for the sender, show the protected headers (RFC 9788) instead of the
 * outer ones, and collect the keys the message carries that its protection lets us learn.
 * Nothing here throws on bad input: a broken message yields an error value and the caller
 * keeps the message as it came.
 */
import * as openpgp from 'openpgp';
import { MAX_MESSAGE_BYTES } from '../../../shared/src/constants.js';
import { parseAutocryptHeader, type PreferEncrypt } from './autocrypt.js';
import { describe, fail, ok, type Result } from './errors.js';
import { addressesOf, normaliseFingerprint, pgpConfig, readKeys, readPrivateKey } from './keys.js';
import {
  buildEntity,
  contentType,
  addressesIn,
  firstAddress,
  headerValue,
  parseEntity,
  splitMultipart,
  toCRLF,
  type Entity,
  type HeaderField,
} from './mime.js';
import { decodeTransfer, MAX_DEPTH } from './transfer.js';

export type SignatureStatus = 'valid' | 'invalid' | 'unknown_key' | 'none';

export interface Verification {
  status: SignatureStatus;
  /** Primary-key fingerprint of the key that made a valid (or invalid) signature. */
  signerFingerprint: string | null;
  /** The address of that key matching the sender, else its first address. */
  signerAddress: string | null;
  /** The key ID the signature names, also known when the key itself is not. */
  signerKeyId: string | null;
}

export interface HarvestedKey {
  source: 'autocrypt' | 'autocrypt-gossip' | 'attachment';
  address: string;
  fingerprint: string;
  /** Public key, armoured. */
  armored: string;
  preferEncrypt: PreferEncrypt | null;
}

export type EncryptionKind = 'pgp-mime' | 'inline' | 'none';

export interface OpenedMessage {
  /** What the sender did: encrypted (PGP/MIME or inline) or not. */
  encryption: EncryptionKind;
  /** The message to store: decrypted, protected headers shown; unchanged when plain. */
  message: Buffer;
  verification: Verification;
  /**
   * Keys the message carries that may be learned: its sender's own (Autocrypt, attached),
   * unless the signature is bad; gossip only from a message encrypted and validly signed by
   * the sender, and only for addresses it was sent to (Autocrypt Level 1 section 2.7).
   */
  harvestedKeys: HarvestedKey[];
  /** The From address of the message as shown. */
  senderAddress: string | null;
}

export interface OpenOptions {
  /** The user's private keys, armoured, current first; older ones decrypt older mail. */
  decryptionKeys: string[];
  /**
   * Public keys to verify a signature with: those already accepted for the sender. Keys the
   * message itself carries are never asked for here: a message must not vouch for itself.
   */
  senderKeys?: (sender: string | null) => Promise<string[]> | string[];
  now?: Date;
}

const NO_SIGNATURE: Verification = {
  status: 'none',
  signerFingerprint: null,
  signerAddress: null,
  signerKeyId: null,
};

const ARMORED_MESSAGE = /-----BEGIN PGP MESSAGE-----[\s\S]*?(-----END PGP MESSAGE-----|$)/;
const ARMORED_SIGNED = /-----BEGIN PGP SIGNED MESSAGE-----[\s\S]*?(-----END PGP SIGNATURE-----|$)/;
/** Text around an armored block that is only white space. */
const BLANK = /^\s*$/;

/**
 * Does this message look encrypted (an RFC 3156 multipart/encrypted, or a text body with an
 * armored OpenPGP message in it)? Says only that opening it failing is a decryption failure.
 */
export function looksEncrypted(raw: Uint8Array | string): boolean {
  const entity = parseEntity(asBuffer(raw));
  const type = contentType(entity.headers);
  if (type.mime === 'multipart/encrypted') return true;
  if (!type.mime.startsWith('text/')) return false;
  return /^-----BEGIN PGP MESSAGE-----\r?$/m.test(textOf(entity));
}

/**
 * Is this message, as a whole, a well-formed OpenPGP message that may leave the machine as
 * it is: an RFC 3156 multipart/encrypted whose encrypted part parses as an OpenPGP message,
 * or a text body that is exactly one armored OpenPGP message? Anything else (a forwarded
 * inline-PGP message with the user's own text around it, a broken multipart/encrypted) is
 * plaintext that must be encrypted or signed like any other.
 */
export async function isWholeOpenPGPMessage(raw: Uint8Array | string): Promise<boolean> {
  const entity = parseEntity(asBuffer(raw));
  const type = contentType(entity.headers);
  let armored: string;
  if (type.mime === 'multipart/encrypted') {
    if (type.params.protocol?.toLowerCase() !== 'application/pgp-encrypted') return false;
    const payload = encryptedPayload(entity);
    if (!payload.ok) return false;
    armored = payload.value;
  } else if (type.mime === 'text/plain') {
    armored = textOf(entity);
  } else {
    return false;
  }
  const block = ARMORED_MESSAGE.exec(armored);
  if (!block || !block[1]) return false;
  if (!BLANK.test(armored.slice(0, block.index))) return false;
  if (!BLANK.test(armored.slice(block.index + block[0].length))) return false;
  try {
    const message = await openpgp.readMessage({ armoredMessage: block[0] });
    return message.getEncryptionKeyIDs().length > 0;
  } catch {
    return false;
  }
}

/** A single-part body decoded from its transfer encoding, as Latin-1 text. */
function textOf(entity: Entity): string {
  return decodeTransfer(
    entity.body,
    headerValue(entity.headers, 'content-transfer-encoding'),
  ).toString('latin1');
}

/**
 * The armored OpenPGP message of an RFC 3156 multipart/encrypted entity (its second part,
 * application/octet-stream; some senders label that part otherwise).
 */
export function encryptedPayload(entity: Entity): Result<string> {
  const type = contentType(entity.headers);
  const parts = type.params.boundary ? splitMultipart(entity.body, type.params.boundary) : null;
  const entities = parts?.map(parseEntity) ?? [];
  const payload =
    entities.find((p) => contentType(p.headers).mime === 'application/octet-stream') ?? entities[1];
  if (!payload) {
    return fail(
      'malformed_message',
      'The encrypted message has no encrypted part (RFC 3156 section 4).',
    );
  }
  return ok(textOf(payload));
}

function asBuffer(raw: Uint8Array | string): Buffer {
  return typeof raw === 'string'
    ? Buffer.from(raw, 'utf8')
    : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** What a signature covers, in the three shapes mail carries one. */
type Signed =
  | { kind: 'combined'; data: Uint8Array; signatures: openpgp.Signature[] }
  // Read lazily, so that a damaged signature part becomes an "invalid" result, not an error.
  | { kind: 'detached'; data: Uint8Array; armoredSignature: string }
  | { kind: 'cleartext'; message: openpgp.CleartextMessage };

interface Unwrapped {
  encryption: EncryptionKind;
  /** The message with protected headers restored. */
  message: Buffer;
  /** Header fields that came from inside the encryption (trusted for gossip). */
  innerHeaders: HeaderField[];
  signed: Signed | null;
}

export async function openMessage(
  raw: Uint8Array | string,
  options: OpenOptions,
): Promise<Result<OpenedMessage>> {
  const bytes = asBuffer(raw);
  let unwrapped: Result<Unwrapped>;
  try {
    unwrapped = await unwrap(bytes, options);
  } catch (error) {
    // A last line of defence: OpenPGP.js or a parser meeting input nobody foresaw.
    return fail('malformed_message', `The message could not be read: ${describe(error)}`);
  }
  if (!unwrapped.ok) return unwrapped;
  const { message, encryption, innerHeaders, signed } = unwrapped.value;
  const entity = parseEntity(message);
  const sender = firstAddress(headerValue(entity.headers, 'from'));
  let verification = NO_SIGNATURE;
  if (signed) {
    const keys = options.senderKeys ? await options.senderKeys(sender) : [];
    verification = await verify(signed, keys, sender, options.now);
  }
  const outer = parseEntity(bytes).headers;
  const harvested = await harvestKeys(entity, [...outer, ...entity.headers], innerHeaders, sender);
  const learnable = keysToLearn(harvested, {
    encrypted: encryption === 'pgp-mime',
    verification,
    sender,
    recipients: new Set(addressesIn(['to', 'cc'].map((n) => headerValue(entity.headers, n)))),
  });
  return ok({ encryption, message, verification, harvestedKeys: learnable, senderAddress: sender });
}

/** Autocrypt Level 1's rules for what a message may teach, as a pure decision. */
export function keysToLearn(
  harvested: HarvestedKey[],
  message: {
    encrypted: boolean;
    verification: Verification;
    sender: string | null;
    recipients: ReadonlySet<string>;
  },
): HarvestedKey[] {
  // A bad signature means the message is not what its sender sent: it teaches nothing.
  if (message.verification.status === 'invalid') return [];
  const vouched = message.encrypted && message.verification.status === 'valid';
  return harvested.filter((key) =>
    key.source === 'autocrypt-gossip'
      ? vouched && message.recipients.has(key.address)
      : key.address === message.sender,
  );
}

async function unwrap(bytes: Buffer, options: OpenOptions): Promise<Result<Unwrapped>> {
  const entity = parseEntity(bytes);
  const type = contentType(entity.headers);
  if (type.mime === 'multipart/encrypted') {
    const armored = encryptedPayload(entity);
    if (!armored.ok) return armored;
    const decrypted = await decryptArmored(armored.value, options.decryptionKeys);
    if (!decrypted.ok) return decrypted;
    const inner = parseEntity(Buffer.from(decrypted.value.data));
    // Sign-then-encrypt as two MIME layers (RFC 3156 section 6.1): verify the inside.
    const innerSigned =
      contentType(inner.headers).mime === 'multipart/signed' ? splitSigned(inner) : null;
    if (innerSigned && !innerSigned.ok) return innerSigned;
    const shown = innerSigned?.ok ? innerSigned.value.part : Buffer.from(decrypted.value.data);
    const shownEntity = parseEntity(shown);
    return ok({
      encryption: 'pgp-mime',
      message: restoreHeaders(entity.headers, shownEntity),
      innerHeaders: shownEntity.headers,
      signed: innerSigned?.ok ? innerSigned.value.signed : combined(decrypted.value),
    });
  }
  if (type.mime === 'multipart/signed') {
    const split = splitSigned(entity);
    if (!split.ok) return split;
    return ok({
      encryption: 'none',
      message: restoreHeaders(entity.headers, parseEntity(split.value.part)),
      innerHeaders: [],
      signed: split.value.signed,
    });
  }
  if (type.mime.startsWith('text/')) {
    const asText = textOf(entity);
    const block = ARMORED_MESSAGE.exec(asText);
    if (block) {
      // Attacker text around someone else's ciphertext would be shown as decrypted and
      // quoted back in a reply (the "Johnny" decryption oracle): such a message is not
      // opened at all, as Thunderbird does.
      if (!wholeBlock(asText, block)) {
        return fail(
          'partly_encrypted',
          'Only part of this message is encrypted; it was not opened, so that text outside the encryption cannot pass for protected.',
        );
      }
      return unwrapInline(entity, block, options);
    }
    const clearsigned = ARMORED_SIGNED.exec(asText);
    // Text outside a cleartext signature is not covered by it: such a message counts as unsigned.
    if (clearsigned && wholeBlock(asText, clearsigned)) {
      const signed = await readCleartext(clearsigned[0]);
      if (!signed.ok) return signed;
      return ok({ encryption: 'none', message: bytes, innerHeaders: [], signed: signed.value });
    }
  }
  return ok({ encryption: 'none', message: bytes, innerHeaders: [], signed: null });
}

/** The armored block is the whole text, but for white space around it. */
function wholeBlock(text: string, block: RegExpExecArray): boolean {
  return (
    BLANK.test(text.slice(0, block.index)) && BLANK.test(text.slice(block.index + block[0].length))
  );
}

async function unwrapInline(
  entity: Entity,
  block: RegExpExecArray,
  options: OpenOptions,
): Promise<Result<Unwrapped>> {
  const decrypted = await decryptArmored(block[0], options.decryptionKeys);
  if (!decrypted.ok) return decrypted;
  const headers: (HeaderField | string)[] = [
    ...entity.headers.filter((h) => !h.key.startsWith('content-')),
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  return ok({
    encryption: 'inline',
    message: buildEntity(headers, Buffer.from(decrypted.value.data)),
    innerHeaders: [],
    signed: combined(decrypted.value),
  });
}

function combined(decrypted: Decrypted): Signed | null {
  if (decrypted.signatures.length === 0) return null;
  return { kind: 'combined', data: decrypted.data, signatures: decrypted.signatures };
}

/** RFC 3156 section 5: the first part is signed as is (canonical CRLF), the second is the signature. */
function splitSigned(entity: Entity): Result<{ part: Buffer; signed: Signed }> {
  const type = contentType(entity.headers);
  const parts = type.params.boundary ? splitMultipart(entity.body, type.params.boundary) : null;
  if (!parts || parts.length < 2) {
    return fail(
      'malformed_message',
      'The signed message does not have its two parts (RFC 3156 section 5).',
    );
  }
  const [part, signaturePart] = parts as [Buffer, Buffer];
  const sig = parseEntity(signaturePart);
  const armored = decodeTransfer(
    sig.body,
    headerValue(sig.headers, 'content-transfer-encoding'),
  ).toString('latin1');
  return ok({ part, signed: { kind: 'detached', data: toCRLF(part), armoredSignature: armored } });
}

async function readCleartext(armored: string): Promise<Result<Signed>> {
  try {
    const message = await openpgp.readCleartextMessage({ cleartextMessage: armored });
    return ok({ kind: 'cleartext', message });
  } catch (error) {
    return fail('malformed_armor', `The signed text is damaged: ${describe(error)}`);
  }
}

export interface Decrypted {
  data: Uint8Array;
  signatures: openpgp.Signature[];
}

/**
 * Decrypts an armored OpenPGP message with whichever of the user's keys it names. Inflating
 * compressed data stops at the message size limit: a small message that unpacks to
 * gigabytes (a decompression bomb) fails as `too_large` instead of filling memory.
 */
export async function decryptArmored(
  armored: string,
  privateKeys: string[],
): Promise<Result<Decrypted>> {
  let message: openpgp.Message<Uint8Array>;
  try {
    message = (await openpgp.readMessage({
      armoredMessage: armored,
    })) as openpgp.Message<Uint8Array>;
  } catch (error) {
    return fail(
      'malformed_armor',
      `The encrypted part is damaged or incomplete: ${describe(error)}`,
    );
  }
  const keys: openpgp.PrivateKey[] = [];
  for (const armoredKey of privateKeys) {
    const key = await readPrivateKey(armoredKey);
    if (key.ok) keys.push(key.value);
  }
  const wanted = message.getEncryptionKeyIDs();
  const anonymous = wanted.some((id) => /^0+$/.test(id.toHex()));
  const ours = keys.filter((key) => wanted.some((id) => key.getKeys(id).length > 0));
  if (!anonymous && ours.length === 0) {
    const ids = wanted.map((id) => id.toHex().toUpperCase()).join(', ');
    return fail(
      'wrong_key',
      `This message was encrypted for a key you do not have${ids ? ` (key IDs ${ids})` : ''}.`,
    );
  }
  try {
    const result = await openpgp.decrypt({
      message,
      decryptionKeys: anonymous ? keys : ours,
      format: 'binary',
      config: { ...pgpConfig, maxDecompressedMessageSize: MAX_MESSAGE_BYTES },
    });
    const signatures: openpgp.Signature[] = [];
    for (const s of result.signatures) {
      s.verified.catch(() => undefined);
      signatures.push(await s.signature);
    }
    return ok({ data: result.data as Uint8Array, signatures });
  } catch (error) {
    if (/decompressed (message )?size exceeded/i.test(describe(error))) {
      const mb = MAX_MESSAGE_BYTES / (1024 * 1024);
      return fail(
        'too_large',
        `The message could not be opened: it is too large when decompressed (over ${mb} MiB).`,
      );
    }
    return fail('decryption_failed', `The message could not be decrypted: ${describe(error)}`);
  }
}

/** One signature to check: the key it names, and how to check it with a key. */
interface Check {
  keyId: openpgp.KeyID | undefined;
  run: (key: openpgp.PublicKey) => Promise<openpgp.VerifyMessageResult>;
}

async function verify(
  signed: Signed,
  armoredKeys: string[],
  sender: string | null,
  now?: Date,
): Promise<Verification> {
  const keys: openpgp.PublicKey[] = [];
  for (const armored of armoredKeys) {
    const read = await readKeys(armored);
    if (read.ok) keys.push(...read.value.map((k) => k.toPublic()));
  }
  const options = (key: openpgp.PublicKey) => ({
    verificationKeys: [key],
    date: now,
    config: pgpConfig,
  });
  let checks: Check[];
  if (signed.kind === 'cleartext') {
    const message = signed.message;
    checks = [
      {
        keyId: message.getSigningKeyIDs()[0],
        run: (key) => openpgp.verify({ message, ...options(key) }),
      },
    ];
  } else {
    let signatures = signed.kind === 'combined' ? signed.signatures : [];
    if (signed.kind === 'detached') {
      try {
        signatures = [await openpgp.readSignature({ armoredSignature: signed.armoredSignature })];
      } catch {
        return { ...NO_SIGNATURE, status: 'invalid' };
      }
    }
    const data = signed.data;
    checks = signatures.map((signature) => ({
      keyId: signature.getSigningKeyIDs()[0],
      run: async (key) =>
        openpgp.verify({
          message: await openpgp.createMessage({ binary: data }),
          signature,
          ...options(key),
        }),
    }));
  }
  let best: Verification | null = null;
  for (const check of checks) {
    const result = await verifyOne(check, keys, sender);
    if (result.status === 'valid') return result;
    if (!best || (best.status === 'unknown_key' && result.status === 'invalid')) best = result;
  }
  return best ?? NO_SIGNATURE;
}

async function verifyOne(
  check: Check,
  keys: openpgp.PublicKey[],
  sender: string | null,
): Promise<Verification> {
  const keyId = check.keyId;
  const signerKeyId = keyId ? keyId.toHex().toUpperCase() : null;
  const signer = keyId ? keys.find((k) => k.getKeys(keyId).length > 0) : undefined;
  if (!signer)
    return { status: 'unknown_key', signerFingerprint: null, signerAddress: null, signerKeyId };
  const addresses = addressesOf(signer);
  const identity = {
    signerFingerprint: normaliseFingerprint(signer.getFingerprint()),
    signerAddress: sender && addresses.includes(sender) ? sender : (addresses[0] ?? null),
    signerKeyId,
  };
  try {
    const outcome = (await check.run(signer)).signatures[0];
    if (!outcome) return { status: 'invalid', ...identity };
    await outcome.verified;
    return { status: 'valid', ...identity };
  } catch {
    return { status: 'invalid', ...identity };
  }
}

/** Outer fields a relay adds on the way that stay beside protected headers (RFC 9788 section 4.1). */
const TRACE_FIELDS = new Set([
  'received',
  'return-path',
  'delivered-to',
  'x-original-to',
  'authentication-results',
  'dkim-signature',
  'arc-seal',
  'arc-message-signature',
  'arc-authentication-results',
]);
/** Outer fields kept when the protected ones lack them: they only identify and date the message. */
const STRUCTURAL_FIELDS = new Set(['message-id', 'date']);

/** Does the inner part carry the message's header fields (protected headers)? */
function hasProtectedHeaders(inner: Entity): boolean {
  const type = contentType(inner.headers);
  return (
    type.params['protected-headers'] !== undefined ||
    type.params.hp !== undefined ||
    headerValue(inner.headers, 'from') !== undefined ||
    headerValue(inner.headers, 'subject') !== undefined
  );
}

/**
 * The header section to show. With protected headers (RFC 9788), those alone, plus the
 * trace fields relays add: an outer Reply-To or Disposition-Notification-To that a relay or
 * the provider slipped in is not shown. Without them, the outer fields are all there is and
 * stay as they came, byte for byte, with the inner part's MIME fields.
 */
function restoreHeaders(outer: HeaderField[], inner: Entity): Buffer {
  const innerKeys = new Set(inner.headers.map((h) => h.key));
  const kept = hasProtectedHeaders(inner)
    ? outer.filter(
        (h) => TRACE_FIELDS.has(h.key) || (STRUCTURAL_FIELDS.has(h.key) && !innerKeys.has(h.key)),
      )
    : outer.filter((h) => !innerKeys.has(h.key) && !h.key.startsWith('content-'));
  return buildEntity([...kept, ...inner.headers], inner.body);
}

/**
 * Keys the message carries: its sender's Autocrypt header (only for the From address, as
 * Autocrypt requires), Autocrypt-Gossip headers from inside the encryption, and
 * application/pgp-keys attachments (for the From address). Which of them may be learned is
 * {@link keysToLearn}'s decision.
 */
async function harvestKeys(
  entity: Entity,
  headers: HeaderField[],
  innerHeaders: HeaderField[],
  sender: string | null,
): Promise<HarvestedKey[]> {
  const found: HarvestedKey[] = [];
  const add = async (
    source: HarvestedKey['source'],
    data: string | Uint8Array,
    address: string | null,
    preferEncrypt: PreferEncrypt | null,
  ) => {
    const keys = await readKeys(data);
    if (!keys.ok) return;
    for (const key of keys.value) {
      const addresses = addressesOf(key);
      const fingerprint = normaliseFingerprint(key.getFingerprint());
      const owner = address ?? addresses[0];
      if (!owner || !addresses.includes(owner)) continue;
      if (found.some((f) => f.fingerprint === fingerprint && f.address === owner)) continue;
      found.push({
        source,
        address: owner,
        fingerprint,
        armored: key.toPublic().armor(),
        preferEncrypt,
      });
    }
  };
  for (const h of headers.filter((h) => h.key === 'autocrypt')) {
    const header = parseAutocryptHeader(h.value);
    if (header.ok && header.value.addr === sender) {
      await add('autocrypt', header.value.keydata, header.value.addr, header.value.preferEncrypt);
    }
  }
  for (const h of innerHeaders.filter((h) => h.key === 'autocrypt-gossip')) {
    const header = parseAutocryptHeader(h.value);
    if (header.ok) await add('autocrypt-gossip', header.value.keydata, header.value.addr, null);
  }
  // An attached key counts for the sender's address only, like an Autocrypt header.
  for (const data of keyAttachments(entity, 0)) await add('attachment', data, sender, null);
  return found;
}

function keyAttachments(entity: Entity, depth: number): Buffer[] {
  if (depth > MAX_DEPTH) return [];
  const type = contentType(entity.headers);
  if (type.mime === 'application/pgp-keys') {
    return [decodeTransfer(entity.body, headerValue(entity.headers, 'content-transfer-encoding'))];
  }
  if (!type.mime.startsWith('multipart/') || !type.params.boundary) return [];
  const parts = splitMultipart(entity.body, type.params.boundary) ?? [];
  return parts.flatMap((part) => keyAttachments(parseEntity(part), depth + 1));
}
