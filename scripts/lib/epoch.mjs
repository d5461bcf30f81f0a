// The one time every release artifact carries: SOURCE_DATE_EPOCH when the caller sets it
// (https://reproducible-builds.org/specs/source-date-epoch/), else the last commit's time,
// so a build from the same commit gives the same bytes whenever and wherever it runs.
import { execFileSync } from 'node:child_process';

export function sourceDateEpoch(root) {
  const given = process.env.SOURCE_DATE_EPOCH;
  if (given !== undefined && given !== '') {
    if (!/^\d+$/.test(given)) throw new Error(`SOURCE_DATE_EPOCH must be seconds, not "${given}"`);
    return Number(given);
  }
  return Number(
    execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' }).trim(),
  );
}
