// `npm run release -- --key <key file | GnuPG key id> [--out <dir>] [--allow-dirty]`
//
// Builds what a person downloads (the add-on's XPI, the host's tarball and .deb), writes
// SHA256SUMS over them and SHA256SUMS.asc, a detached armored OpenPGP signature over
// SHA256SUMS made with GnuPG. The release key never lives in the repository: it is an
// input. Given a file (an exported secret key), it is imported into a temporary GNUPGHOME
// that is removed afterwards, so the signer's own keyring is neither read nor changed;
// given a key id, the signer's keyring (GNUPGHOME or ~/.gnupg) and gpg-agent sign.
// A passphrase-protected key file needs --passphrase-file <file>.
//
// The artifacts are reproducible (scripts/lib/zip.mjs, scripts/package.mjs), so anyone can
// rebuild the same commit and compare with SHA256SUMS; the signature is not (it holds the
// time it was made) and need not be.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (what) => process.stdout.write(`release: ${what}\n`);

function fail(message) {
  process.stderr.write(`release: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const options = { key: null, out: join(root, 'dist', 'release'), allowDirty: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) fail(`${arg} needs a value`);
      return v;
    };
    if (arg === '--key') options.key = value();
    else if (arg === '--out') options.out = resolve(value());
    else if (arg === '--passphrase-file') options.passphraseFile = resolve(value());
    else if (arg === '--allow-dirty') options.allowDirty = true;
    else fail(`unknown option ${arg} (use --key <file or key id> [--out <dir>])`);
  }
  if (!options.key) fail('--key <key file or GnuPG key id> is required: the key that signs');
  return options;
}

const options = parseArgs(process.argv.slice(2));
const passphraseArgs = options.passphraseFile
  ? ['--pinentry-mode', 'loopback', '--passphrase-file', options.passphraseFile]
  : [];

// What is released is a commit: changes not committed would be in the artifacts but in no
// source anyone can rebuild from.
const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
  cwd: root,
  encoding: 'utf8',
}).trim();
if (dirty && !options.allowDirty)
  fail(`the checkout has uncommitted changes; commit them first (or --allow-dirty):\n${dirty}`);

/** Runs gpg in the given home; its output only on failure. */
function gpg(home, args) {
  return execFileSync('gpg', ['--batch', '--no-tty', ...args], {
    encoding: 'utf8',
    env: home ? { ...process.env, GNUPGHOME: home } : process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The signing key's fingerprint and the home to sign in (a temporary one for a file). */
function signer(key) {
  if (existsSync(key)) {
    const home = mkdtempSync(join(tmpdir(), 'leapbird-release-gnupg-'));
    try {
      gpg(home, [...passphraseArgs, '--import', resolve(key)]);
    } catch (error) {
      rmSync(home, { recursive: true, force: true });
      fail(`${key} is not an OpenPGP key GnuPG can import: ${String(error.stderr).trim()}`);
    }
    // In --with-colons output each primary secret key ("sec") is followed by its "fpr".
    const lines = gpg(home, ['--list-secret-keys', '--with-colons']).split('\n');
    const fingerprints = lines
      .map((line, i) => (line.startsWith('sec:') ? lines[i + 1]?.split(':')[9] : undefined))
      .filter((f) => f);
    if (fingerprints.length !== 1) {
      rmSync(home, { recursive: true, force: true });
      fail(`${key} must hold exactly one secret key (it holds ${fingerprints.length})`);
    }
    return { home, fingerprint: fingerprints[0], temporary: true };
  }
  if (!/^(0x)?[0-9A-Fa-f]{8,40}$|@/.test(key))
    fail(`--key ${key}: no such file, and not a key id, fingerprint or address`);
  try {
    gpg(null, ['--list-secret-keys', key]);
  } catch {
    fail(`--key ${key}: no such secret key in your GnuPG keyring`);
  }
  return { home: null, fingerprint: key, temporary: false };
}

// Check the key before spending a minute on builds.
const { home, fingerprint, temporary } = signer(options.key);
try {
  say('building the add-on');
  execFileSync('node', [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  say('building the host packages');
  const packaged = execFileSync('node', [join(root, 'scripts', 'package.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const artifacts = [
    join(root, 'dist', `${pkg.name}-${pkg.version}.xpi`),
    ...[...packaged.matchAll(/^package: (dist\/\S+)$/gm)].map((m) => join(root, m[1])),
  ];

  mkdirSync(options.out, { recursive: true });
  const lines = [];
  for (const artifact of artifacts.sort((a, b) => (basename(a) < basename(b) ? -1 : 1))) {
    const name = basename(artifact);
    copyFileSync(artifact, join(options.out, name));
    const digest = createHash('sha256').update(readFileSync(artifact)).digest('hex');
    lines.push(`${digest}  ${name}`);
  }
  const sums = join(options.out, 'SHA256SUMS');
  writeFileSync(sums, lines.join('\n') + '\n');

  say(`signing SHA256SUMS with ${fingerprint}`);
  gpg(home, [
    '--yes',
    ...passphraseArgs,
    '--local-user',
    fingerprint,
    '--armor',
    '--detach-sign',
    '--output',
    `${sums}.asc`,
    sums,
  ]);
  for (const line of lines) say(`${line.slice(66)}  ${line.slice(0, 16)}…`);
  say(
    `written to ${options.out}: check with  gpg --verify SHA256SUMS.asc SHA256SUMS && sha256sum -c SHA256SUMS`,
  );
} catch (error) {
  // Not fail(): exiting here would skip removing the temporary keyring.
  const detail = error.stderr ? String(error.stderr).trim() : error.message;
  process.stderr.write(`release: failed: ${detail}\n`);
  process.exitCode = 1;
} finally {
  if (temporary) {
    try {
      execFileSync('gpgconf', ['--kill', 'gpg-agent'], {
        env: { ...process.env, GNUPGHOME: home },
        stdio: 'ignore',
      });
    } catch {
      // No agent was started.
    }
    rmSync(home, { recursive: true, force: true });
  }
}
