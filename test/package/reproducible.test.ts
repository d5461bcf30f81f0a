/**
 * Release artifacts anyone can check. Two clean clones of this checkout's HEAD, in different
 * folders (different depths and names), made one after the other (so every file has another
 * mtime), the second under another umask and time zone, are built independently: the XPI
 * and the host tarball come out byte-identical. The first clone runs the real release
 * command with a throwaway key (real GnuPG, temporary GNUPGHOME); a person who has only the
 * public key checks the download with `gpg --verify` and `sha256sum -c`, and a changed
 * artifact or a changed SHA256SUMS fails that check.
 *
 * The second build leaves out the .deb to keep the suite's time down;
 * LEAPBIRD_REPRO_FULL=1 runs the full release there too and compares the .deb as well.
 * (What is built is HEAD: commit before running this.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '..', '..');
const full = process.env.LEAPBIRD_REPRO_FULL === '1';
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};
const xpiName = `${pkg.name}-${pkg.version}.xpi`;
const tarName = `leapbird-host-${pkg.version}-${process.platform}-${process.arch}.tar.gz`;

const temp: string[] = [];
const mkTemp = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temp.push(dir);
  return dir;
};

/** A clean clone of HEAD sharing this checkout's node_modules (no npm ci in a test). */
function cloneAt(dir: string, umask: string): string {
  execFileSync('sh', [
    '-c',
    `umask ${umask} && git clone --quiet --no-hardlinks "$0" "$1"`,
    repo,
    dir,
  ]);
  symlinkSync(realpathSync(join(repo, 'node_modules')), join(dir, 'node_modules'));
  return dir;
}

function gpg(home: string, args: string[]) {
  return spawnSync('gpg', ['--batch', '--no-tty', ...args], {
    encoding: 'utf8',
    env: { ...process.env, GNUPGHOME: home },
  });
}

let keyFile = '';
let verifierHome = '';
let releaseA = '';
let distB = '';
let releaseB = '';

beforeAll(() => {
  // The release manager's key, made for this test and exported to a file, as `--key` takes it.
  const signerHome = mkTemp('lb-repro-signer-');
  const made = gpg(signerHome, [
    '--passphrase',
    '',
    '--quick-gen-key',
    'LeapBird test release <release@leapbird.invalid>',
    'ed25519',
    'sign',
    'never',
  ]);
  expect(made.status, made.stderr).toBe(0);
  keyFile = join(mkTemp('lb-repro-key-'), 'release-key.asc');
  writeFileSync(keyFile, gpg(signerHome, ['--armor', '--export-secret-keys']).stdout);
  // A person downloading has only the public key (from the project's site).
  verifierHome = mkTemp('lb-repro-verifier-');
  const publicKey = join(verifierHome, 'release.pub.asc');
  writeFileSync(publicKey, gpg(signerHome, ['--armor', '--export']).stdout);
  expect(gpg(verifierHome, ['--import', publicKey]).status).toBe(0);
  execFileSync('gpgconf', ['--kill', 'gpg-agent'], {
    env: { ...process.env, GNUPGHOME: signerHome },
  });

  const a = cloneAt(join(mkTemp('lb-repro-a-'), 'leapbird'), '022');
  releaseA = join(mkTemp('lb-repro-out-a-'), 'release');
  execFileSync('node', ['scripts/release.mjs', '--key', keyFile, '--out', releaseA], {
    cwd: a,
    stdio: ['ignore', 'ignore', 'pipe'],
  });

  const b = cloneAt(join(mkTemp('lb-repro-b-'), 'some', 'other', 'place'), '002');
  // Another umask and a time zone where it is already another day.
  const inB = (command: string) =>
    execFileSync('sh', ['-c', `umask 002 && ${command}`], {
      cwd: b,
      env: { ...process.env, TZ: 'Pacific/Kiritimati' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  if (full) {
    releaseB = join(mkTemp('lb-repro-out-b-'), 'release');
    inB(`node scripts/release.mjs --key "${keyFile}" --out "${releaseB}"`);
    distB = releaseB;
  } else {
    inB('node scripts/build.mjs && node scripts/package.mjs --no-deb');
    distB = join(b, 'dist');
  }
}, 600_000);

afterAll(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

const same = (name: string) =>
  expect(readFileSync(join(distB, name)).equals(readFileSync(join(releaseA, name))), name).toBe(
    true,
  );

describe('two builds from clean clones in different folders at different times', () => {
  it('give a byte-identical XPI', () => same(xpiName));

  it('give a byte-identical host tarball', () => same(tarName));

  it.skipIf(!full)('give a byte-identical .deb (LEAPBIRD_REPRO_FULL=1)', () => {
    const debs = readdirSync(releaseA).filter((f) => f.endsWith('.deb'));
    expect(debs).toHaveLength(1);
    same(debs[0]!);
    expect(readFileSync(join(releaseB, 'SHA256SUMS'), 'utf8')).toBe(
      readFileSync(join(releaseA, 'SHA256SUMS'), 'utf8'),
    );
  });

  it('the XPI holds the add-on, every entry with the same time and mode', () => {
    const listing = execFileSync('zipinfo', [join(releaseA, xpiName)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /^-/.test(l));
    const names = listing.map((l) => l.split(/\s+/).at(-1)!);
    expect(names).toContain('manifest.json');
    expect(names).toContain('background.js');
    expect(names).toEqual([...names].sort());
    expect(new Set(listing.map((l) => l.split(/\s+/).slice(0, 1).join(' ')))).toEqual(
      new Set(['-rw-r--r--']),
    );
    expect(new Set(listing.map((l) => l.split(/\s+/).slice(6, 8).join(' '))).size).toBe(1);
    expect(spawnSync('unzip', ['-tq', join(releaseA, xpiName)]).status).toBe(0);
  });
  it('the SQLCipher addon in the tarball names no folder it was compiled in', () => {
    // Compiled in two different folders it came out byte-identical (no debug information,
    // a build ID hashed from the contents); this keeps it so: no absolute build path inside.
    const top = tarName.replace(/\.tar\.gz$/, '');
    const addon = execFileSync(
      'tar',
      [
        '-xOzf',
        join(releaseA, tarName),
        `${top}/lib/host/node_modules/better-sqlite3-multiple-ciphers/build/Release/better_sqlite3.node`,
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    expect(addon.length).toBeGreaterThan(1_000_000);
    const builtIn = realpathSync(join(repo, 'node_modules', 'better-sqlite3-multiple-ciphers'));
    for (const path of [builtIn, dirname(builtIn), repo])
      expect(addon.includes(Buffer.from(path)), path).toBe(false);
  });
});

describe('a person checking the download', () => {
  it('finds SHA256SUMS over the XPI, the tarball and the .deb, signed with the release key', () => {
    const sums = readFileSync(join(releaseA, 'SHA256SUMS'), 'utf8');
    const names = sums
      .trim()
      .split('\n')
      .map((l) => l.split('  ')[1]);
    expect(names).toEqual([xpiName, tarName, expect.stringMatching(/^leapbird-host_.*\.deb$/)]);
    const verify = gpg(verifierHome, [
      '--verify',
      join(releaseA, 'SHA256SUMS.asc'),
      join(releaseA, 'SHA256SUMS'),
    ]);
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stderr).toContain('Good signature from "LeapBird test release');
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: releaseA, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain(`${tarName}: OK`);
  });

  it('sees a changed artifact fail sha256sum -c, and a SHA256SUMS changed to match fail gpg --verify', () => {
    const copy = mkTemp('lb-repro-tampered-');
    for (const f of readdirSync(releaseA)) copyFileSync(join(releaseA, f), join(copy, f));
    // One byte of the tarball changed, as a backdoored mirror would.
    const tarball = readFileSync(join(copy, tarName));
    const middle = tarball.length >> 1;
    tarball[middle] = tarball[middle]! ^ 0x01;
    writeFileSync(join(copy, tarName), tarball);
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: copy, encoding: 'utf8' });
    expect(check.status).not.toBe(0);
    expect(check.stdout).toContain(`${tarName}: FAILED`);
    expect(check.stdout).toContain(`${xpiName}: OK`);

    // The mirror rewrites SHA256SUMS to match: now the signature no longer does.
    const digest = execFileSync('sha256sum', [tarName], { cwd: copy, encoding: 'utf8' });
    const sums = readFileSync(join(copy, 'SHA256SUMS'), 'utf8')
      .split('\n')
      .map((l) => (l.endsWith(`  ${tarName}`) ? digest.trim() : l))
      .join('\n');
    writeFileSync(join(copy, 'SHA256SUMS'), sums);
    expect(spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: copy }).status).toBe(0);
    const verify = gpg(verifierHome, [
      '--verify',
      join(copy, 'SHA256SUMS.asc'),
      join(copy, 'SHA256SUMS'),
    ]);
    expect(verify.status).not.toBe(0);
    expect(verify.stderr).toContain('BAD signature');
  });

  it('the release command refuses a key it cannot use, before building anything', () => {
    const bogus = join(mkTemp('lb-repro-bogus-'), 'not-a-key.asc');
    mkdirSync(join(bogus, '..'), { recursive: true });
    writeFileSync(bogus, 'this is not a key\n');
    const run = spawnSync('node', ['scripts/release.mjs', '--key', bogus, '--allow-dirty'], {
      cwd: repo,
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /is not an OpenPGP key GnuPG can import|must hold exactly one secret key/,
    );
    expect(run.stdout).not.toContain('building');
    expect(run.stderr).not.toMatch(/\n\s+at /); // a sentence, no stack trace
  });
});
