// `npm run package`: the native host as a person installs it, for this machine's platform.
//
//   dist/leapbird-host-<version>-<platform>.tar.gz   unpack anywhere, run ./install.sh
//   dist/leapbird-host_<version>_<arch>.deb          (Debian/Ubuntu) dpkg -i
//
// Both hold the same bundle and bring their own Node runtime (the one this build runs on),
// so neither needs a system `nodejs`: the host bundled by esbuild into two files (the host
// and its decryption worker), plus the one thing that cannot be bundled, the SQLCipher addon
// with the two tiny packages that locate it. Nothing of the add-on and no unused dependency
// goes in. Both are reproducible (two clones of one commit, in any folders, at any time,
// give the same bytes): every file's time is the last commit's (SOURCE_DATE_EPOCH when
// set), modes are 0755 or 0644 whatever the umask, entries are sorted, owners are root,
// gzip carries no name or time, and the bundle names its sources by paths relative to the
// checkout (esbuild --preserve-symlinks, so a node_modules that is a symlink elsewhere
// does not leak where it points).
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceDateEpoch } from './lib/epoch.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const run = (cmd, args, options = {}) =>
  execFileSync(cmd, args, { cwd: root, encoding: 'utf8', ...options });
const say = (what) => process.stdout.write(`package: ${what}\n`);

const epoch = sourceDateEpoch(root);
const platform = `${process.platform}-${process.arch}`;
const arch = run('dpkg', ['--print-architecture']).trim();
const name = 'leapbird-host';
const work = join(root, 'dist', 'package');
rmSync(work, { recursive: true, force: true });

/** The bundle: what both packages install, laid out so `main.js` finds its launcher at ../../. */
function stageBundle(dir) {
  const hostDir = join(dir, 'lib', 'host');
  say('bundling the host (esbuild)');
  run(join(root, 'node_modules', '.bin', 'esbuild'), [
    'native-host/src/main.ts',
    'native-host/src/sync/open-worker.ts',
    '--bundle',
    '--platform=node',
    '--target=node20',
    '--format=esm',
    `--outdir=${hostDir}`,
    '--entry-names=[name]',
    '--external:better-sqlite3-multiple-ciphers',
    '--preserve-symlinks',
    '--legal-comments=linked',
    '--log-level=warning',
    // CommonJS dependencies call require() for Node's own modules; ESM has none of its own.
    "--banner:js=import { createRequire as __lbRequire } from 'node:module'; const require = __lbRequire(import.meta.url);",
  ]);
  writeFileSync(
    join(hostDir, 'package.json'),
    JSON.stringify({ name, version: pkg.version, type: 'module', private: true }, null, 2) + '\n',
  );
  // The addon: its JavaScript, its compiled .node, and what finds it; no sources, no objects.
  const addon = 'better-sqlite3-multiple-ciphers';
  for (const [dep, keep] of [
    [
      addon,
      (p) =>
        p === '' ||
        /^(package\.json|LICENSE|lib(\/|$)|build(\/Release(\/better_sqlite3\.node)?)?$)/.test(p),
    ],
    ['bindings', (p) => p === '' || /^(package\.json|LICENSE.*|[^/]+\.js)$/.test(p)],
    ['file-uri-to-path', (p) => p === '' || /^(package\.json|LICENSE.*|[^/]+\.js)$/.test(p)],
  ]) {
    const from = join(root, 'node_modules', dep);
    cpSync(from, join(hostDir, 'node_modules', dep), {
      recursive: true,
      filter: (src) => keep(relative(from, src)),
    });
  }
  mkdirSync(join(dir, 'node', 'bin'), { recursive: true });
  cpSync(process.execPath, join(dir, 'node', 'bin', 'node'));
  const nodeLicense = [
    '/usr/share/doc/nodejs/LICENSE',
    join(dirname(process.execPath), '..', 'LICENSE'),
  ];
  for (const license of nodeLicense) {
    try {
      cpSync(license, join(dir, 'node', 'LICENSE'));
      break;
    } catch {
      // Not in this place: try the next.
    }
  }
  writeFileSync(join(dir, 'node', 'VERSION'), `${process.version}\n`);
}

/**
 * Sets every file's time to the epoch and its mode to 0755 (folders, programs) or 0644, so
 * archives depend neither on when they were built nor on the builder's umask.
 */
function settle(dir) {
  for (const entry of ['', ...readdirSync(dir, { recursive: true })]) {
    const path = join(dir, entry);
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) throw new Error(`package: unexpected symbolic link ${path}`);
    chmodSync(path, stat.isDirectory() || stat.mode & 0o111 ? 0o755 : 0o644);
    utimesSync(path, epoch, epoch);
  }
}

function executable(path, text) {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

/**
 * The systemd user unit for the standalone mode (any mail client, no Thunderbird needed).
 * Not enabled by the package: `systemctl --user enable --now leapbird-host` when wanted. After
 * a (re)start the accounts wait locked until `leapbird-host login ADDRESS`.
 */
function systemdUnit(program) {
  return `[Unit]
Description=LeapBird host: encrypted mail for any mail client
After=network-online.target

[Service]
ExecStart=${program} serve
Restart=on-failure
RestartSec=5

[Install]
WantedBy=default.target
`;
}

// ---- the tarball: unpack, ./install.sh (per user, into ~/.local/lib/leapbird) ----
const tarName = `${name}-${pkg.version}-${platform}`;
const tarStage = join(work, tarName);
stageBundle(tarStage);
executable(
  join(tarStage, name),
  `#!/bin/sh
# The LeapBird host, with the Node runtime it came with.
here=$(dirname "$(readlink -f "$0")")
exec "$here/node/bin/node" "$here/lib/host/main.js" "$@"
`,
);
executable(
  join(tarStage, 'install.sh'),
  `#!/bin/sh
# Installs the LeapBird host for the current user and registers it with Thunderbird; puts
# leapbird-host on the PATH (~/.local/bin) and a systemd user unit for the standalone mode
# (not enabled). Run it from the unpacked folder. Your mail stays where it is
# (~/.local/share/leapbird).
set -eu
here=$(dirname "$(readlink -f "$0")")
dest="\${LEAPBIRD_PREFIX:-$HOME/.local/lib/leapbird}"
bin="$HOME/.local/bin"
units="\${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
if [ "$here" != "$dest" ]; then
  rm -rf "$dest.new"
  mkdir -p "$(dirname "$dest")"
  cp -a "$here" "$dest.new"
  rm -rf "$dest"
  mv "$dest.new" "$dest"
fi
"$dest/node/bin/node" "$dest/lib/host/main.js" install
mkdir -p "$bin" "$units"
ln -sfn "$dest/${name}" "$bin/${name}"
sed "s|@PROGRAM@|$dest/${name}|" "$dest/${name}.service.in" > "$units/${name}.service"
echo "LeapBird host installed in $dest. Restart Thunderbird to use it."
echo "Other mail clients: ${name} serve (or systemctl --user enable --now ${name}), then ${name} login ADDRESS."
`,
);
executable(
  join(tarStage, 'uninstall.sh'),
  `#!/bin/sh
# Removes the LeapBird host and its Thunderbird registration. Your mail and keys in
# ~/.local/share/leapbird are kept; remove that folder yourself to delete them.
set -eu
dest="\${LEAPBIRD_PREFIX:-$HOME/.local/lib/leapbird}"
bin="$HOME/.local/bin/${name}"
unit="\${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user/${name}.service"
if [ -x "$dest/node/bin/node" ]; then
  "$dest/node/bin/node" "$dest/lib/host/main.js" install --uninstall
fi
# Only what this install put there: the link to it and its unit.
if [ "$(readlink "$bin" 2>/dev/null)" = "$dest/${name}" ]; then rm -f "$bin"; fi
if grep -qs "^ExecStart=$dest/${name} serve$" "$unit"; then rm -f "$unit"; fi
rm -rf "$dest"
# The folder that held it, if LeapBird was all it held.
rmdir "$(dirname "$dest")" 2>/dev/null || true
echo "LeapBird host removed. Your data in \${XDG_DATA_HOME:-$HOME/.local/share}/leapbird was kept."
`,
);
writeFileSync(join(tarStage, `${name}.service.in`), systemdUnit('@PROGRAM@'));
settle(tarStage);
const tarball = join(root, 'dist', `${tarName}.tar.gz`);
say('writing the tarball');
run(
  'sh',
  [
    '-c',
    `tar --sort=name --mtime=@${epoch} --owner=0 --group=0 --numeric-owner --format=gnu --hard-dereference -cf - ${tarName} | gzip -n -6 > "${tarball}"`,
  ],
  { cwd: work },
);

// ---- the .deb: the same bundle under /usr/lib/leapbird, registered system-wide ----
// (`--no-deb` leaves it out: the reproducibility test's second build needs only the tarball.)
function writeDeb() {
  const debStage = join(work, 'deb');
  const libDir = join(debStage, 'usr', 'lib', 'leapbird');
  mkdirSync(dirname(libDir), { recursive: true });
  cpSync(tarStage, libDir, {
    recursive: true,
    filter: (src) => !/\/((un)?install\.sh|[^/]+\.service\.in)$/.test(src),
  });
  const launcher = `#!/bin/sh\n# Started by Thunderbird through native messaging, or by hand: leapbird-host serve.\nexec /usr/lib/leapbird/node/bin/node /usr/lib/leapbird/lib/host/main.js "$@"\n`;
  executable(join(libDir, name), launcher);
  mkdirSync(join(debStage, 'usr', 'bin'), { recursive: true });
  executable(join(debStage, 'usr', 'bin', name), launcher);
  const unitDir = join(debStage, 'usr', 'lib', 'systemd', 'user');
  mkdirSync(unitDir, { recursive: true });
  writeFileSync(join(unitDir, `${name}.service`), systemdUnit(`/usr/bin/${name}`));
  const manifest = JSON.parse(
    run(join(libDir, 'node', 'bin', 'node'), [
      join(libDir, 'lib', 'host', 'main.js'),
      'print-manifest',
    ]),
  );
  manifest.path = `/usr/lib/leapbird/${name}`;
  const manifestDir = join(debStage, 'usr', 'lib', 'mozilla', 'native-messaging-hosts');
  mkdirSync(manifestDir, { recursive: true });
  writeFileSync(
    join(manifestDir, `${manifest.name}.json`),
    JSON.stringify(manifest, null, 2) + '\n',
  );
  mkdirSync(join(debStage, 'DEBIAN'));
  writeFileSync(
    join(debStage, 'DEBIAN', 'control'),
    [
      `Package: ${name}`,
      `Version: ${pkg.version}`,
      `Architecture: ${arch}`,
      'Depends: libc6, libstdc++6',
      'Recommends: thunderbird',
      'Section: mail',
      'Priority: optional',
      'Maintainer: The LeapBird developers <dev@leapbird.invalid>',
      'Description: LeapBird native host for Thunderbird',
      ' Local encrypted mail store, IMAP and SMTP servers and key management for the',
      ' LeapBird Thunderbird add-on. Mail is encrypted on this machine. Brings its own',
      ` Node.js runtime (${process.version}).`,
      '',
    ].join('\n'),
  );
  settle(debStage);
  const deb = join(root, 'dist', `${name}_${pkg.version}_${arch}.deb`);
  say('writing the Debian package');
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', debStage, deb], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return deb;
}
const deb = process.argv.includes('--no-deb') ? null : writeDeb();
rmSync(work, { recursive: true, force: true });
say(relative(root, tarball));
if (deb) say(relative(root, deb));
