/**
 * What the compose action says while the user writes: will this message be encrypted, only
 * signed, or is it still being checked; and whether "encrypted only" must stop the send.
 * Pure: the background feeds it the compose details and the host's answer.
 */
import type { RecipientKeyInfo } from '../../shared/src/rpc.js';
import { COLORS } from './words.js';

/** The header the host's SMTP server reads to refuse a message it cannot encrypt. */
export const ENCRYPTED_ONLY_HEADER = 'X-Leap-Encrypted-Only';

export type ComposeState =
  'encrypted' | 'signed' | 'checking' | 'no_recipients' | 'openpgp' | 'not_leap';

export interface ComposeHint {
  state: ComposeState;
  badge: string;
  color: string;
  /** The compose action's short label on the toolbar. */
  label: string;
  /** The compose action's tooltip: the whole story in one sentence or two. */
  title: string;
  /** Recipients without a usable key, with the reason in words. */
  missing: { address: string; reason: string }[];
}

export interface ComposeInput {
  /** The sender is a LeapBird account (else the add-on has nothing to say). */
  leapIdentity: boolean;
  /** Thunderbird's own OpenPGP will encrypt this message. */
  builtInOpenPgp: boolean;
  recipients: string[];
  /** The host's answer for exactly these recipients, or null while it is being asked. */
  keys: RecipientKeyInfo[] | null;
}

type Recipient = string | { id?: string; type?: string } | undefined | null;

/** The bare, lower-cased address of "Name <a@b>" or "a@b"; null when there is none. */
export function addressOf(recipient: string): string | null {
  const angle = /<([^<>\s]+@[^<>\s]+)>\s*$/.exec(recipient);
  const bare = angle?.[1] ?? recipient.trim();
  return /^[^\s@<>,;"]+@[^\s@<>,;"]+$/.test(bare) ? bare.toLowerCase() : null;
}

/**
 * Every distinct address in To, Cc and Bcc. Address-book entries given by id (contacts and
 * lists) are left out: the host checks them at send time anyway.
 */
export function recipientsOf(details: { to?: unknown; cc?: unknown; bcc?: unknown }): string[] {
  const seen = new Set<string>();
  for (const field of [details.to, details.cc, details.bcc]) {
    const list: Recipient[] = Array.isArray(field) ? field : field ? [field as Recipient] : [];
    for (const r of list) {
      if (typeof r !== 'string') continue;
      for (const part of r.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
        const address = addressOf(part);
        if (address) seen.add(address);
      }
    }
  }
  return [...seen].sort();
}

/** Thunderbird's built-in OpenPGP is set to encrypt this message's body. */
export function usesBuiltInOpenPgp(details: {
  selectedEncryptionTechnology?: { name?: string; encryptBody?: boolean } | null;
}): boolean {
  const t = details.selectedEncryptionTechnology;
  return t?.name === 'OpenPGP' && t.encryptBody === true;
}

/** "No key was found." → "no key was found", to sit inside a sentence. */
export function reasonWords(reason: string | null): string {
  const r = (reason ?? '').trim().replace(/\.+$/, '');
  if (!r) return 'no key was found';
  return /^[A-Z][a-z]/.test(r) ? r[0]!.toLowerCase() + r.slice(1) : r;
}

function missingOf(keys: RecipientKeyInfo[]): ComposeHint['missing'] {
  return keys
    .filter((k) => k.status === 'no_key')
    .map((k) => ({ address: k.address, reason: reasonWords(k.reason) }));
}

export function composeHint(input: ComposeInput): ComposeHint {
  const none = { missing: [] };
  if (!input.leapIdentity)
    return {
      ...none,
      state: 'not_leap',
      label: 'LeapBird',
      badge: '',
      color: COLORS.muted,
      title: 'LeapBird: this identity is not a LeapBird account; it sends as usual.',
    };
  if (input.builtInOpenPgp)
    return {
      ...none,
      state: 'openpgp',
      label: 'OpenPGP',
      badge: 'PGP',
      color: COLORS.info,
      title:
        "Thunderbird's own OpenPGP encrypts this message; LeapBird leaves it as it is and does not encrypt it twice.",
    };
  if (input.recipients.length === 0)
    return {
      ...none,
      state: 'no_recipients',
      label: 'LeapBird',
      badge: '',
      color: COLORS.muted,
      title: 'LeapBird: add recipients to see whether this message will be encrypted.',
    };
  const keys = input.keys;
  if (!keys || keys.some((k) => k.status === 'checking'))
    return {
      ...none,
      state: 'checking',
      label: 'Checking…',
      badge: '…',
      color: COLORS.muted,
      title: 'LeapBird is looking for the recipients’ keys…',
    };
  const missing = missingOf(keys);
  if (missing.length === 0)
    return {
      ...none,
      state: 'encrypted',
      label: 'Encrypted',
      badge: 'enc',
      color: COLORS.ok,
      title:
        input.recipients.length === 1
          ? 'Will be encrypted and signed: the recipient has a key.'
          : 'Will be encrypted and signed: every recipient has a key.',
    };
  const who = missing.map((m) => `${m.address} (${m.reason})`).join('; ');
  return {
    state: 'signed',
    label: 'Signed only',
    badge: 'sig',
    color: COLORS.warn,
    missing,
    title: `Signed only, not encrypted: no key for ${who}.`,
  };
}

/**
 * Whether "encrypted only" stops this send, and why in words. The host's SMTP server
 * refuses such a message too (it sees the header); stopping here keeps it in the compose
 * window with a reason instead of an SMTP error.
 */
export function sendBlock(hint: ComposeHint, encryptedOnly: boolean): string | null {
  if (!encryptedOnly || hint.state === 'openpgp' || hint.state === 'not_leap') return null;
  if (hint.state === 'signed')
    return `Not sent: “encrypted only” is on, and there is no key for ${hint.missing
      .map((m) => `${m.address} (${m.reason})`)
      .join('; ')}. Remove them or switch “encrypted only” off for this message.`;
  if (hint.state !== 'encrypted')
    return 'Not sent: “encrypted only” is on, and the recipients’ keys could not be checked.';
  return null;
}

/** The compose details' custom headers with ours set (or removed) for this message. */
export function withEncryptedOnlyHeader(
  headers: { name: string; value: string }[] | undefined,
  encryptedOnly: boolean,
): { name: string; value: string }[] {
  const others = (headers ?? []).filter(
    (h) => h.name.toLowerCase() !== ENCRYPTED_ONLY_HEADER.toLowerCase(),
  );
  return encryptedOnly ? [...others, { name: ENCRYPTED_ONLY_HEADER, value: 'yes' }] : others;
}
