/**
 * Two hosts on one data folder: two Thunderbird profiles started by one user, or Thunderbird
 * plus a standalone host. Both would sync into and serve the same store. Played with the
 * real host: the first as Thunderbird starts it (a process of its own) serving an account on
 * the real provider, the second as a process too, and in this process. What must hold: the
 * second says why in words to the add-on, opens, writes and binds nothing; the first keeps
 * working; and once the first has stopped, or was killed with SIGKILL and left its lock
 * behind, the next host starts and serves the account.
 *
 * While the second host tries, the first is paused (SIGSTOP: alive, lock held, but writing
 * nothing), so that every change to the folder in that time would be the second's.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RpcError } from '../../shared/src/errors.js';
import { LOCK_FILE } from '../../native-host/src/lock/index.js';
import { hostConfigFor, startTestProvider, type TestProvider } from '../provider/helpers.js';
import {
  sayHello,
  spawnHost,
  startHostAsAddon,
  startHostSilently,
  type AddonPeer,
  type HostProcess,
} from '../helpers/addon-side.js';
import { waitFor } from '../helpers/wait.js';

describe('a second host on the same data folder', () => {
  let provider: TestProvider;
  let dataDir: string;
  let first: HostProcess | null = null;
  const deviceKey = randomBytes(32).toString('base64');
  const credentials = { domain: 'alpha.test', username: 'alice', password: 'alice in two places' };
  const config = () => ({ dataDir, ...hostConfigFor(provider) });

  /** Every file of the data folder with a hash of its content (the logs aside). */
  const localState = () =>
    readdirSync(dataDir, { recursive: true, encoding: 'utf8' })
      .filter((name) => !name.startsWith('logs'))
      .sort()
      .map((name) => {
        try {
          return `${name}: ${createHash('sha256')
            .update(readFileSync(join(dataDir, name)))
            .digest('hex')}`;
        } catch {
          return `${name}/`;
        }
      });
  const refusal = (call: Promise<unknown>) =>
    call.then(
      () => null,
      (error: RpcError) => ({ code: error.code, message: error.message }),
    );
  const serving = (addon: AddonPeer) =>
    waitFor('alice served', async () => {
      const status = await addon.call('host.status', {});
      return status.accounts.some((a) => a.email === 'alice@alpha.test' && a.state === 'connected')
        ? status
        : undefined;
    });
  /** TCP ports a process listens on (Linux: its socket inodes that /proc/net/tcp lists as LISTEN). */
  const listeningPorts = (pid: number) => {
    const inodes = new Set(
      readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
          } catch {
            return undefined;
          }
        })
        .filter(Boolean),
    );
    return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((table) =>
      readFileSync(table, 'utf8')
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/))
        .filter((f) => f[3] === '0A' && inodes.has(f[9]))
        .map((f) => parseInt(f[1]!.split(':')[1]!, 16)),
    );
  };

  /** The first host frozen while `attempt` runs, so the folder changes only by the attempt. */
  async function withFirstPaused<T>(attempt: () => Promise<T>): Promise<T> {
    first!.child.kill('SIGSTOP');
    try {
      return await attempt();
    } finally {
      first!.child.kill('SIGCONT');
    }
  }

  beforeAll(async () => {
    provider = await startTestProvider('alpha.test');
    dataDir = mkdtempSync(join(tmpdir(), 'lb-two-hosts-'));
    first = spawnHost(config());
    await sayHello(first.addon, deviceKey);
    await first.addon.call('setup.signUp', credentials);
    await serving(first.addon);
    await waitFor('the loopback certificate', () =>
      localState().some((entry) => entry.startsWith('tls/local.crt')),
    );
  }, 120_000);

  afterAll(async () => {
    first?.child.kill('SIGCONT');
    await first?.stop();
    await provider?.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a second host process says the folder is in use, and touches and binds nothing', async () => {
    await withFirstPaused(async () => {
      const before = localState();
      const second = spawnHost(config());
      try {
        const hello = await refusal(sayHello(second.addon, deviceKey));
        expect(hello).toEqual({
          code: 'data_in_use',
          message: expect.stringMatching(
            new RegExp(
              `^Another LeapBird host \\(process ${first!.child.pid}, running since .* UTC\\) is already using the data folder ${dataDir}\\. This one does not open, sync or serve it`,
            ),
          ) as string,
        });
        // Whatever the add-on asks next gets the same sentence and does nothing.
        expect(await refusal(second.addon.call('setup.logIn', credentials))).toEqual(hello);
        expect(await refusal(second.addon.call('host.status', {}))).toEqual(hello);
        expect(listeningPorts(second.child.pid!)).toEqual([]);
        expect(second.stderr()).toContain('is already using the data folder');
        expect(localState()).toEqual(before);
      } finally {
        await second.stop();
      }
      expect(localState()).toEqual(before);
    });
    // The first never noticed.
    await serving(first!.addon);
    expect(
      (await first!.addon.call('keys.own', { email: 'alice@alpha.test' })).fingerprint,
    ).toMatch(/^[0-9A-F]{40}$/i);
  }, 60_000);

  it('a second host in this process refuses as well, and gives way once the first has stopped', async () => {
    const second = await withFirstPaused(async () => {
      const before = localState();
      const second = await startHostSilently(config());
      expect(await refusal(sayHello(second.addon, deviceKey))).toMatchObject({
        code: 'data_in_use',
        message: expect.stringContaining(`is already using the data folder ${dataDir}`) as string,
      });
      expect(localState()).toEqual(before);
      return second;
    });
    try {
      await serving(first!.addon);
      await first!.stop();
      first = null;
      expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
      // The refused host ends by itself, so Thunderbird reconnects and gets one that serves.
      await second.host.ended;
    } finally {
      await second.stop();
    }
    const next = await startHostAsAddon(config(), deviceKey);
    try {
      await serving(next.addon);
    } finally {
      await next.stop();
    }
  }, 60_000);

  it('after a host was killed with SIGKILL, the next one takes over its lock', async () => {
    const killed = spawnHost(config());
    await sayHello(killed.addon, deviceKey);
    await serving(killed.addon);
    // Thunderbird reconnecting meanwhile gets a host that refuses and waits.
    const waiting = spawnHost(config());
    expect(await refusal(sayHello(waiting.addon, deviceKey))).toMatchObject({
      code: 'data_in_use',
    });

    killed.child.kill('SIGKILL');
    await killed.exited;
    killed.addon.close();
    // The lock is still there, naming a process that is gone ...
    expect(JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8'))).toMatchObject({
      pid: killed.child.pid,
    });
    // ... which the waiting host sees: it ends by itself, leaving the folder as it was.
    await waiting.exited;
    expect(waiting.child.exitCode).toBe(0);
    waiting.addon.close();
    const next = await startHostAsAddon(config(), deviceKey);
    try {
      await serving(next.addon);
      const log = readFileSync(join(dataDir, 'logs', 'host.log'), 'utf8');
      expect(log).toContain(`"why":"process ${killed.child.pid} has ended"`);
    } finally {
      await next.stop();
    }
  }, 90_000);
});
