// `npm run package`: a Debian package of the native host, dist/leapbird-host_<version>_<arch>.deb.
// It installs the host under /usr/lib/leapbird (compiled code plus its production npm
// dependencies, the SQLCipher addon already built) and the native-messaging manifest where
// Thunderbird looks system-wide, /usr/lib/mozilla/native-messaging-hosts/.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const hostBuild = join(root, 'dist', 'native-host');
if (!existsSync(join(hostBuild, 'native-host', 'src', 'main.js'))) {
  console.error('package: build the host first (npm run build)');
  process.exit(1);
}
const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
const name = 'leapbird-host';
const stage = join(root, 'dist', 'deb', `${name}_${pkg.version}_${arch}`);
const libDir = join(stage, 'usr', 'lib', 'leapbird');
rmSync(join(root, 'dist', 'deb'), { recursive: true, force: true });
mkdirSync(libDir, { recursive: true });

cpSync(hostBuild, libDir, { recursive: true, filter: (src) => !src.endsWith('.map') });
writeFileSync(
  join(libDir, 'package.json'),
  JSON.stringify({ name, version: pkg.version, type: 'module', private: true }, null, 2),
);

// Production dependencies only, as npm resolved them; the addon's sources and build
// intermediates stay behind (only its compiled .node file is needed).
const paths = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((p) => p && p !== root);
for (const path of new Set(paths)) {
  const rel = relative(root, path);
  if (!rel.startsWith('node_modules')) continue;
  cpSync(path, join(libDir, rel), {
    recursive: true,
    filter: (src) => {
      const inner = relative(path, src);
      if (inner.startsWith('node_modules')) return false; // nested packages are listed themselves
      if (rel.endsWith('better-sqlite3-multiple-ciphers'))
        return !/^(src|deps|build\/(Release\/(obj|\.deps)|deps))/.test(inner);
      return true;
    },
  });
}

const launcher = join(libDir, name);
writeFileSync(
  launcher,
  `#!/bin/sh\n# Started by Thunderbird through native messaging.\nexec /usr/bin/node /usr/lib/leapbird/native-host/src/main.js "$@"\n`,
);
chmodSync(launcher, 0o755);

const { nativeManifest } = await import(
  pathToFileURL(join(hostBuild, 'native-host', 'src', 'messaging', 'manifest.js')).href
);
const manifest = nativeManifest(`/usr/lib/leapbird/${name}`);
const manifestDir = join(stage, 'usr', 'lib', 'mozilla', 'native-messaging-hosts');
mkdirSync(manifestDir, { recursive: true });
writeFileSync(join(manifestDir, `${manifest.name}.json`), JSON.stringify(manifest, null, 2) + '\n');

mkdirSync(join(stage, 'DEBIAN'));
writeFileSync(
  join(stage, 'DEBIAN', 'control'),
  [
    `Package: ${name}`,
    `Version: ${pkg.version}`,
    `Architecture: ${arch}`,
    'Depends: nodejs (>= 20)',
    'Recommends: thunderbird',
    'Section: mail',
    'Priority: optional',
    'Maintainer: The LeapBird developers <dev@leapbird.invalid>',
    'Description: LeapBird native host for Thunderbird',
    ' Local encrypted mail store, IMAP and SMTP servers and key management for the',
    ' LeapBird Thunderbird add-on. Mail is encrypted on this machine.',
    '',
  ].join('\n'),
);
const deb = join(root, 'dist', `${name}_${pkg.version}_${arch}.deb`);
execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', stage, deb], {
  stdio: 'inherit',
});
rmSync(join(root, 'dist', 'deb'), { recursive: true, force: true });
console.log(`package: ${relative(root, deb)}`);
