/**
 * LEAP's validation levels and key replacement rules (bitmask-dev keymanager/validation.py
 * and keymanager/__init__.py `can_upgrade`). The order matters: a key learned through a
 * weaker channel must never push out one learned through a stronger one, or an attacker
 * who can inject a header or a keyserver entry would take over a correspondent.
 */
export const VALIDATION_LEVELS = [
  'Weak_Chain',
  'Provider_Trust',
  'Provider_Endorsement',
  'Third_Party_Endorsement',
  'Third_Party_Consensus',
  'Historically_Auditing',
  'Known_Key',
  'Fingerprint',
] as const;

export type ValidationLevel = (typeof VALIDATION_LEVELS)[number];

export function levelValue(level: ValidationLevel): number {
  return VALIDATION_LEVELS.indexOf(level);
}

export function isValidationLevel(value: unknown): value is ValidationLevel {
  return typeof value === 'string' && (VALIDATION_LEVELS as readonly string[]).includes(value);
}

/** What the rules look at, for the key already known and for the candidate. */
export interface UpgradeFacts {
  fingerprint: string;
  validation: ValidationLevel;
  /** Expiry in ms since the epoch; null when the key never expires. */
  expires: number | null;
  /** The key has been used to encrypt to / to verify a signature with. */
  encrUsed: boolean;
  signUsed: boolean;
  /** The private part is known (the user's own key). */
  private: boolean;
  /** Fingerprints of keys with a valid certification on this key. */
  certifiedBy: string[];
  /** The key was only ever seen in messages (Autocrypt, gossip, an attachment). */
  messageBorne?: boolean;
}

/** Which rule decided, for logs and tests (the rules themselves are LEAP's). */
export type UpgradeReason =
  | 'no_old_key'
  | 'own_key_needs_private_part'
  | 'same_key'
  | 'new_is_fingerprint'
  | 'old_expired'
  | 'old_never_expires'
  | 'old_not_fully_used'
  | 'signed_by_old'
  | 'old_from_message'
  | 'not_allowed';

export function upgradeDecision(
  candidate: UpgradeFacts,
  known: UpgradeFacts | null,
  now: number,
): { allowed: boolean; reason: UpgradeReason } {
  const yes = (reason: UpgradeReason) => ({ allowed: true, reason });
  if (known === null) return yes('no_old_key');
  // Checked before "same key": a public copy of the own key must not drop its private part.
  if (known.private && !candidate.private)
    return { allowed: false, reason: 'own_key_needs_private_part' };
  if (candidate.fingerprint === known.fingerprint) return yes('same_key');
  if (candidate.validation === 'Fingerprint') return yes('new_is_fingerprint');
  const higher = levelValue(candidate.validation) > levelValue(known.validation);
  const notLower = levelValue(candidate.validation) >= levelValue(known.validation);
  if (known.expires !== null && known.expires < now && notLower) return yes('old_expired');
  if (known.expires === null && higher) return yes('old_never_expires');
  if (!(known.encrUsed && known.signUsed) && higher) return yes('old_not_fully_used');
  if (candidate.certifiedBy.includes(known.fingerprint)) return yes('signed_by_old');
  // Anyone can put a key in a header: what the address's own provider serves (nicknym, WKD)
  // replaces it, or a planted key would keep its place for good.
  if (known.messageBorne && levelValue(candidate.validation) >= levelValue('Provider_Trust'))
    return yes('old_from_message');
  return { allowed: false, reason: 'not_allowed' };
}

export function canUpgrade(
  candidate: UpgradeFacts,
  known: UpgradeFacts | null,
  now = Date.now(),
): boolean {
  return upgradeDecision(candidate, known, now).allowed;
}
