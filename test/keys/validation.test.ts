/**
 * LEAP's replacement rules, one test each, plus the level order. Keys are described by the
 * facts the rules read; the manager tests show the same rules acting on real keys.
 */
import { describe, expect, it } from 'vitest';
import {
  canUpgrade,
  levelValue,
  upgradeDecision,
  VALIDATION_LEVELS,
  type UpgradeFacts,
} from '../../native-host/src/keys/index.js';

const NOW = Date.UTC(2026, 10, 23);
const DAY = 86_400_000;

function key(overrides: Partial<UpgradeFacts> = {}): UpgradeFacts {
  return {
    fingerprint: 'A'.repeat(40),
    validation: 'Provider_Trust',
    expires: NOW + 200 * DAY,
    encrUsed: true,
    signUsed: true,
    private: false,
    certifiedBy: [],
    ...overrides,
  };
}
const other = (overrides: Partial<UpgradeFacts> = {}) =>
  key({ fingerprint: 'B'.repeat(40), ...overrides });

describe('validation levels', () => {
  it("has LEAP's names in LEAP's order, values 0 to 7", () => {
    expect(VALIDATION_LEVELS).toEqual([
      'Weak_Chain',
      'Provider_Trust',
      'Provider_Endorsement',
      'Third_Party_Endorsement',
      'Third_Party_Consensus',
      'Historically_Auditing',
      'Known_Key',
      'Fingerprint',
    ]);
    expect(levelValue('Weak_Chain')).toBe(0);
    expect(levelValue('Fingerprint')).toBe(7);
  });
});

describe('canUpgrade', () => {
  it('accepts any key when none is known', () => {
    expect(upgradeDecision(other({ validation: 'Weak_Chain' }), null, NOW)).toEqual({
      allowed: true,
      reason: 'no_old_key',
    });
  });

  it('accepts the same key again (same fingerprint), whatever the source', () => {
    expect(
      upgradeDecision(key({ validation: 'Weak_Chain' }), key({ validation: 'Fingerprint' }), NOW)
        .reason,
    ).toBe('same_key');
  });

  it('accepts a key the user verified by fingerprint', () => {
    expect(
      upgradeDecision(other({ validation: 'Fingerprint' }), key({ validation: 'Known_Key' }), NOW)
        .reason,
    ).toBe('new_is_fingerprint');
  });

  it('replaces an expired key by one at least as well validated, not by a weaker one', () => {
    const expired = key({ expires: NOW - DAY });
    expect(upgradeDecision(other(), expired, NOW).reason).toBe('old_expired');
    expect(canUpgrade(other({ validation: 'Weak_Chain' }), expired, NOW)).toBe(false);
  });

  it('replaces a never-expiring key only by a strictly better validated one', () => {
    const forever = key({ expires: null });
    expect(
      upgradeDecision(other({ validation: 'Provider_Endorsement' }), forever, NOW).reason,
    ).toBe('old_never_expires');
    expect(canUpgrade(other(), forever, NOW)).toBe(false);
  });

  it('replaces a key not yet used for both signing and encryption by a strictly better one', () => {
    for (const unused of [key({ encrUsed: false }), key({ signUsed: false })]) {
      expect(
        upgradeDecision(other({ validation: 'Third_Party_Endorsement' }), unused, NOW).reason,
      ).toBe('old_not_fully_used');
      expect(canUpgrade(other(), unused, NOW)).toBe(false);
    }
    expect(canUpgrade(other({ validation: 'Third_Party_Endorsement' }), key(), NOW)).toBe(false);
  });

  it('accepts a new key certified by the old one (a key change the owner announced)', () => {
    expect(
      upgradeDecision(
        other({ validation: 'Weak_Chain', certifiedBy: ['A'.repeat(40)] }),
        key(),
        NOW,
      ).reason,
    ).toBe('signed_by_old');
  });

  it('never replaces the own key by one without its private part, not even by the same key', () => {
    const own = key({ private: true, validation: 'Fingerprint' });
    expect(upgradeDecision(key(), own, NOW)).toEqual({
      allowed: false,
      reason: 'own_key_needs_private_part',
    });
    expect(canUpgrade(other({ validation: 'Fingerprint' }), own, NOW)).toBe(false);
    expect(canUpgrade(key({ private: true }), own, NOW)).toBe(true);
  });

  it("does not let an attacker's key from a weaker source replace a verified one", () => {
    const verified = key({ validation: 'Fingerprint', encrUsed: false, signUsed: false });
    for (const level of ['Weak_Chain', 'Provider_Trust', 'Known_Key'] as const) {
      expect(upgradeDecision(other({ validation: level }), verified, NOW)).toEqual({
        allowed: false,
        reason: 'not_allowed',
      });
    }
    // Nor a provider-vouched key that has been used both ways.
    expect(canUpgrade(other({ validation: 'Weak_Chain' }), key(), NOW)).toBe(false);
  });
});
