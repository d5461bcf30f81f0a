/**
 * One host per data folder. Node has no flock, so the lock is a file that only appears
 * whole: the holder's identity is written to a private temporary file, which is then
 * hard-linked to `host.lock` (link fails when the name exists, atomically, as O_EXCL does).
 * A crash leaves the file behind; the next host proves its holder gone (see holder.ts) and
 * takes over. Breaking a stale lock is itself done under a second lock, `host.lock.break`,
 * so two hosts that both found the same stale file cannot both remove it and both win.
 *
 * A host that finds the lock held writes nothing: it reads the file and stops there.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { formatHolder, inUseSentence, judge, parseHolder, type LockHolder } from './holder.js';
import { processAlive, processStart } from './process.js';

export const LOCK_FILE = 'host.lock';
const BREAK_FILE = 'host.lock.break';
/** Breaking takes microseconds; a breaker still there after this long is stuck, not busy. */
const BREAK_WAIT_MS = 5_000;
const ATTEMPTS = 20;

/** Tokens of the locks this process holds (two hosts in one process must exclude each other too). */
const heldHere = new Set<string>();

export interface DataLock {
  path: string;
  /** Removes the lock if it is still this one's. Idempotent. */
  release(): void;
}

export type LockResult =
  | { acquired: true; lock: DataLock; tookOver: string | null }
  | { acquired: false; holder: LockHolder; message: string };

export async function acquireDataLock(dataDir: string): Promise<LockResult> {
  const path = join(dataDir, LOCK_FILE);
  const self = newHolder();
  let tookOver: string | null = null;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const existing = readIfExists(path);
    if (existing === null) {
      if (!linkNew(path, self)) continue; // someone else was quicker: look at theirs
      heldHere.add(self.token);
      return { acquired: true, lock: handle(path, self.token), tookOver };
    }
    const holder = parseHolder(existing);
    const verdict = judge(holder, observation());
    if (verdict.held) {
      return {
        acquired: false,
        holder: holder!,
        message: inUseSentence(dataDir, holder!, self.hostname),
      };
    }
    await underBreakLock(dataDir, () => {
      // Still the very file judged stale? Then nobody took it over in between.
      if (readIfExists(path) === existing) unlinkQuietly(path);
    });
    tookOver = verdict.why;
  }
  throw new Error(
    `Could not take the lock ${path}: it kept changing hands. Is something else writing in ${dataDir}?`,
  );
}

/**
 * Whether another host still holds the folder's lock, by reading only: what a refused host
 * asks while it waits, since it may write nothing there.
 */
export function lockStillHeld(dataDir: string): boolean {
  const existing = readIfExists(join(dataDir, LOCK_FILE));
  return existing !== null && judge(parseHolder(existing), observation()).held;
}

function newHolder(): LockHolder {
  return {
    pid: process.pid,
    start: processStart(process.pid),
    hostname: hostname(),
    token: randomBytes(16).toString('hex'),
    since: new Date().toISOString(),
  };
}

function observation() {
  return {
    self: { pid: process.pid, hostname: hostname() },
    heldHere,
    alive: processAlive,
    startOf: processStart,
  };
}

function handle(path: string, token: string): DataLock {
  return {
    path,
    release() {
      if (!heldHere.delete(token)) return;
      const current = readIfExists(path);
      if (current !== null && parseHolder(current)?.token === token) unlinkQuietly(path);
    },
  };
}

/** Creates `path` holding `holder`, whole, or returns false if the name exists. */
function linkNew(path: string, holder: LockHolder): boolean {
  const temp = `${path}.${holder.token}.tmp`;
  writeFileSync(temp, formatHolder(holder), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkQuietly(temp);
  }
}

async function underBreakLock(dataDir: string, work: () => void): Promise<void> {
  const path = join(dataDir, BREAK_FILE);
  const self = newHolder();
  const deadline = Date.now() + BREAK_WAIT_MS;
  while (!linkNew(path, self)) {
    const existing = readIfExists(path);
    if (existing === null) continue;
    // A breaker that died mid-break (a few microseconds of exposure) is removed directly.
    const verdict = judge(parseHolder(existing), observation());
    if (!verdict.held || Date.now() > deadline) {
      if (readIfExists(path) === existing) unlinkQuietly(path);
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  heldHere.add(self.token);
  try {
    work();
  } finally {
    heldHere.delete(self.token);
    unlinkQuietly(path);
  }
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
