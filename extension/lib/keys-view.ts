/** How keys are shown: fingerprints in groups, validation levels and sources in words. Pure. */
import type { ValidationLevelName } from '../../shared/src/rpc.js';

/** "ABCD EF01 …": groups of four, as people read them out to each other. */
export function groupFingerprint(fingerprint: string): string {
  const clean = fingerprint.replace(/[^0-9A-Fa-f]/g, '').toUpperCase();
  return (clean.match(/.{1,4}/g) ?? []).join(' ');
}

const LEVEL_WORDS: Record<ValidationLevelName, string> = {
  Weak_Chain: 'weak: found without any confirmation',
  Provider_Trust: 'found at their provider',
  Provider_Endorsement: 'confirmed by their provider',
  Third_Party_Endorsement: 'confirmed by a third party',
  Third_Party_Consensus: 'confirmed by several independent sources',
  Historically_Auditing: 'consistent over time',
  Known_Key: 'known: they used it with you before',
  Fingerprint: 'verified by you',
};

export function validationWords(level: string | null): string {
  if (!level) return 'unknown';
  return (LEVEL_WORDS as Record<string, string>)[level] ?? level.replace(/_/g, ' ');
}

export function isVerifiedLevel(level: string | null): boolean {
  return level === 'Fingerprint';
}

const SOURCE_WORDS: Record<string, string> = {
  autocrypt: 'from a message they sent (Autocrypt)',
  nicknym: 'from their LEAP provider (Nicknym)',
  wkd: 'from their mail domain (Web Key Directory)',
  vks: 'from keys.openpgp.org',
  manual: 'added by hand',
  attachment: 'attached to a message they sent',
};

export function sourceWords(source: string): string {
  return SOURCE_WORDS[source.toLowerCase()] ?? source;
}

/** A date as people read it, in their locale; "never" for a key that does not expire. */
export function dateWords(iso: string | null, locale?: string): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return 'unknown';
  return d.toLocaleDateString(locale, { year: 'numeric', month: 'long', day: 'numeric' });
}
