// Runs the whole vitest suite and ends with the plain line CI reads: "N passed, N failed".
// vitest's own summary is not read by CI, so we count from its JSON report.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';

const out = '.test-output';
mkdirSync(out, { recursive: true });
const report = `${out}/vitest.json`;
const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const run = spawnSync('npx', args, { stdio: 'inherit' });

if (!existsSync(report)) {
  console.log('0 passed, 1 failed');
  console.error('vitest wrote no report (exit code ' + run.status + ')');
  process.exit(1);
}
const result = JSON.parse(readFileSync(report, 'utf8'));
let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of result.testResults ?? []) {
  const tests = file.assertionResults ?? [];
  if (tests.length === 0 && file.status === 'failed') failed++; // a file that failed to load
  for (const t of tests) {
    if (t.status === 'passed') passed++;
    else if (t.status === 'failed') failed++;
    else skipped++;
  }
}
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
process.exit(failed === 0 && run.status === 0 ? 0 : 1);
