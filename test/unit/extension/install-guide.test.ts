/**
 * What the add-on tells a person whose LeapBird program is missing or of another version:
 * the file for their system, the steps in words, and the developer's command only last.
 */
import { describe, expect, it } from 'vitest';
import {
  hostProblemOf,
  installGuide,
  protocolFromRefusal,
} from '../../../extension/lib/install-guide.js';

const linux = { os: 'linux', arch: 'x86-64' };

describe('the install guide', () => {
  it('offers the .deb and the tarball on 64-bit PC Linux, each with its steps', () => {
    const guide = installGuide({ kind: 'missing' }, linux, '1.2.3');
    expect(guide.choices.map((c) => c.file)).toEqual([
      'leapbird-host_1.2.3_amd64.deb',
      'leapbird-host-1.2.3-linux-x64.tar.gz',
    ]);
    expect(guide.choices[1]!.steps.join(' ')).toMatch(/run install\.sh/);
    const words = [guide.headline, guide.explanation, ...guide.choices.flatMap((c) => c.steps)];
    expect(words.join(' ')).not.toMatch(/npm/);
    expect(guide.developer).toMatch(/npm run install-host/);
  });

  it('offers no package where none is built, and says so', () => {
    for (const platform of [
      { os: 'win', arch: 'x86-64' },
      { os: 'linux', arch: 'aarch64' },
    ]) {
      const guide = installGuide({ kind: 'missing' }, platform);
      expect(guide.choices).toEqual([]);
      expect(guide.explanation).toMatch(/There is no ready-made LeapBird program for .* yet/);
    }
  });

  it('shows the Linux packages while the system is not known yet', () => {
    expect(installGuide({ kind: 'missing' }, null).choices).toHaveLength(2);
  });

  it('tells an older program from a newer one by the protocol it named', () => {
    const old = installGuide(
      { kind: 'mismatch', hostProtocol: 1, hostVersion: '0.0.9' },
      linux,
      '0.2.0',
      2,
    );
    expect(old.headline).toBe('Update the LeapBird program');
    expect(old.explanation).toMatch(
      /\(version 0\.0\.9\) is too old for this add-on \(version 0\.2\.0\)/,
    );
    expect(old.explanation).toMatch(/your mail, keys and accounts are kept/);
    expect(old.choices).toHaveLength(2);
    const unknown = installGuide(
      { kind: 'mismatch', hostProtocol: null, hostVersion: null },
      linux,
    );
    expect(unknown.headline).toBe('Update the LeapBird program');
    const newer = installGuide(
      { kind: 'mismatch', hostProtocol: 3, hostVersion: null },
      linux,
      '0.2.0',
      2,
    );
    expect(newer.headline).toBe('Update the LeapBird add-on');
    expect(newer.choices).toEqual([]);
  });

  it('reads the protocol from the host’s refusal of a hello', () => {
    expect(
      protocolFromRefusal(
        'The add-on speaks protocol 2 but this host speaks 1; update both to the same version.',
      ),
    ).toBe(1);
    expect(protocolFromRefusal('Something else.')).toBeNull();
  });

  it('derives the problem from the add-on’s state', () => {
    const base = { hostProtocol: null, hostVersion: null };
    expect(hostProblemOf({ ...base, phase: 'host_missing' })).toEqual({ kind: 'missing' });
    expect(hostProblemOf({ ...base, phase: 'host_outdated', hostProtocol: 4 })).toEqual({
      kind: 'mismatch',
      hostProtocol: 4,
      hostVersion: null,
    });
    expect(hostProblemOf({ ...base, phase: 'connected' })).toBeNull();
    expect(hostProblemOf({ ...base, phase: 'disconnected' })).toBeNull();
  });
});
