/**
 * IMAP flags as stored: the five system flags as a bit set (indexed counts and searches
 * such as UNSEEN need no JSON), keywords as a JSON array in the order first given.
 * System flags and keywords compare case-insensitively (RFC 3501 section 2.3.2 in practice);
 * \Recent is a session property and is never stored.
 */
import { SYSTEM_FLAGS } from '../imap/index.js';

const BITS = new Map<string, number>(SYSTEM_FLAGS.map((flag, i) => [flag.toLowerCase(), 1 << i]));

/** The bit of a system flag (any case), or undefined for keywords and unknown flags. */
export function systemFlagBit(flag: string): number | undefined {
  return BITS.get(flag.toLowerCase());
}

export interface StoredFlags {
  bits: number;
  keywords: string[];
}

export function parseFlags(flags: readonly string[]): StoredFlags {
  let bits = 0;
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const flag of flags) {
    const lower = flag.toLowerCase();
    const bit = BITS.get(lower);
    if (bit !== undefined) bits |= bit;
    else if (!lower.startsWith('\\') && lower.length > 0 && !seen.has(lower)) {
      seen.add(lower);
      keywords.push(flag);
    }
  }
  return { bits, keywords };
}

/** The system flags of every bit set, made once: formatting runs for each message fetched. */
const SYSTEM_FLAG_SETS: readonly (readonly string[])[] = Array.from(
  { length: 1 << SYSTEM_FLAGS.length },
  (_, bits) => SYSTEM_FLAGS.filter((_, i) => bits & (1 << i)),
);

export function formatFlags(bits: number, keywords: readonly string[]): string[] {
  const system = SYSTEM_FLAG_SETS[bits & (SYSTEM_FLAG_SETS.length - 1)]!;
  return keywords.length ? system.concat(keywords) : system.slice();
}

/** The flags of a messages row: its system flag bits and its keywords column (JSON). */
export function rowFlags(bits: number, keywordsJson: string): string[] {
  // Most messages have no keyword: no JSON parse for them.
  return formatFlags(bits, keywordsJson === '[]' ? [] : (JSON.parse(keywordsJson) as string[]));
}

export function applyFlagOperation(
  current: StoredFlags,
  operation: 'add' | 'remove' | 'replace',
  change: StoredFlags,
): StoredFlags {
  if (operation === 'replace') return change;
  const has = new Set(change.keywords.map((k) => k.toLowerCase()));
  if (operation === 'add') {
    const known = new Set(current.keywords.map((k) => k.toLowerCase()));
    return {
      bits: current.bits | change.bits,
      keywords: [
        ...current.keywords,
        ...change.keywords.filter((k) => !known.has(k.toLowerCase())),
      ],
    };
  }
  return {
    bits: current.bits & ~change.bits,
    keywords: current.keywords.filter((k) => !has.has(k.toLowerCase())),
  };
}

export function sameFlags(a: StoredFlags, b: StoredFlags): boolean {
  if (a.bits !== b.bits || a.keywords.length !== b.keywords.length) return false;
  const lower = new Set(a.keywords.map((k) => k.toLowerCase()));
  return b.keywords.every((k) => lower.has(k.toLowerCase()));
}
