// Builds everything a user or a test needs:
//   dist/native-host/   the host, compiled by tsc, and its launcher
//   dist/extension/     the add-on (vite: background + Preact UI; manifest, Experiment, icons)
//   dist/<name>-<version>.xpi   reproducible: sorted entries, one fixed time (scripts/lib/zip.mjs)
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceDateEpoch } from './lib/epoch.mjs';
import { zipFolder } from './lib/zip.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args, env = process.env) =>
  execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env });

const step = (what) => process.stdout.write(`build: ${what}\n`);

step('native host (tsc)');
rmSync(join(root, 'dist/native-host'), { recursive: true, force: true });
run(bin('tsc'), ['-p', 'native-host/tsconfig.build.json']);

if (process.argv.includes('--host-only')) process.exit(0);

step('add-on (vite)');
// Always a production build, also when called from a test runner that set NODE_ENV=test:
// otherwise the Preact preset adds development code naming each source by its absolute path.
run(bin('vite'), ['build', '--mode', 'production', '--logLevel', 'warn'], {
  ...process.env,
  NODE_ENV: 'production',
});
const ext = join(root, 'dist/extension');
cpSync(join(root, 'manifest.json'), join(ext, 'manifest.json'));
cpSync(join(root, 'extension/experiments'), join(ext, 'experiments'), { recursive: true });
cpSync(join(root, 'extension/icons'), join(ext, 'icons'), { recursive: true });

step('XPI');
const xpi = `${pkg.name}-${pkg.version}.xpi`;
mkdirSync(join(root, 'dist'), { recursive: true });
// Our own zip writer, not web-ext build: the same commit gives the same bytes (see zip.mjs).
zipFolder(ext, join(root, 'dist', xpi), sourceDateEpoch(root));
process.stdout.write(`build: done: dist/${xpi}\n`);
