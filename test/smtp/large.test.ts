/**
 * A 50 MB attachment goes through submission, encryption, the outbox and the relay as a
 * stream: the live memory the process gains while it passes stays below the size of the
 * message (a generous bound; streaming needs a few chunks). Measured in a child process
 * with explicit garbage collection, so garbage not yet collected does not count.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('./large-child.ts', import.meta.url));

it('encrypts, queues and relays a 50 MB attachment without holding it in memory', async () => {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  expect(err.replace(/npm warn.*\n?/g, '')).toBe('');
  expect(code).toBe(0);
  const result = JSON.parse(out) as {
    reply: string;
    size: number;
    grown: number;
    delivered: { size: number; encrypted: boolean } | null;
    queued: number;
  };
  expect(result.reply).toContain('(encrypt)');
  expect(result.queued).toBe(0);
  expect(result.delivered?.encrypted).toBe(true);
  expect(result.delivered!.size).toBeGreaterThan(result.size);
  console.log(
    `message ${(result.size / 2 ** 20).toFixed(1)} MiB; live memory grew by at most ${(result.grown / 2 ** 20).toFixed(1)} MiB`,
  );
  expect(result.grown).toBeLessThan(result.size);
}, 120_000);
