/**
 * Incoming mail: recognise what is encrypted or signed, decrypt (RFC 3156 multipart/encrypted,
 * also when the inside is itself multipart/signed, and inline PGP), verify (combined
 * signatures, multipart/signed, cleartext-signed), restore the protected headers over the
 * outer ones, and collect every key the message carries. Nothing here throws on bad input:
 * a broken message yields an error value and the caller keeps the message as it came.
 */
import * as openpgp from 'openpgp';
import { parseAutocryptHeader, type PreferEncrypt } from './autocrypt.js';
import { describe, fail, ok, type Result } from './errors.js';
import { addressesOf, normaliseFingerprint, pgpConfig, readKeys, readPrivateKey } from './keys.js';
import {
  buildEntity,
  contentType,
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
  encryption: EncryptionKind;
  /** The message to store: decrypted, protected headers restored; unchanged when plain. */
  message: Buffer;
  verification: Verification;
  harvestedKeys: HarvestedKey[];
  /** The From address after the protected headers were restored. */
  senderAddress: string | null;
}

export interface OpenOptions {
  /** The user's private keys, armoured, current first; older ones decrypt older mail. */
  decryptionKeys: string[];
  /**
   * Public keys to verify a signature with. Called only for signed messages, after the
   * keys in the message were harvested, so the caller can file those first.
   */
  senderKeys?: (sender: string | null, harvested: HarvestedKey[]) => Promise<string[]> | string[];
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

/** Is this message already encrypted (so the SMTP server passes it through untouched)? */
export function isEncryptedMessage(raw: Uint8Array | string): boolean {
  const entity = parseEntity(asBuffer(raw));
  const type = contentType(entity.headers);
  if (type.mime === 'multipart/encrypted') return true;
  if (!type.mime.startsWith('text/')) return false;
  const text = decodeTransfer(
    entity.body,
    headerValue(entity.headers, 'content-transfer-encoding'),
  );
  return /^-----BEGIN PGP MESSAGE-----\r?$/m.test(text.toString('latin1'));
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
  const harvested = await harvestKeys(entity, innerHeaders, sender);
  let verification = NO_SIGNATURE;
  if (signed) {
    const keys = options.senderKeys ? await options.senderKeys(sender, harvested) : [];
    verification = await verify(signed, keys, sender, options.now);
  }
  return ok({ encryption, message, verification, harvestedKeys: harvested, senderAddress: sender });
}

async function unwrap(bytes: Buffer, options: OpenOptions): Promise<Result<Unwrapped>> {
  const entity = parseEntity(bytes);
  const type = contentType(entity.headers);
  if (type.mime === 'multipart/encrypted') {
    const parts = type.params.boundary ? splitMultipart(entity.body, type.params.boundary) : null;
    const entities = parts?.map(parseEntity) ?? [];
    // RFC 3156 says application/octet-stream; some senders label the second part otherwise.
    const payload =
      entities.find((p) => contentType(p.headers).mime === 'application/octet-stream') ??
      entities[1];
    if (!payload) {
      return fail(
        'malformed_message',
        'The encrypted message has no encrypted part (RFC 3156 section 4).',
      );
    }
    const armored = decodeTransfer(
      payload.body,
      headerValue(payload.headers, 'content-transfer-encoding'),
    );
    const decrypted = await decrypt(armored.toString('latin1'), options.decryptionKeys);
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
    const text = decodeTransfer(
      entity.body,
      headerValue(entity.headers, 'content-transfer-encoding'),
    );
    const asText = text.toString('latin1');
    const block = ARMORED_MESSAGE.exec(asText);
    if (block) return unwrapInline(entity, asText, block, options);
    const clearsigned = ARMORED_SIGNED.exec(asText);
    if (clearsigned) {
      const signed = await readCleartext(clearsigned[0]);
      if (!signed.ok) return signed;
      return ok({ encryption: 'none', message: bytes, innerHeaders: [], signed: signed.value });
    }
  }
  return ok({ encryption: 'none', message: bytes, innerHeaders: [], signed: null });
}

async function unwrapInline(
  entity: Entity,
  text: string,
  block: RegExpExecArray,
  options: OpenOptions,
): Promise<Result<Unwrapped>> {
  const decrypted = await decrypt(block[0], options.decryptionKeys);
  if (!decrypted.ok) return decrypted;
  const before = Buffer.from(text.slice(0, block.index), 'latin1');
  const after = Buffer.from(text.slice(block.index + block[0].length), 'latin1');
  const headers: (HeaderField | string)[] = [
    ...entity.headers.filter((h) => !h.key.startsWith('content-')),
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
  ];
  return ok({
    encryption: 'inline',
    message: buildEntity(
      headers,
      Buffer.concat([before, Buffer.from(decrypted.value.data), after]),
    ),
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

interface Decrypted {
  data: Uint8Array;
  signatures: openpgp.Signature[];
}

async function decrypt(armored: string, privateKeys: string[]): Promise<Result<Decrypted>> {
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
      config: pgpConfig,
    });
    const signatures: openpgp.Signature[] = [];
    for (const s of result.signatures) {
      s.verified.catch(() => undefined);
      signatures.push(await s.signature);
    }
    return ok({ data: result.data as Uint8Array, signatures });
  } catch (error) {
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

/**
 * The inner part's headers win over the outer ones (the outer Subject is a placeholder);
 * outer headers the inside does not have stay, except the outer MIME structure.
 */
function restoreHeaders(outer: HeaderField[], inner: Entity): Buffer {
  const innerKeys = new Set(inner.headers.map((h) => h.key));
  const kept = outer.filter((h) => !innerKeys.has(h.key) && !h.key.startsWith('content-'));
  return buildEntity([...kept, ...inner.headers], inner.body);
}

/**
 * Keys the message carries: its sender's Autocrypt header (only for the From address, as
 * Autocrypt requires), Autocrypt-Gossip headers from inside the encryption, and
 * application/pgp-keys attachments.
 */
async function harvestKeys(
  entity: Entity,
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
  for (const h of entity.headers.filter((h) => h.key === 'autocrypt')) {
    const header = parseAutocryptHeader(h.value);
    if (header.ok && header.value.addr === sender) {
      await add('autocrypt', header.value.keydata, header.value.addr, header.value.preferEncrypt);
    }
  }
  for (const h of innerHeaders.filter((h) => h.key === 'autocrypt-gossip')) {
    const header = parseAutocryptHeader(h.value);
    if (header.ok) await add('autocrypt-gossip', header.value.keydata, header.value.addr, null);
  }
  for (const data of keyAttachments(entity, 0)) await add('attachment', data, null, null);
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
