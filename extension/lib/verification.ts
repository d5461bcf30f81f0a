/**
 * What a displayed message's protection is, from the headers the host wrote when it stored
 * the message (it strips any X-Leap-* that came from outside, so only its own arrive here),
 * and how the badge and the banner say it. Pure.
 *
 * Three kinds of protection are kept apart everywhere (Proton Mail marks the same ones):
 * end-to-end (its sender encrypted it), stored (it arrived unencrypted and the provider
 * encrypted it for storage: the provider and the network saw it, so it is neutral, never
 * green) and none.
 */
import type { ContactKeySummary } from '../../shared/src/rpc.js';
import { normaliseAddress } from '../../shared/src/address.js';
import { COLORS } from './words.js';

export type Encryption = 'end-to-end' | 'stored' | 'none' | 'failed' | 'unknown';
export type Signature = 'valid' | 'invalid' | 'unknown-key' | 'none';
export type Protection = 'end-to-end' | 'stored' | 'none';

export interface LeapHeaders {
  encryption: Encryption;
  signature: Signature;
  /** The signing key's fingerprint when the signature is valid. */
  signer: string | null;
  /** The signing key's user ID the host matched to the sender, when the signature is valid. */
  signerAddress: string | null;
  /** Why the message could not be opened, in the host's words, when encryption is failed. */
  reason: string | null;
}

export type DisplayState =
  | 'bad_signature'
  | 'signed_verified'
  | 'signed_unverified'
  | 'encrypted'
  | 'stored'
  | 'undecryptable'
  | 'not_protected'
  | 'unknown';

export interface DisplayView {
  state: DisplayState;
  /** Which of the three kinds of protection the message had; drives the colours. */
  protection: Protection;
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
  const value = headers[name];
  const one = Array.isArray(value) ? value[0] : value;
  return typeof one === 'string' ? one.trim() : null;
}

/** A `name="value"` parameter of a status field. */
function param(field: string, name: string): string | null {
  return new RegExp(`;\\s*${name}="([^"]*)"`, 'i').exec(field)?.[1] ?? null;
}

/** The field's first word, before any parameter. */
const token = (field: string) => (field.split(';')[0] ?? '').trim().toLowerCase();

const NOTHING: LeapHeaders = {
  encryption: 'unknown',
  signature: 'none',
  signer: null,
  signerAddress: null,
  reason: null,
};

/**
 * Reads X-Leap-Encryption and X-Leap-Signature. More than one copy of a field means the host
 * did not write them (it writes exactly one of each): trust nothing then. `decrypted` and
 * `could not verify` are what older hosts wrote: the first meant "the MX encrypted it on
 * arrival" as often as not, so it counts as stored, never as end-to-end.
 */
export function readLeapHeaders(headers: Headers): LeapHeaders {
  const lower: Headers = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const count = (name: string) => {
    const v = lower[name];
    return Array.isArray(v) ? v.length : v === undefined ? 0 : 1;
  };
  if (count('x-leap-encryption') > 1 || count('x-leap-signature') > 1) return NOTHING;
  const encField = first(lower, 'x-leap-encryption') ?? '';
  const encryption: Encryption =
    (
      {
        'end-to-end': 'end-to-end',
        stored: 'stored',
        decrypted: 'stored',
        none: 'none',
        failed: 'failed',
      } as const
    )[token(encField)] ?? 'unknown';
  const reason = encryption === 'failed' ? (param(encField, 'reason') ?? '') : null;
  const base = { ...NOTHING, encryption, reason };
  const sigField = first(lower, 'x-leap-signature') ?? '';
  switch (token(sigField)) {
    case 'valid': {
      const fpr = /^[0-9a-f]{16,64}$/i.test(param(sigField, 'pubkey') ?? '')
        ? param(sigField, 'pubkey')!.toUpperCase()
        : null;
      return { ...base, signature: 'valid', signer: fpr, signerAddress: param(sigField, 'signer') };
    }
    case 'invalid':
      return { ...base, signature: 'invalid' };
    case 'unknown-key':
    case 'could not verify':
      return { ...base, signature: 'unknown-key' };
    default:
      return base;
  }
}

/**
 * Verified means: the key record for the From address holds the signing key's fingerprint
 * at "Fingerprint" level (the user checked it with that person), and the key names that
 * address (the host writes the user ID it matched as `signer`). Any other contact's checked
 * key proves nothing about this sender: a verified contact could otherwise sign mail "From"
 * someone else and have it shown as verified. Both addresses are compared normalised, as
 * the host files keys.
 */
export function isVerified(
  h: Pick<LeapHeaders, 'signer' | 'signerAddress'>,
  from: string | null,
  contacts: Pick<ContactKeySummary, 'address' | 'fingerprint' | 'validation'>[],
): boolean {
  const sender = from ? normaliseAddress(from) : null;
  if (!h.signer || !sender) return false;
  if (!h.signerAddress || normaliseAddress(h.signerAddress) !== sender) return false;
  return contacts.some(
    (c) =>
      normaliseAddress(c.address) === sender &&
      c.fingerprint.toUpperCase() === h.signer &&
      c.validation === 'Fingerprint',
  );
}

const PROTECTION_LABEL: Record<Protection, string> = {
  'end-to-end': 'Encrypted',
  stored: 'Stored encrypted',
  none: 'Not encrypted',
};

/** What is said about a message that was not encrypted end to end. */
const NOT_E2E: Record<Exclude<Protection, 'end-to-end'>, string> = {
  stored:
    'Not end-to-end encrypted: it arrived unencrypted, so the network and your provider could read it; your provider stores it encrypted.',
  none: 'Not encrypted.',
};

export function displayView(
  h: LeapHeaders,
  options: { verified: boolean; sender: string | null },
): DisplayView {
  const protection: Protection =
    h.encryption === 'end-to-end' || h.encryption === 'stored' ? h.encryption : 'none';
  const from = options.sender ? ` by ${options.sender}` : '';
  const base = { protection, alarm: false, signerFingerprint: h.signer };
  const e2e = protection === 'end-to-end';
  const lead = e2e ? `Encrypted and signed${from}` : `Signed${from}`;
  const tail = protection === 'end-to-end' ? '' : ` ${NOT_E2E[protection]}`;
  // The badge names the protection first: 'rest' is only ever stored, 'enc' and '✓' only
  // ever end to end, so a glance never mistakes one for the other.
  const signedBadge = e2e ? 'enc' : protection === 'stored' ? 'rest' : 'sig';
  // The host writes both fields on every message it stored: without them it did not check.
  if (h.encryption === 'unknown')
    return {
      ...base,
      state: 'unknown',
      label: 'LeapBird',
      badge: '',
      color: COLORS.muted,
      title: 'LeapBird did not check this message (it is not in a LeapBird account).',
      banner: '',
    };
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
  if (h.encryption === 'failed') {
    // The host's reason is a code (`wrong_key`) or words (`partly encrypted`): words either way.
    const reason = (h.reason ?? '').replace(/_/g, ' ').trim() || 'no reason given';
    return {
      ...base,
      state: 'undecryptable',
      label: 'Cannot open',
      badge: '!',
      color: COLORS.warn,
      title: `This message could not be opened: ${reason}.`,
      banner: `This message could not be opened: ${reason}. Nothing in it is shown as protected.`,
    };
  }
  if (h.signature === 'valid' && options.verified)
    return {
      ...base,
      state: 'signed_verified',
      label: `${PROTECTION_LABEL[protection]}, verified`,
      badge: e2e ? '✓' : signedBadge,
      color: e2e ? COLORS.ok : COLORS.info,
      title: `${lead} with a key you verified.${tail}`,
      banner: `${lead}, with a key whose fingerprint you checked with them.${tail}`,
    };
  if (h.signature === 'valid')
    return {
      ...base,
      state: 'signed_unverified',
      label: `${PROTECTION_LABEL[protection]}, signed`,
      badge: signedBadge,
      color: e2e ? COLORS.ok : COLORS.info,
      title: `${lead}; the key is not verified yet.${tail}`,
      banner: `${lead}. The key was found automatically; compare its fingerprint with them to verify it.${tail}`,
    };
  const unsigned =
    h.signature === 'unknown-key'
      ? 'It is signed with a key LeapBird does not know yet, so the sender is not confirmed.'
      : 'It is not signed, so the sender is not confirmed.';
  if (e2e)
    return {
      ...base,
      state: 'encrypted',
      label: 'Encrypted',
      badge: 'enc',
      color: COLORS.ok,
      title: `Encrypted by its sender. ${unsigned}`,
      banner: `This message was encrypted by its sender. ${unsigned}`,
    };
  if (protection === 'stored')
    return {
      ...base,
      state: 'stored',
      label: 'Stored encrypted',
      badge: 'rest',
      color: COLORS.muted,
      title: `Not encrypted by its sender; stored encrypted by your provider. ${unsigned}`,
      banner: `${NOT_E2E.stored} ${unsigned}`,
    };
  return {
    ...base,
    state: 'not_protected',
    label: 'Not protected',
    badge: '',
    color: COLORS.muted,
    title: `Not protected: this message is not encrypted. ${unsigned}`,
    banner: `Not protected: this message is not encrypted. ${unsigned}`,
  };
}
