import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startProvider } from '../../provider/src/index.js';
import { api, logIn, signUp, type TestProvider } from './helpers.js';

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

  // Restarted with sign-ups closed: existing accounts still log in, new ones are refused.
  const second = await startProvider({
    domain: 'life.test',
    dataDir,
    host: '127.0.0.2',
    allowRegistration: false,
  });
  try {
    const again = { ...second, dataDir, cleanup: async () => {} } as TestProvider;
    expect(second.caFingerprint).toBe(first.caFingerprint);
    expect((await logIn(again, 'rosa', 'pw-rosa')).status).toBe(200);
    expect((await api(again, 'GET', '/provider.json')).json.service.allow_registration).toBe(false);
    const refused = await signUp(again, 'newcomer', 'pw');
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('registration_closed');
  } finally {
    await second.stop();
  }
});
