/**
 * What a displayed message's protection is, from the headers the host wrote when it stored
 * the message (it strips any X-Leap-* that came from outside, so only its own arrive here),
 * and how the badge and the banner say it. Pure.
 */
import type { ContactKeySummary } from '../../shared/src/rpc.js';
import { COLORS } from './words.js';

export type Encryption = 'decrypted' | 'none' | 'failed' | 'unknown';
export type Signature = 'valid' | 'invalid' | 'unverifiable' | 'none';

export interface LeapHeaders {
  encryption: Encryption;
  signature: Signature;
  /** The signing key's fingerprint when the signature is valid. */
  signer: string | null;
}

export type DisplayState =
  | 'bad_signature'
  | 'signed_verified'
  | 'signed_unverified'
  | 'encrypted'
  | 'undecryptable'
  | 'not_protected'
  | 'unknown';

export interface DisplayView {
  state: DisplayState;
  encrypted: boolean;
  badge: string;
  color: string;
  /** The button's short label next to the message's other actions. */
  label: string;
  /** One line for the badge's tooltip. */
  title: string;
  /** The banner's sentence. */
  banner: string;
  /** The banner must be impossible to miss. */
  alarm: boolean;
  signerFingerprint: string | null;
}

type Headers = Record<string, string[] | string | undefined>;

function first(headers: Headers, name: string): string | null {
  const value = headers[name] ?? headers[name.toLowerCase()];
  const one = Array.isArray(value) ? value[0] : value;
  return typeof one === 'string' ? one.trim() : null;
}

/**
 * Reads X-Leap-Encryption and X-Leap-Signature. More than one copy of a field means the host
 * did not write them (it writes exactly one of each): trust nothing then.
 */
export function readLeapHeaders(headers: Headers): LeapHeaders {
  const lower: Headers = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const count = (name: string) => {
    const v = lower[name];
    return Array.isArray(v) ? v.length : v === undefined ? 0 : 1;
  };
  if (count('x-leap-encryption') > 1 || count('x-leap-signature') > 1)
    return { encryption: 'unknown', signature: 'none', signer: null };
  const enc = (first(lower, 'x-leap-encryption') ?? '').toLowerCase();
  const encryption: Encryption = enc.startsWith('decrypted')
    ? 'decrypted'
    : enc.startsWith('none')
      ? 'none'
      : enc.startsWith('failed')
        ? 'failed'
        : 'unknown';
  const sig = first(lower, 'x-leap-signature') ?? '';
  if (/^valid\b/i.test(sig)) {
    const fpr = /pubkey="?([0-9A-Fa-f]{16,64})"?/.exec(sig)?.[1]?.toUpperCase() ?? null;
    return { encryption, signature: 'valid', signer: fpr };
  }
  if (/^invalid\b/i.test(sig)) return { encryption, signature: 'invalid', signer: null };
  if (/^could not verify\b/i.test(sig))
    return { encryption, signature: 'unverifiable', signer: null };
  return { encryption, signature: 'none', signer: null };
}

/** A fingerprint the user checked with the contact ("Fingerprint" level) counts as verified. */
export function isVerified(
  fingerprint: string | null,
  contacts: Pick<ContactKeySummary, 'fingerprint' | 'validation'>[],
): boolean {
  if (!fingerprint) return false;
  return contacts.some(
    (c) => c.fingerprint.toUpperCase() === fingerprint && c.validation === 'Fingerprint',
  );
}

export function displayView(
  h: LeapHeaders,
  options: { verified: boolean; sender: string | null },
): DisplayView {
  const encrypted = h.encryption === 'decrypted';
  const from = options.sender ? ` by ${options.sender}` : '';
  const base = { encrypted, alarm: false, signerFingerprint: h.signer };
  const enc = encrypted ? 'Encrypted and signed' : 'Signed';
  if (h.signature === 'invalid')
    return {
      ...base,
      state: 'bad_signature',
      label: 'BAD SIGNATURE',
      badge: '!',
      color: COLORS.bad,
      alarm: true,
      title: 'Bad signature: this message was changed or forged. Do not trust it.',
      banner: `Warning: BAD SIGNATURE. This message claims to come from ${options.sender ?? 'someone'}, but its signature does not match: it was changed on the way or forged. Do not trust what it says or asks.`,
    };
  if (h.signature === 'valid' && options.verified)
    return {
      ...base,
      state: 'signed_verified',
      label: encrypted ? 'Encrypted, verified' : 'Signed, verified',
      badge: '✓',
      color: COLORS.ok,
      title: `${enc}${from} with a key you verified.`,
      banner: `${enc}${from}, with a key whose fingerprint you checked with them.`,
    };
  if (h.signature === 'valid')
    return {
      ...base,
      state: 'signed_unverified',
      label: encrypted ? 'Encrypted, signed' : 'Signed',
      badge: encrypted ? 'enc' : 'sig',
      color: encrypted ? COLORS.ok : COLORS.info,
      title: `${enc}${from}; the key is not verified yet.`,
      banner: `${enc}${from}. The key was found automatically; compare its fingerprint with them to verify it.`,
    };
  if (h.encryption === 'failed')
    return {
      ...base,
      state: 'undecryptable',
      label: 'Cannot decrypt',
      badge: '!',
      color: COLORS.warn,
      title: 'This message is encrypted, but it could not be opened with your key.',
      banner: 'This message is encrypted, but it could not be opened with your key.',
    };
  const unsigned =
    h.signature === 'unverifiable'
      ? ' It carries a signature that could not be checked (the sender’s key is unknown).'
      : ' It is not signed, so the sender is not confirmed.';
  if (encrypted)
    return {
      ...base,
      state: 'encrypted',
      label: 'Encrypted',
      badge: 'enc',
      color: COLORS.ok,
      title: `Encrypted.${unsigned}`,
      banner: `This message was encrypted.${unsigned}`,
    };
  if (h.encryption === 'none')
    return {
      ...base,
      state: 'not_protected',
      label: 'Not protected',
      badge: '',
      color: COLORS.muted,
      title: `Not protected: this message arrived unencrypted.${unsigned}`,
      banner: `Not protected: this message arrived unencrypted.${unsigned}`,
    };
  return {
    ...base,
    state: 'unknown',
    label: 'LeapBird',
    badge: '',
    color: COLORS.muted,
    title: 'LeapBird did not check this message (it is not in a LeapBird account).',
    banner: '',
  };
}
