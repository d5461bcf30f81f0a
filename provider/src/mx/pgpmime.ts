/**
 * RFC 3156 PGP/MIME on receipt: the whole original message (headers and body, byte for byte)
 * becomes the encrypted payload of a storage layer; the outer headers say nothing about
 * sender or subject.
 */
import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';

import { safeHeaderLine, storageLayerMessage } from '../../../shared/src/storage-layer.js';

/** The header block of a raw message, unfolded, as [lower-case name, value] pairs. */
export function headersOf(raw: Buffer): [string, string][] {
  const text = raw.subarray(0, Math.min(raw.length, 256 * 1024)).toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const block = end === -1 ? text : text.slice(0, end);
  const out: [string, string][] = [];
  for (const line of block.split(/\r?\n/)) {
    const last = out[out.length - 1];
    if (/^[ \t]/.test(line) && last) last[1] += ' ' + line.trim();
    else {
      const colon = line.indexOf(':');
      if (colon > 0)
        out.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
    }
  }
  return out;
}

const header = (headers: [string, string][], name: string) =>
  headers.find(([n]) => n === name)?.[1];

/** The storage layer (shared/src/storage-layer.ts) the MX puts around mail that came unencrypted. */
export async function encryptOnReceipt(
  raw: Buffer,
  key: openpgp.PublicKey,
  recipient: string,
  domain: string,
): Promise<Buffer> {
  const headers = headersOf(raw);
  const armored = await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: raw }),
    encryptionKeys: key,
    format: 'armored',
  });
  const wrapped = storageLayerMessage(armored, {
    by: 'provider',
    from: `Encrypted message <encrypted@${domain}>`,
    to: `<${recipient}>`,
    date:
      safeHeaderLine(header(headers, 'date')) ?? new Date().toUTCString().replace('GMT', '+0000'),
    messageId:
      safeHeaderLine(header(headers, 'message-id')) ??
      `<${randomBytes(16).toString('hex')}@${domain}>`,
    boundary: `enc-${randomBytes(12).toString('hex')}`,
  });
  return Buffer.from(wrapped, 'utf8');
}

/** True when the message is already RFC 3156 multipart/encrypted to one of `key`'s keys:
 * then it is stored as it came. */
export async function isEncryptedTo(raw: Buffer, key: openpgp.PublicKey): Promise<boolean> {
  const type = header(headersOf(raw), 'content-type')?.toLowerCase() ?? '';
  if (!type.startsWith('multipart/encrypted') || !type.includes('application/pgp-encrypted'))
    return false;
  const text = raw.toString('latin1');
  const start = text.indexOf('-----BEGIN PGP MESSAGE-----');
  const end = text.indexOf('-----END PGP MESSAGE-----', start);
  if (start === -1 || end === -1) return false;
  try {
    const message = await openpgp.readMessage({ armoredMessage: text.slice(start, end + 25) });
    const mine = new Set(key.getKeyIDs().map((id) => id.toHex()));
    return message.getEncryptionKeyIDs().some((id) => mine.has(id.toHex()));
  } catch {
    return false;
  }
}
