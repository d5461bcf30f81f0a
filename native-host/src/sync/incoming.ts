/**
 * The incoming pipeline for one upstream message. First every storage layer comes off (the
 * provider's, for mail that arrived unencrypted, or the host's own for the copies it
 * uploads): what is left is the message exactly as its sender sent it. That is opened once:
 * decrypted if its sender encrypted it, its signature checked against the key already
 * accepted for the sender, then the keys it carries learned as far as Autocrypt allows.
 * The result carries LEAP's status fields, put first at the store's entry (which drops
 * every other `X-Leap-*` field, whoever wrote it):
 *   X-Leap-Encryption: end-to-end | stored | none | failed; reason="<plain words>"
 *   X-Leap-Signature: valid; pubkey="<FPR>"; signer="<address>" | invalid | unknown-key | none
 * `end-to-end`: its sender encrypted it. `stored`: it arrived unencrypted and the provider
 * stored it encrypted (so the provider did see it). `none`: not protected at all.
 * A message nothing can open is kept as it came and, when a new key may cure it, retried.
 */
import { createHash } from 'node:crypto';
import {
  looksEncrypted,
  openMessage,
  openStorageLayer,
  type CryptoErrorCode,
  type HarvestedKey,
  type Verification,
} from '../crypto/index.js';
import { rewriteHeader } from '../mime/index.js';

/** What the sync engine needs from the key manager (`keyManagerKeys` adapts a KeyManager). */
export interface SyncKeys {
  /** The user's private keys, armoured, current first, older ones after. */
  decryptionKeys(): Promise<string[]>;
  /** Keys already accepted for the sender, to check a signature with. */
  senderKeys(sender: string | null): Promise<string[]>;
  /** Files the keys a message may teach (see crypto's `keysToLearn`). */
  learn?(harvested: HarvestedKey[]): Promise<unknown>;
  /** The user's current key pair, to encrypt what goes upstream; null when there is none. */
  ownKey(): Promise<{ address: string; privateArmored: string; publicArmored: string } | null>;
}

export type EncryptionStatus = 'end-to-end' | 'stored' | 'none' | 'failed';

export interface IncomingResult {
  /** The bytes to store, without any `X-Leap-*` field. */
  message: Buffer;
  /** The status fields (`Name: value`), trusted because this pipeline made them. */
  statusFields: string[];
  encryption: EncryptionStatus;
  signature: string;
  /** Why opening failed, when it did. */
  failure: { code: CryptoErrorCode; message: string } | null;
  /** The failure is one a new key can cure: retry when the keys change. */
  retry: boolean;
}

/** Failures a new key can cure (the others are broken input and stay as they are). */
const RETRYABLE = new Set(['wrong_key', 'decryption_failed', 'no_usable_key', 'invalid_key']);
/** What the add-on shows after "could not be opened:"; plain words, never a quote. */
const FAILURE_WORDS: Record<CryptoErrorCode, string> = {
  invalid_key: 'no usable key',
  no_usable_key: 'no usable key',
  wrong_key: 'not encrypted to your key',
  decryption_failed: 'decryption failed',
  malformed_message: 'damaged',
  malformed_armor: 'damaged',
  encryption_failed: 'damaged',
  signing_failed: 'damaged',
  too_deep: 'nested too deeply',
  too_large: 'too large when decompressed',
  partly_encrypted: 'only part of it is encrypted',
};
/** Storage layers around one message: more than this is not something a provider makes. */
const MAX_LAYERS = 3;

const withoutLeapFields = (message: Buffer) =>
  rewriteHeader(message, { drop: (key) => key.startsWith('x-leap-') });

export async function processIncoming(
  raw: Buffer,
  keys: SyncKeys,
  decryptionKeys: string[],
): Promise<IncomingResult> {
  let current = raw;
  let stored = false;
  let failure: IncomingResult['failure'] = null;
  for (let layer = 0; layer < MAX_LAYERS; layer++) {
    const opened = await openStorageLayer(current, decryptionKeys);
    if (opened === null) break;
    if (!opened.ok) {
      failure = opened.error;
      break;
    }
    current = opened.value;
    stored = true;
  }
  let encryption: EncryptionStatus = failure ? 'failed' : stored ? 'stored' : 'none';
  let signature = failure ? 'unknown-key' : 'none';
  if (!failure) {
    const opened = await openMessage(current, {
      decryptionKeys,
      senderKeys: (sender) => keys.senderKeys(sender),
    });
    if (!opened.ok) {
      if (looksEncrypted(current)) {
        failure = opened.error;
        encryption = 'failed';
        signature = 'unknown-key';
      } else {
        // A signed message too broken to check (a multipart/signed without its signature).
        signature = 'invalid';
      }
    } else {
      const value = opened.value;
      if (value.harvestedKeys.length && keys.learn) await keys.learn(value.harvestedKeys);
      signature = signatureField(value.verification);
      // Only decryption changes what is stored: a signed-only message stays exactly as its
      // sender sent it, so any client can check the signature again.
      if (value.encryption !== 'none') {
        encryption = 'end-to-end';
        current = value.message;
      }
    }
  }
  const encryptionField =
    encryption === 'failed' ? `failed; reason="${FAILURE_WORDS[failure!.code]}"` : encryption;
  return {
    message: withoutLeapFields(current),
    statusFields: [`X-Leap-Encryption: ${encryptionField}`, `X-Leap-Signature: ${signature}`],
    encryption,
    signature,
    failure,
    retry: failure !== null && RETRYABLE.has(failure.code),
  };
}

function signatureField(v: Verification): string {
  switch (v.status) {
    case 'valid': {
      const signer = v.signerAddress ? `; signer="${v.signerAddress}"` : '';
      return `valid; pubkey="${(v.signerFingerprint ?? '').toUpperCase()}"${signer}`;
    }
    case 'invalid':
      return 'invalid';
    case 'unknown_key':
      return 'unknown-key';
    default:
      return 'none';
  }
}

/** A digest of the key set, to notice a new key (and retry what could not be opened). */
export function keySetDigest(armoredKeys: string[]): string {
  const hash = createHash('sha256');
  for (const key of armoredKeys) hash.update(key).update('\0');
  return hash.digest('hex');
}
