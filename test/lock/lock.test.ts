/**
 * The data folder lock on its own: who counts as still holding it, and that contenders
 * racing for a free or stale lock never both win.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acquireDataLock,
  judge,
  LOCK_FILE,
  parseHolder,
  type LockHolder,
} from '../../native-host/src/lock/index.js';

const CHILD = join(import.meta.dirname, 'race-child.ts');
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'lb-lock-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const holder = (over: Partial<LockHolder> = {}): LockHolder => ({
  pid: 4242,
  start: '1000',
  hostname: 'laptop',
  token: 'abc',
  since: '2026-12-05T10:00:00.000Z',
  ...over,
});
const seen = (over: { alive?: boolean; start?: string | null; heldHere?: string[] } = {}) => ({
  self: { pid: 7, hostname: 'laptop' },
  heldHere: new Set(over.heldHere ?? []),
  alive: () => over.alive ?? true,
  startOf: () => (over.start === undefined ? '1000' : over.start),
});

describe('who holds the lock', () => {
  it('a live process that started when the lock says holds it', () => {
    expect(judge(holder(), seen())).toEqual({ held: true });
  });
  it('a process that has ended does not', () => {
    expect(judge(holder(), seen({ alive: false }))).toEqual({
      held: false,
      why: 'process 4242 has ended',
    });
  });
  it('a live process that started at another time got a reused PID and does not', () => {
    expect(judge(holder(), seen({ start: '2000' }))).toMatchObject({ held: false });
  });
  it('without a start time to compare, a live process is given the benefit of the doubt', () => {
    expect(judge(holder({ start: null }), seen({ start: '2000' }))).toEqual({ held: true });
    expect(judge(holder(), seen({ start: null }))).toEqual({ held: true });
  });
  it('a holder on another computer cannot be checked and holds it', () => {
    expect(judge(holder({ hostname: 'desktop' }), seen({ alive: false }))).toEqual({ held: true });
  });
  it('this process holds it only while it has not released that lock', () => {
    expect(judge(holder({ pid: 7 }), seen({ heldHere: ['abc'] }))).toEqual({ held: true });
    expect(judge(holder({ pid: 7 }), seen())).toMatchObject({ held: false });
  });
  it('a damaged lock file holds nothing', () => {
    for (const text of ['', '{"pid":', '{"pid":-1}', 'null', '[1]']) {
      expect(judge(parseHolder(text), seen())).toEqual({
        held: false,
        why: 'the lock file is damaged',
      });
    }
  });
});

describe('taking the lock', () => {
  it('is exclusive, private, and free again once released', async () => {
    const dir = tempDir();
    const one = await acquireDataLock(dir);
    if (!one.acquired) throw new Error(one.message);
    expect(readFileSync(join(dir, LOCK_FILE)).length).toBeGreaterThan(0);
    const two = await acquireDataLock(dir);
    expect(two).toMatchObject({ acquired: false, holder: { pid: process.pid } });
    one.lock.release();
    const three = await acquireDataLock(dir);
    expect(three).toMatchObject({ acquired: true, tookOver: null });
    if (three.acquired) three.lock.release();
  });

  it('takes over a damaged lock file and one whose PID now belongs to another program', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), '');
    const damaged = await acquireDataLock(dir);
    expect(damaged).toMatchObject({ acquired: true, tookOver: 'the lock file is damaged' });
    if (damaged.acquired) damaged.lock.release();
    // PID 1 is alive, but it is not the process that took this lock.
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify(holder({ pid: 1, start: '1', hostname: hostname() })),
    );
    const reused = await acquireDataLock(dir);
    expect(reused).toMatchObject({ acquired: true, tookOver: 'process 1 is now another program' });
    if (reused.acquired) reused.lock.release();
  });

  /**
   * Eight processes try at the same moment (once all have started) and hold what they got
   * until every one has answered; exactly one may have got it.
   */
  async function race(dir: string): Promise<boolean[]> {
    const at = Date.now() + 4_000;
    const children = Array.from({ length: 8 }, () =>
      spawn(process.execPath, ['--import', 'tsx', CHILD, dir, String(at)]),
    );
    const answers = children.map(
      (child) =>
        new Promise<boolean>((resolve, reject) => {
          let out = '';
          let err = '';
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('\n')) resolve((JSON.parse(out) as { acquired: boolean }).acquired);
          });
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('exit', () => reject(new Error(`contender ended without answering: ${err}`)));
        }),
    );
    try {
      return await Promise.all(answers);
    } finally {
      for (const child of children) child.stdin.end();
    }
  }

  it('contenders for a free lock: one wins', async () => {
    const won = await race(tempDir());
    expect(won.filter(Boolean)).toHaveLength(1);
  }, 60_000);

  it('contenders for a stale lock: one wins, however they interleave the take-over', async () => {
    const dir = tempDir();
    // A host that was killed: its PID is gone (PIDs this large are not handed out).
    writeFileSync(
      join(dir, LOCK_FILE),
      JSON.stringify(holder({ pid: 2 ** 30, hostname: hostname() })),
    );
    const won = await race(dir);
    expect(won.filter(Boolean)).toHaveLength(1);
  }, 60_000);
});
