/**
 * The attacker here is no one in particular: the user's own provider having a bad moment.
 * Its front end answers a login's recovery-record fetch with a 503, with garbage, with a
 * record that is not one, drops the connection, or claims there is no record although the
 * synced keys are there. Each time the login must end with a sentence and change nothing,
 * on this computer or at the provider; once the provider answers properly, the same device
 * logs in and opens the account's one key. (Before the fix, any such hiccup made the host
 * create a new storage secret and store it over the good record: the synced private key
 * became unreadable for every device.)
 *
 * The provider is the real one; a TLS front with the provider's own certificate sits in
 * front of its API (where a load balancer would be) and spoils the answers to
 * `GET /1/recovery` it is told to. The host is the real one, spoken to as the add-on does.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTIONS } from '../../native-host/src/documents/index.js';
import {
  hostConfigFor,
  loopbackNames,
  startTestProvider,
  type TestProvider,
} from '../provider/helpers.js';
import { startHostAsAddon, type AddonSide } from '../helpers/addon-side.js';
import { waitFor } from '../helpers/wait.js';

type Fault = 'http-503' | 'html' | 'not-a-record' | 'drop' | 'no-record';

/** The provider's API behind a front that spoils the next recovery fetches it is given. */
async function flakyFront(provider: TestProvider) {
  const faults: Fault[] = [];
  const seen: string[] = [];
  const server: Server = createServer(
    {
      cert: readFileSync(join(provider.dataDir, 'ca', 'server.crt')),
      key: readFileSync(join(provider.dataDir, 'ca', 'server.key')),
    },
    (req, res) => {
      const path = req.url ?? '/';
      seen.push(`${req.method} ${path.split('?')[0]}`);
      const fault = req.method === 'GET' && path === '/1/recovery' ? faults.shift() : undefined;
      if (fault === 'http-503') {
        res.writeHead(503, { 'content-type': 'text/html', 'retry-after': '30' });
        res.end('<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>');
        return;
      }
      if (fault === 'html') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>Maintenance: back soon</body></html>');
        return;
      }
      if (fault === 'not-a-record') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ record: 'eyJ2IjoxfQ' }));
        return;
      }
      if (fault === 'no-record') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: { code: 'not_found', message: 'No recovery record is stored for this account' },
          }),
        );
        return;
      }
      if (fault === 'drop') {
        req.socket.destroy();
        return;
      }
      const upstream = request(
        {
          host: provider.host,
          port: provider.ports.api,
          method: req.method,
          path,
          headers: req.headers,
          ca: provider.caCertPem,
          servername: provider.domain,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    faults,
    seen,
    /** The host's configuration, with every name of the provider leading to the front. */
    hostConfig: {
      ...hostConfigFor(provider),
      resolver: Object.fromEntries(
        Object.keys(loopbackNames(provider)).map((name) => [name, { origin }]),
      ),
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('a flaky provider during login', () => {
  let provider: TestProvider;
  let front: Awaited<ReturnType<typeof flakyFront>>;
  let secondDevice: AddonSide;
  let secondDir: string;
  let firstFingerprint: string;
  const dirs: string[] = [];
  const password = 'a long passphrase for alice';
  const credentials = { domain: 'alpha.test', username: 'alice', password };

  /** Everything the provider keeps for alice that a login could change. */
  const providerState = async () => {
    const user = (await provider.store.userByLogin('alice'))!;
    return {
      record: await provider.store.getRecovery(user.id),
      publicKey: user.publicKey,
      verifier: user.verifier,
      documents: await Promise.all(
        Object.values(COLLECTIONS).map((c) => provider.store.pull(user.id, c, null, 1000)),
      ),
    };
  };
  /** Every file of the second device, with its content (the host's log aside). */
  const localState = () =>
    readdirSync(secondDir, { recursive: true, encoding: 'utf8', withFileTypes: false })
      .filter((name) => !name.startsWith('logs'))
      .sort()
      .map((name) => {
        try {
          return `${name}: ${readFileSync(join(secondDir, name)).toString('base64')}`;
        } catch {
          return `${name}/`;
        }
      });
  /** What the front forwarded that writes something (logging in and out aside). */
  const writes = () =>
    front.seen.filter((r) => !r.startsWith('GET ') && !/ \/1\/(sessions|logout)/.test(r));

  /** One login from the second device while the front spoils the recovery fetch. */
  async function failedLogin(fault: Fault): Promise<string> {
    const before = { provider: await providerState(), local: localState() };
    front.seen.length = 0;
    front.faults.push(fault);
    const error = await secondDevice.addon.call('setup.logIn', credentials).then(
      () => null,
      (e: Error) => e,
    );
    expect(front.faults).toEqual([]); // the fault was played
    expect(error, 'the login must fail').not.toBeNull();
    expect(await providerState()).toEqual(before.provider);
    expect(localState()).toEqual(before.local);
    expect(writes()).toEqual([]);
    expect((await secondDevice.addon.call('host.status', {})).accounts).toEqual([]);
    return error!.message;
  }

  beforeAll(async () => {
    provider = await startTestProvider('alpha.test');
    front = await flakyFront(provider);
    const firstDir = mkdtempSync(join(tmpdir(), 'lb-flaky-1-'));
    secondDir = mkdtempSync(join(tmpdir(), 'lb-flaky-2-'));
    dirs.push(firstDir, secondDir);
    const first = await startHostAsAddon({ dataDir: firstDir, ...front.hostConfig });
    firstFingerprint = (await first.addon.call('setup.signUp', credentials)).ownKey.fingerprint;
    // The first device's key is synced before the second device tries.
    await waitFor(
      "the first device's key at the provider",
      async () => (await providerState()).documents[0]!.length > 0,
    );
    await first.stop();
    secondDevice = await startHostAsAddon({ dataDir: secondDir, ...front.hostConfig });
    // A starting host writes its loopback certificate in the background: let it finish, so
    // a login's snapshot compares the idle device with itself.
    await waitFor(
      "the second device's loopback certificate",
      () =>
        localState().every((entry) => !entry.includes('.tmp')) &&
        localState().some((entry) => entry.startsWith('tls/local.crt')),
    );
  }, 120_000);

  afterAll(async () => {
    await secondDevice?.stop();
    await front?.close();
    await provider?.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('answers 503 to the recovery fetch', async () => {
    expect(await failedLogin('http-503')).toMatch(
      /could not fetch the recovery record .*HTTP 503.*Nothing was changed on this computer or at alpha\.test/,
    );
  });

  it('answers with an HTML page instead of the record', async () => {
    expect(await failedLogin('html')).toMatch(
      /alpha\.test sent something that is not a LeapBird recovery record.*changed nothing/,
    );
  });

  it('answers with a record that is not one', async () => {
    expect(await failedLogin('not-a-record')).toMatch(
      /alpha\.test sent something that is not a LeapBird recovery record.*changed nothing/,
    );
  });

  it('drops the connection during the recovery fetch', async () => {
    expect(await failedLogin('drop')).toMatch(
      /could not fetch the recovery record .*could not be reached.*Nothing was changed/,
    );
  });

  it('says there is no record while the synced keys are there', async () => {
    expect(await failedLogin('no-record')).toMatch(
      /keeps the keys and settings you synced .* but not the recovery record.*changed nothing/,
    );
  });

  it('answers with the record at last: the login opens the account and its one key', async () => {
    const before = await providerState();
    const result = await secondDevice.addon.call('setup.logIn', credentials);
    expect(result.ownKey.fingerprint).toBe(firstFingerprint);
    expect((await providerState()).record).toBe(before.record);
    expect((await providerState()).publicKey).toBe(before.publicKey);
  });
});
