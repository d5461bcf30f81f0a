import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startProvider } from '../../provider/src/index.js';
import { logIn, signUp, type TestProvider } from './helpers.js';

const dataDir = mkdtempSync(join(tmpdir(), 'provider-lifecycle-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

it('stops every listener and Dovecot, and restarts with the same CA and accounts', async () => {
  const first = await startProvider({ domain: 'life.test', dataDir, host: '127.0.0.2' });
  const asTest = { ...first, dataDir, cleanup: async () => {} } as TestProvider;
  expect((await signUp(asTest, 'rosa', 'pw-rosa')).status).toBe(201);
  const ports = Object.values(first.ports);
  for (const port of ports) expect(await accepts(first.host, port)).toBe(true);

  await first.stop();
  for (const port of ports) expect(await accepts(first.host, port)).toBe(false);
  expect(() => process.kill(first.dovecot.pid, 0)).toThrow();

  const second = await startProvider({ domain: 'life.test', dataDir, host: '127.0.0.2' });
  try {
    expect(second.caFingerprint).toBe(first.caFingerprint);
    expect(
      (await logIn({ ...second, dataDir, cleanup: async () => {} }, 'rosa', 'pw-rosa')).status,
    ).toBe(200);
  } finally {
    await second.stop();
  }
});
