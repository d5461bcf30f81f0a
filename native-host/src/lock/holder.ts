/**
 * What a lock file says and whether its holder still holds it: pure logic, no I/O. The
 * caller observes the process the file names (alive? started when?) and this decides.
 */

/** The content of `host.lock`: enough to tell the holding process from any other. */
export interface LockHolder {
  pid: number;
  /**
   * When the process started, as the kernel counts it (Linux: field 22 of /proc/<pid>/stat),
   * or null where that cannot be read. A live process with the same PID but another start
   * time is a different program that got a reused PID.
   */
  start: string | null;
  hostname: string;
  /** Random, per acquisition: tells two hosts apart that share one process (tests, embedders). */
  token: string;
  /** ISO time the lock was taken, for the sentence a refused host shows. */
  since: string;
}

export function formatHolder(holder: LockHolder): string {
  return JSON.stringify(holder) + '\n';
}

/** The holder, or null for a file that is not one (damaged, empty, written by something else). */
export function parseHolder(text: string): LockHolder | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.pid) || (v.pid as number) <= 0) return null;
  if (v.start !== null && typeof v.start !== 'string') return null;
  if (typeof v.hostname !== 'string' || typeof v.token !== 'string') return null;
  if (typeof v.since !== 'string') return null;
  return {
    pid: v.pid as number,
    start: v.start as string | null,
    hostname: v.hostname,
    token: v.token,
    since: v.since,
  };
}

/** What the caller saw of the process a lock file names. */
export interface Observation {
  /** This process's identity. */
  self: { pid: number; hostname: string };
  /** Tokens of the locks this process holds right now. */
  heldHere: ReadonlySet<string>;
  /** Whether a process with the holder's PID exists (only asked on the same machine). */
  alive: (pid: number) => boolean;
  /** The start time of a live process, or null where unknown. */
  startOf: (pid: number) => string | null;
}

export type Verdict = { held: true } | { held: false; why: string };

/**
 * Whether the lock is still held. It is given up only on proof: a dead PID, a PID reused
 * by another program, a damaged file, or this very process having forgotten it. A holder on
 * another machine (a data folder on a network share) cannot be checked and so is held.
 */
export function judge(holder: LockHolder | null, seen: Observation): Verdict {
  if (!holder) return { held: false, why: 'the lock file is damaged' };
  if (holder.hostname !== seen.self.hostname) return { held: true };
  if (holder.pid === seen.self.pid) {
    return seen.heldHere.has(holder.token)
      ? { held: true }
      : { held: false, why: 'it was left by an earlier host in this process' };
  }
  if (!seen.alive(holder.pid)) return { held: false, why: `process ${holder.pid} has ended` };
  const start = seen.startOf(holder.pid);
  if (holder.start !== null && start !== null && start !== holder.start) {
    return { held: false, why: `process ${holder.pid} is now another program` };
  }
  return { held: true };
}

/** The sentence a refused host gives the add-on and its log. */
export function inUseSentence(dataDir: string, holder: LockHolder, selfHostname: string): string {
  const since = holder.since.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
  const who =
    holder.hostname === selfHostname
      ? `Another LeapBird host (process ${holder.pid}, running since ${since})`
      : `LeapBird on the computer "${holder.hostname}" (since ${since})`;
  return (
    `${who} is already using the data folder ${dataDir}. This one does not open, sync or ` +
    'serve it, so the two cannot mix up your mail: close the other Thunderbird profile or ' +
    'stop the other LeapBird host, then restart Thunderbird.'
  );
}
