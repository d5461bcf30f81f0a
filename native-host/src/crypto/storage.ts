/**
 * The storage layer on the host's side (format in shared/src/storage-layer.ts): recognise
 * one and take it off, and put one around a copy the host uploads. Taking it off gives the
 * message exactly as it was stored, so its own header section comes back byte for byte.
 */
import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import {
  safeHeaderLine,
  STORED_FIELD,
  storageLayerMessage,
} from '../../../shared/src/storage-layer.js';
import { describe, fail, ok, type Result } from './errors.js';
import { decryptArmored, encryptedPayload } from './incoming.js';
import { pgpConfig, readKey } from './keys.js';
import { contentType, headerValue, parseEntity, type HeaderField } from './mime.js';

/** The MX before the storage layer had its field: recognised by its neutral outer header. */
const LEGACY_MX_FROM = /^Encrypted message <encrypted@[^<>\s]+>$/;

/** Is this message a storage layer (so its outer header is the provider's, not the sender's)? */
export function isStorageLayer(headers: readonly HeaderField[]): boolean {
  if (contentType([...headers]).mime !== 'multipart/encrypted') return false;
  if (headerValue(headers, STORED_FIELD) !== undefined) return true;
  return (
    LEGACY_MX_FROM.test(headerValue(headers, 'from') ?? '') &&
    headerValue(headers, 'subject') === 'Encrypted message'
  );
}

/**
 * The message inside a storage layer; null when `raw` is not one. A layer that cannot be
 * opened is an error, and the caller keeps the message as it came.
 */
export async function openStorageLayer(
  raw: Buffer,
  decryptionKeys: string[],
): Promise<Result<Buffer> | null> {
  const entity = parseEntity(raw);
  if (!isStorageLayer(entity.headers)) return null;
  const payload = encryptedPayload(entity);
  if (!payload.ok) return payload;
  const decrypted = await decryptArmored(payload.value, decryptionKeys);
  return decrypted.ok ? ok(Buffer.from(decrypted.value.data)) : decrypted;
}

/**
 * Is `message` already readable only with the user's key (an RFC 3156 multipart/encrypted
 * to it: a storage layer, or mail encrypted to the user and to others)? Then uploading it
 * as it is leaks nothing.
 */
export async function isSealedFor(message: Buffer, publicArmored: string): Promise<boolean> {
  const entity = parseEntity(message);
  if (contentType(entity.headers).mime !== 'multipart/encrypted') return false;
  const payload = encryptedPayload(entity);
  const key = await readKey(publicArmored);
  if (!payload.ok || !key.ok) return false;
  try {
    const armored = await openpgp.readMessage({ armoredMessage: payload.value });
    const mine = new Set(key.value.getKeyIDs().map((id) => id.toHex()));
    return armored.getEncryptionKeyIDs().some((id) => mine.has(id.toHex()));
  } catch {
    return false;
  }
}

/** Puts a storage layer around `message`, encrypted to the user's own public key. */
export async function sealForStorage(
  message: Buffer,
  owner: { address: string; publicArmored: string },
): Promise<Result<Buffer>> {
  const key = await readKey(owner.publicArmored);
  if (!key.ok) return key;
  const inside = parseEntity(message).headers;
  try {
    const armored = await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: message }),
      encryptionKeys: key.value.toPublic(),
      format: 'armored',
      config: pgpConfig,
    });
    const domain = owner.address.slice(owner.address.indexOf('@') + 1);
    const wrapped = storageLayerMessage(armored, {
      by: 'self',
      from: `<${owner.address}>`,
      to: `<${owner.address}>`,
      date:
        safeHeaderLine(headerValue(inside, 'date')) ??
        new Date().toUTCString().replace('GMT', '+0000'),
      messageId:
        safeHeaderLine(headerValue(inside, 'message-id')) ??
        `<${randomBytes(16).toString('hex')}@${domain}>`,
      boundary: `enc-${randomBytes(12).toString('hex')}`,
    });
    return ok(Buffer.from(wrapped, 'utf8'));
  } catch (error) {
    return fail('encryption_failed', `The copy could not be encrypted: ${describe(error)}`);
  }
}
