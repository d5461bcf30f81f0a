/**
 * The incoming pipeline for one upstream message: decrypt (PGP/MIME or inline, with the
 * user's current or older keys; also the sender's own encryption inside the provider's),
 * verify against the sender's key (keys the message carries are harvested first), strip any
 * `X-Leap-*` header that came from outside, and add LEAP's status headers:
 *   X-Leap-Encryption: decrypted | none | failed; reason="<code>"
 *   X-Leap-Signature: valid; pubkey="<FPR>" | invalid | could not verify | none
 * A message nothing can open is kept as it came (plus the headers) and marked for a retry.
 */
import { createHash } from 'node:crypto';
import { isEncryptedMessage, openMessage, type HarvestedKey } from '../crypto/index.js';

/** What the sync engine needs from the key manager (`keyManagerKeys` adapts a KeyManager). */
export interface SyncKeys {
  /** The user's private keys, armoured, current first, older ones after. */
  decryptionKeys(): Promise<string[]>;
  /** Keys to check the sender's signature with; files the harvested keys first. */
  senderKeys(sender: string | null, harvested: HarvestedKey[]): Promise<string[]>;
  /** Files keys from a message that was not signed (Autocrypt, attachments). */
  learn?(harvested: HarvestedKey[]): Promise<unknown>;
  /** The user's current key pair, to encrypt what goes upstream; null when there is none. */
  ownKey(): Promise<{ address: string; privateArmored: string } | null>;
}

export type EncryptionStatus = 'decrypted' | 'none' | 'failed';

export interface IncomingResult {
  /** The bytes to store. */
  message: Buffer;
  encryption: EncryptionStatus;
  signature: string;
  /** Why decryption failed, when it did. */
  failure: { code: string; message: string } | null;
  /** The failure is one a new key can cure: retry when the keys change. */
  retry: boolean;
}

/** Failures a new key can cure (the others are broken input and stay as they are). */
const RETRYABLE = new Set(['wrong_key', 'decryption_failed', 'no_usable_key', 'invalid_key']);
/** The provider wraps what the sender already encrypted: at most this many layers. */
const MAX_LAYERS = 3;

export async function processIncoming(
  raw: Buffer,
  keys: SyncKeys,
  decryptionKeys: string[],
): Promise<IncomingResult> {
  let current = raw;
  let decrypted = false;
  let signature: string | null = null;
  let failure: IncomingResult['failure'] = null;
  for (let layer = 0; layer < MAX_LAYERS; layer++) {
    if (layer > 0 && !isEncryptedMessage(current)) break;
    const opened = await openMessage(current, {
      decryptionKeys,
      senderKeys: (sender, harvested) => keys.senderKeys(sender, harvested),
    });
    if (!opened.ok) {
      if (isEncryptedMessage(current)) failure = opened.error;
      break;
    }
    const value = opened.value;
    if (value.verification.status === 'none' && value.harvestedKeys.length && keys.learn) {
      await keys.learn(value.harvestedKeys);
    }
    signature ??= signatureHeader(value.verification);
    if (value.encryption === 'none') break;
    decrypted = true;
    current = value.message;
  }
  const encryption: EncryptionStatus = failure ? 'failed' : decrypted ? 'decrypted' : 'none';
  const sig = failure ? 'could not verify' : (signature ?? 'none');
  const encryptionHeader =
    encryption === 'failed' ? `failed; reason="${failure!.code}"` : encryption;
  return {
    message: withLeapHeaders(current, [
      ['X-Leap-Encryption', encryptionHeader],
      ['X-Leap-Signature', sig],
    ]),
    encryption,
    signature: sig,
    failure,
    retry: failure !== null && RETRYABLE.has(failure.code),
  };
}

function signatureHeader(v: { status: string; signerFingerprint: string | null }): string | null {
  switch (v.status) {
    case 'valid':
      return `valid; pubkey="${(v.signerFingerprint ?? '').toUpperCase()}"`;
    case 'invalid':
      return 'invalid';
    case 'unknown_key':
      return 'could not verify';
    default:
      return null;
  }
}

/** Where the header section ends: the index of the empty line's first byte, and its EOL. */
function headerEnd(message: Buffer): { end: number; eol: string } {
  for (let i = 0; i < message.length; i++) {
    if (message[i] !== 0x0a) continue;
    if (message[i + 1] === 0x0a) return { end: i + 1, eol: '\n' };
    if (message[i + 1] === 0x0d && message[i + 2] === 0x0a) return { end: i + 1, eol: '\r\n' };
  }
  const crlf = message.indexOf('\r\n') !== -1;
  return { end: message.length, eol: crlf ? '\r\n' : '\n' };
}

/**
 * Removes every `X-Leap-*` field (with its folded continuation lines) from the header
 * section, then puts `fields` first. The rest of the message is untouched, byte for byte.
 */
export function withLeapHeaders(message: Buffer, fields: [string, string][]): Buffer {
  const { end, eol } = headerEnd(message);
  const header = message.subarray(0, end);
  const kept: Buffer[] = [];
  let dropping = false;
  let start = 0;
  while (start < header.length) {
    let stop = header.indexOf(0x0a, start);
    stop = stop === -1 ? header.length : stop + 1;
    const line = header.subarray(start, stop);
    const continuation = line[0] === 0x20 || line[0] === 0x09;
    if (!continuation) dropping = /^x-leap-/i.test(line.subarray(0, 8).toString('latin1'));
    if (!dropping) kept.push(line);
    start = stop;
  }
  const added = Buffer.from(fields.map(([name, value]) => `${name}: ${value}${eol}`).join(''));
  return Buffer.concat([added, ...kept, message.subarray(end)]);
}

/** A digest of the key set, to notice a new key (and retry what could not be opened). */
export function keySetDigest(armoredKeys: string[]): string {
  const hash = createHash('sha256');
  for (const key of armoredKeys) hash.update(key).update('\0');
  return hash.digest('hex');
}
