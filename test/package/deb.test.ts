/**
 * The Debian package of the host: it builds, installs with dpkg, puts the manifest where
 * Thunderbird looks system-wide, Thunderbird (with no per-user registration) starts the
 * installed host, and it removes cleanly. Installing needs root (CI runs as root).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NATIVE_HOST_NAME } from '../../shared/src/constants.js';
import { ThunderbirdRun } from '../helpers/thunderbird.js';

const repo = resolve(import.meta.dirname, '..', '..');
const isRoot = process.getuid?.() === 0;
const manifestPath = `/usr/lib/mozilla/native-messaging-hosts/${NATIVE_HOST_NAME}.json`;
const alreadyInstalled = (() => {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', 'leapbird-host'], {
      encoding: 'utf8',
    }).includes('install ok');
  } catch {
    return false;
  }
})();

describe.skipIf(!isRoot || alreadyInstalled)('Debian package of the native host', () => {
  let deb = '';
  let tb: ThunderbirdRun | null = null;

  afterAll(async () => {
    await tb?.stop();
    execFileSync('dpkg', ['--purge', 'leapbird-host'], { stdio: 'ignore' });
  });

  it('is built with the host, its dependencies and the system-wide manifest', () => {
    const out = execFileSync('node', ['scripts/package.mjs'], { cwd: repo, encoding: 'utf8' });
    deb = join(repo, out.trim().split('package: ').pop()!.trim());
    const listing = execFileSync('dpkg-deb', ['--contents', deb], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(listing).toContain(`.${manifestPath}`);
    expect(listing).toContain('./usr/lib/leapbird/leapbird-host');
    expect(listing).toContain('./usr/lib/leapbird/native-host/src/main.js');
    expect(listing).toMatch(/better_sqlite3\.node/);
  });

  it('installs, and Thunderbird finds and starts the installed host', async () => {
    execFileSync('dpkg', ['--install', deb], { stdio: 'ignore' });
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    expect(manifest.path).toBe('/usr/lib/leapbird/leapbird-host');
    const printed = JSON.parse(
      execFileSync('/usr/lib/leapbird/leapbird-host', ['print-manifest'], { encoding: 'utf8' }),
    );
    expect(printed.name).toBe(NATIVE_HOST_NAME);

    tb = await ThunderbirdRun.start({ name: 'deb', registerHost: false });
    await tb.control();
    const started = await tb.waitForHostEvent('host.start');
    expect(started.argv).toEqual([manifestPath, 'leapbird@leapbird.org']);
    await tb.stop();
    tb = null;
  });

  it('removes cleanly', () => {
    execFileSync('dpkg', ['--remove', 'leapbird-host'], { stdio: 'ignore' });
    expect(existsSync(manifestPath)).toBe(false);
    expect(existsSync('/usr/lib/leapbird/leapbird-host')).toBe(false);
  });
});
