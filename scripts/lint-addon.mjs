// `web-ext lint` on a copy of the built add-on whose manifest has no experiment_apis:
// addons-linter rejects Experiments outright (MANIFEST_FIELD_PRIVILEGED), and we still
// want every other error caught. Fails on any error; warnings (Thunderbird permissions
// unknown to the Firefox linter) are printed but allowed.
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist/extension');
const copy = join(root, 'dist/lint-copy');
rmSync(copy, { recursive: true, force: true });
cpSync(built, copy, { recursive: true });
const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8'));
delete manifest.experiment_apis;
rmSync(join(copy, 'experiments'), { recursive: true, force: true });
writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest, null, 2));

const out = execFileSync(
  join(root, 'node_modules/.bin/web-ext'),
  ['lint', '--source-dir', copy, '--output', 'json', '--no-config-discovery'],
  {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  },
);
const report = JSON.parse(out.slice(out.indexOf('{')));
for (const w of report.warnings ?? [])
  process.stdout.write(`lint-addon: warning ${w.code}: ${w.message}\n`);
for (const e of report.errors ?? [])
  process.stdout.write(`lint-addon: ERROR ${e.code}: ${e.message} ${e.file ?? ''}\n`);
process.stdout.write(
  `lint-addon: ${report.errors.length} errors, ${report.warnings.length} warnings\n`,
);
process.exit(report.errors.length === 0 ? 0 : 1);
