/**
 * The host as a person installs it. `npm run package` makes a tarball and a .deb from one
 * bundle with its own Node runtime. Each is installed as a user would (the tarball's
 * install.sh into a fresh HOME; the .deb with dpkg, as root), Thunderbird starts the
 * installed host (on the bundled runtime, not the system's node), and removing it leaves
 * nothing of the program behind (the user's mail data stays, as uninstall.sh says).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NATIVE_HOST_NAME } from '../../shared/src/constants.js';
import { sayHello, spawnHost } from '../helpers/addon-side.js';
import { ThunderbirdRun } from '../helpers/thunderbird.js';
import { hostConfigFor, startTestProvider } from '../provider/helpers.js';

const repo = resolve(import.meta.dirname, '..', '..');
const isRoot = process.getuid?.() === 0;
const systemManifest = `/usr/lib/mozilla/native-messaging-hosts/${NATIVE_HOST_NAME}.json`;
const debInstalled = (() => {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', 'leapbird-host'], {
      encoding: 'utf8',
    }).includes('install ok');
  } catch {
    return false;
  }
})();

let tarball = '';
let deb = '';
const dirs: string[] = [];

beforeAll(() => {
  const out = execFileSync('node', ['scripts/package.mjs'], { cwd: repo, encoding: 'utf8' });
  const made = [...out.matchAll(/^package: (dist\/\S+\.(?:tar\.gz|deb))$/gm)].map((m) =>
    join(repo, m[1]!),
  );
  tarball = made.find((p) => p.endsWith('.tar.gz'))!;
  deb = made.find((p) => p.endsWith('.deb'))!;
}, 120_000);

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const filesUnder = (dir: string) =>
  (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[]).sort();

describe('the tarball', () => {
  it('holds the bundled host, the SQLCipher addon and a Node runtime, and nothing of the add-on', () => {
    const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    const top = listing[0]!.split('/')[0]!;
    for (const file of [
      'leapbird-host',
      'install.sh',
      'uninstall.sh',
      'leapbird-host.service.in',
      'node/bin/node',
    ]) {
      expect(listing).toContain(`${top}/${file}`);
    }
    expect(listing).toContain(`${top}/lib/host/main.js`);
    expect(listing).toContain(`${top}/lib/host/open-worker.js`);
    expect(listing.some((f) => f.endsWith('/better_sqlite3.node'))).toBe(true);
    // Only the addon and the two packages that locate it are not bundled.
    const packages = new Set(
      listing
        .map((f) => /\/node_modules\/([^/]+)\//.exec(f)?.[1])
        .filter((p): p is string => p !== undefined),
    );
    expect([...packages].sort()).toEqual([
      'better-sqlite3-multiple-ciphers',
      'bindings',
      'file-uri-to-path',
    ]);
    expect(listing.some((f) => /preact|mailparser|\.ts$|\/src\//.test(f))).toBe(false);
  });

  it('installs into a fresh HOME, Thunderbird starts it on its own runtime, and it uninstalls', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lb-pkg-home-'));
    const unpacked = mkdtempSync(join(tmpdir(), 'lb-pkg-unpacked-'));
    dirs.push(home, unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
    const folder = join(unpacked, readdirSync(unpacked)[0]!);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
    const said = execFileSync('sh', [join(folder, 'install.sh')], { env, encoding: 'utf8' });
    expect(said).toContain('LeapBird host installed');

    const installed = join(home, '.local', 'lib', 'leapbird');
    const manifestPath = join(
      home,
      '.mozilla',
      'native-messaging-hosts',
      `${NATIVE_HOST_NAME}.json`,
    );
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    expect(manifest.path).toBe(join(installed, 'leapbird-host'));
    // On the PATH for the standalone mode, and a user unit for it (left for the user to enable).
    const onPath = join(home, '.local', 'bin', 'leapbird-host');
    expect(realpathSync(onPath)).toBe(join(installed, 'leapbird-host'));
    const unitPath = join(home, '.config', 'systemd', 'user', 'leapbird-host.service');
    expect(readFileSync(unitPath, 'utf8')).toMatch(
      new RegExp(`^ExecStart=${join(installed, 'leapbird-host')} serve$`, 'm'),
    );
    rmSync(unpacked, { recursive: true, force: true }); // the download is gone; the install works

    // The installed host does real work on its own runtime: SRP sign-up, key generation,
    // the SQLCipher store, the synced documents.
    const provider = await startTestProvider('alpha.test');
    const dataDir = join(home, 'cli-data');
    try {
      const host = spawnHost(
        { dataDir, ...hostConfigFor(provider) },
        { launcher: join(installed, 'leapbird-host'), env },
      );
      try {
        await sayHello(host.addon, randomBytes(32).toString('base64'));
        const result = await host.addon.call('setup.signUp', {
          domain: 'alpha.test',
          username: 'pkguser',
          password: 'a long passphrase for the package test',
        });
        expect(result.ownKey.fingerprint).toMatch(/^[0-9A-F]{40}$/);
        expect((await provider.store.userByLogin('pkguser'))?.publicKey).toBeTruthy();
      } finally {
        await host.stop();
      }
    } finally {
      await provider.cleanup();
    }

    const tb = await ThunderbirdRun.start({
      name: 'package-tarball',
      registerHost: false,
      reuseHome: home,
    });
    try {
      await tb.control();
      const started = await tb.waitForHostEvent('host.start');
      expect(started.argv).toEqual([manifestPath, 'leapbird@leapbird.org']);
      expect((started.runtime as { path: string }).path).toBe(
        join(installed, 'node', 'bin', 'node'),
      );
    } finally {
      await tb.stop({ keepHome: true });
    }

    const before = filesUnder(home);
    const bye = execFileSync('sh', [join(installed, 'uninstall.sh')], { env, encoding: 'utf8' });
    expect(bye).toContain('Your data');
    const after = filesUnder(home);
    expect(existsSync(installed)).toBe(false);
    expect(existsSync(manifestPath)).toBe(false);
    // lstat: a link left behind would dangle, and existsSync follows links.
    const present = (path: string) => lstatSync(path, { throwIfNoEntry: false }) !== undefined;
    expect([onPath, unitPath].filter(present)).toEqual([]);
    // What is left is Thunderbird's profile and the user's LeapBird data, not the program.
    expect(after.filter((f) => /\.local\/lib|native-messaging-hosts\/./.test(f))).toEqual([]);
    expect(
      before
        .filter((f) => !after.includes(f))
        .every((f) => /^\.local|^\.mozilla|^\.config\/systemd/.test(f)),
    ).toBe(true);
    expect(after.some((f) => f.startsWith('data/'))).toBe(true);
  }, 240_000);
});

describe.skipIf(!isRoot || debInstalled)('the Debian package', () => {
  let tb: ThunderbirdRun | null = null;

  afterAll(async () => {
    await tb?.stop();
    execFileSync('dpkg', ['--purge', 'leapbird-host'], { stdio: 'ignore' });
  });

  it('needs no system nodejs and holds the same bundle with the system-wide manifest', () => {
    const control = execFileSync('dpkg-deb', ['--field', deb, 'Depends'], { encoding: 'utf8' });
    expect(control).not.toMatch(/nodejs/);
    const listing = execFileSync('dpkg-deb', ['--contents', deb], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(listing).toContain(`.${systemManifest}`);
    expect(listing).toContain('./usr/lib/leapbird/leapbird-host');
    expect(listing).toContain('./usr/bin/leapbird-host');
    expect(listing).toContain('./usr/lib/systemd/user/leapbird-host.service');
    expect(listing).toContain('./usr/lib/leapbird/lib/host/main.js');
    expect(listing).toContain('./usr/lib/leapbird/node/bin/node');
    expect(listing).toMatch(/better_sqlite3\.node/);
  });

  it('installs, and Thunderbird finds and starts the installed host on its own runtime', async () => {
    execFileSync('dpkg', ['--install', deb], { stdio: 'ignore' });
    const manifest = JSON.parse(readFileSync(systemManifest, 'utf8'));
    expect(manifest.path).toBe('/usr/lib/leapbird/leapbird-host');
    tb = await ThunderbirdRun.start({ name: 'package-deb', registerHost: false });
    await tb.control();
    const started = await tb.waitForHostEvent('host.start');
    expect(started.argv).toEqual([systemManifest, 'leapbird@leapbird.org']);
    expect((started.runtime as { path: string }).path).toBe('/usr/lib/leapbird/node/bin/node');
    await tb.stop();
    tb = null;
  }, 180_000);

  it('removes cleanly', () => {
    execFileSync('dpkg', ['--remove', 'leapbird-host'], { stdio: 'ignore' });
    expect(existsSync(systemManifest)).toBe(false);
    expect(existsSync('/usr/lib/leapbird')).toBe(false);
    expect(existsSync('/usr/bin/leapbird-host')).toBe(false);
  });
});
