import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADDON_ID, NATIVE_HOST_NAME, VERSION } from '../../../shared/src/constants.js';
import {
  install,
  nativeManifest,
  uninstall,
  userManifestPath,
} from '../../../native-host/src/messaging/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('registering the native host', () => {
  it('writes the manifest where Thunderbird looks on each platform', () => {
    expect(userManifestPath('linux', '/home/u', {})).toBe(
      `/home/u/.mozilla/native-messaging-hosts/${NATIVE_HOST_NAME}.json`,
    );
    expect(userManifestPath('darwin', '/Users/u', {})).toBe(
      `/Users/u/Library/Mozilla/NativeMessagingHosts/${NATIVE_HOST_NAME}.json`,
    );
  });

  it('installs a runnable launcher and a manifest naming the add-on, and uninstalls both', () => {
    const home = mkdtempSync(join(tmpdir(), 'lb-install-'));
    dirs.push(home);
    const script = join(home, 'fake-main.mjs');
    // A stand-in program for the launcher to start: it proves the launcher passes argv through.
    execFileSync('sh', [
      '-c',
      `printf '%s' "console.log(JSON.stringify(process.argv.slice(2)))" > ${script}`,
    ]);
    const launcherPath = join(home, 'bin', 'leapbird-host');
    const { manifestPath } = install({
      mainPath: script,
      launcherPath,
      home,
      env: {},
      platform: 'linux',
    });

    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    expect(manifest).toEqual(nativeManifest(launcherPath));
    expect(manifest.allowed_extensions).toEqual([ADDON_ID]);
    expect(manifest.name).toMatch(/^\w+(\.\w+)*$/);
    expect(statSync(launcherPath).mode & 0o111).not.toBe(0);
    expect(
      execFileSync(launcherPath, ['/path/manifest.json', ADDON_ID], { encoding: 'utf8' }).trim(),
    ).toBe(JSON.stringify(['/path/manifest.json', ADDON_ID]));

    uninstall({ launcherPath, home, env: {}, platform: 'linux' });
    expect(existsSync(manifestPath)).toBe(false);
    expect(existsSync(launcherPath)).toBe(false);
  });

  it('keeps the protocol version constant in step with package.json', () => {
    const pkg = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', '..', 'package.json'), 'utf8'),
    );
    const manifest = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', '..', 'manifest.json'), 'utf8'),
    );
    expect(VERSION).toBe(pkg.version);
    expect(manifest.version).toBe(pkg.version);
    expect(manifest.browser_specific_settings.gecko.id).toBe(ADDON_ID);
  });
});
