/**
 * `leapbird-host serve` without Thunderbird, as a person runs it on a terminal: a login
 * sets the account up as on a new device (SRP, the storage secret from the recovery
 * record), `credentials` says what another client needs and those work against the real
 * local IMAP server, `status` tells the state, SIGTERM stops it cleanly, and after a
 * restart the account is locked until the password is given again, with the same loopback
 * password as before. Thunderbird starting its own host meanwhile gets relayed to this one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../native-host/src/lock/index.js';
import { newAccount, startTestProvider, type TestProvider } from '../provider/helpers.js';
import { sayHello, spawnHost } from '../helpers/addon-side.js';
import { waitFor } from '../helpers/wait.js';
import {
  cli,
  cliOnTerminal,
  credentialsOf,
  standalonePlace,
  startServe,
  type ClientSettings,
  type Place,
  type ServeProcess,
} from './helpers.js';

const PASSWORD = 'alice on a terminal';

async function imapLogin(settings: ClientSettings, password = settings.password) {
  const { readFileSync } = await import('node:fs');
  const client = new ImapFlow({
    host: settings.imap.host,
    port: settings.imap.port,
    secure: true,
    tls: { ca: readFileSync(settings.certificateFile, 'utf8') },
    auth: { user: settings.username, pass: password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  const mailboxes = (await client.list()).map((m) => m.path);
  await client.logout();
  return mailboxes;
}

describe('leapbird-host serve, login, status, credentials', () => {
  let provider: TestProvider;
  let place: Place;
  let serve: ServeProcess | null = null;
  let first: ClientSettings;

  beforeAll(async () => {
    provider = await startTestProvider('alpha.test');
    await newAccount(provider, 'alice', PASSWORD);
    place = standalonePlace(provider);
    serve = await startServe(place);
  }, 120_000);

  afterAll(async () => {
    await serve?.stop();
    await provider?.cleanup();
    place?.cleanup();
  });

  it('logs in from the terminal and serves the account to another IMAP client', async () => {
    const login = await cli(
      place,
      ['login', 'alice@alpha.test', '--password-stdin'],
      PASSWORD + '\n',
    );
    expect(login.stderr).not.toContain(PASSWORD);
    expect(login).toMatchObject({ code: 0 });
    expect(login.stdout).toContain('alice@alpha.test is unlocked');

    first = await credentialsOf(place, 'alice@alpha.test');
    expect(first).toMatchObject({
      username: 'alice@alpha.test',
      imap: { host: '127.0.0.1' },
      smtp: { host: '127.0.0.1' },
      certificateFingerprint: expect.stringMatching(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/) as string,
    });
    expect(await imapLogin(first)).toEqual(expect.arrayContaining(['INBOX', 'Sent']));
    await expect(imapLogin(first, 'not the password')).rejects.toThrow();

    const human = await cli(place, ['credentials', 'alice@alpha.test']);
    expect(human.stdout).toContain(`password     ${first.password}`);
    expect(human.stdout).toContain(`port ${first.imap.port}, TLS`);

    const status = await waitFor(
      'alice connected',
      async () => {
        const result = await cli(place, ['status']);
        return result.stdout.includes('alice@alpha.test: connected') ? result : undefined;
      },
      60_000,
    );
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`IMAP 127.0.0.1:${first.imap.port} (TLS)`);
    expect(status.stdout).toMatch(/sync: \d+ of \d+ messages in \d+ folders/);
  }, 120_000);

  it('says in one line what is wrong: a wrong password, an unknown account, a bad address', async () => {
    const wrong = await cli(place, ['login', 'alice@alpha.test', '--password-stdin'], 'nope\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(2); // "Logging in…" and the reason
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
    const unknown = await cli(place, ['credentials', 'carol@alpha.test']);
    expect(unknown).toMatchObject({
      code: 1,
      stderr: 'leapbird-host: carol@alpha.test is not set up on this computer.\n',
    });
    const bad = await cli(place, ['login', 'alice']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^leapbird-host: "alice" is not an address/);
    const twice = await cli(place, ['serve']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/is already using the data folder .* Only one host may use it/);
    // The account still works after all that.
    expect(await imapLogin(first)).toContain('INBOX');
  }, 120_000);

  it('a host Thunderbird starts meanwhile relays the add-on to this one', async () => {
    const fromThunderbird = spawnHost({ dataDir: place.dataDir });
    try {
      await sayHello(fromThunderbird.addon, randomBytes(32).toString('base64'));
      const status = await fromThunderbird.addon.call('host.status', {});
      expect(status.accounts).toEqual([{ email: 'alice@alpha.test', state: 'connected' }]);
      const own = await fromThunderbird.addon.call('keys.own', { email: 'alice@alpha.test' });
      expect(own.address).toBe('alice@alpha.test');
      expect(fromThunderbird.stderr()).toContain('host.relay_to_standalone');
      const seen = await cli(place, ['status']);
      expect(seen.stdout).toContain('Thunderbird connected: yes');
    } finally {
      await fromThunderbird.stop();
    }
    // Thunderbird going away leaves the standalone host serving.
    expect(await imapLogin(first)).toContain('INBOX');
  }, 120_000);

  it('stops on SIGTERM, and after a restart is locked until the password is typed again', async () => {
    const relayed = spawnHost({ dataDir: place.dataDir });
    await sayHello(relayed.addon, randomBytes(32).toString('base64'));
    expect(await serve!.stop()).toBe(0);
    // Thunderbird's relaying host ends with it, so the add-on reconnects to a host that serves.
    await relayed.exited;
    expect(serve!.stderr()).toContain('leapbird-host: stopped');
    expect(existsSync(join(place.dataDir, LOCK_FILE))).toBe(false);
    const stopped = await cli(place, ['status']);
    expect(stopped.code).toBe(3);
    expect(stopped.stdout).toContain('No LeapBird host is running');
    expect(stopped.stdout).toContain('alice@alpha.test: not running');

    serve = await startServe(place);
    const locked = await cli(place, ['status']);
    expect(locked.stdout).toContain('alice@alpha.test: needs_login');
    expect(locked.stdout).toContain('leapbird-host login alice@alpha.test');
    const noCredentials = await cli(place, ['credentials', 'alice@alpha.test']);
    expect(noCredentials.code).toBe(1);
    expect(noCredentials.stderr).toContain('alice@alpha.test is locked');

    // Typed at a terminal this time: the prompt shows, the password does not.
    const again = await cliOnTerminal(
      place,
      ['login', 'alice@alpha.test'],
      'Password for alice@alpha.test:',
      PASSWORD,
    );
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Password for alice@alpha.test:');
    expect(again.stdout).toContain('alice@alpha.test is unlocked');
    expect(again.stdout).not.toContain(PASSWORD);
    // The same password and ports: mutt's or mbsync's settings stay right.
    expect(await credentialsOf(place, 'alice@alpha.test')).toEqual(first);
    expect(await imapLogin(first)).toContain('INBOX');
  }, 180_000);
});
