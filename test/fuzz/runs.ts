/**
 * How hard the fuzz tests try, and what they measure besides their properties.
 *
 * LEAPBIRD_FUZZ_RUNS (also read by test/mime/head.test.ts) is the number of runs of a cheap
 * property; CI leaves it unset, which means 400. A costly property (a real server, OpenPGP
 * per run) has its own smaller default and runs the same share of the variable's value:
 * `LEAPBIRD_FUZZ_RUNS=4000` gives every property ten times its CI runs.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const CI_RUNS = 400;
const asked = Number(process.env.LEAPBIRD_FUZZ_RUNS);
const scale = Number.isFinite(asked) && asked > 0 ? asked / CI_RUNS : 1;

/** Runs for a property whose CI default is `ciRuns`. */
export function fuzzRuns(ciRuns: number): number {
  return Math.max(1, Math.round(ciRuns * scale));
}

/** A test timeout that grows with the runs asked for (a guard against a hang, not a measure). */
export function fuzzTimeout(ciMs: number): number {
  return Math.round(ciMs * Math.max(1, scale));
}

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** Heap in use after a full garbage collection, in bytes. */
export function heapAfterGc(): number {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

/**
 * Runs `work` and returns how much more heap is in use afterwards (after collection), and
 * prints it, so a leak that the bound lets through still shows in the log.
 */
export async function heapGrowth(label: string, work: () => Promise<void> | void): Promise<number> {
  const before = heapAfterGc();
  await work();
  const growth = heapAfterGc() - before;
  console.log(`[fuzz] ${label}: heap ${(growth / (1024 * 1024)).toFixed(1)} MiB after the runs`);
  return growth;
}

export const MiB = 1024 * 1024;
