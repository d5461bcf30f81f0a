/**
 * What a user waits for at setup and at each start: provider bootstrap (CA pinning), SRP
 * login, key generation, and a whole first setup (secret, recovery record, key, servers, first
 * sync). Anchor: one plain HTTPS request to the same API, so the figures read as round trips.
 *   npx tsx bench/account-setup.ts [runs]
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccountService } from '../native-host/src/account/index.js';
import { generateOwnKey } from '../native-host/src/crypto/index.js';
import { silentLogger } from '../native-host/src/log/index.js';
import { httpsRequest, mapResolver } from '../native-host/src/net/index.js';
import { bootstrapProvider, ProviderSession } from '../native-host/src/provider/index.js';
import { startProvider } from '../provider/src/index.js';
import { loopbackNames } from '../test/provider/helpers.js';
import { median } from './lib/stats.js';

const runs = Number(process.argv[2] ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'bench-setup-'));
chmodSync(dir, 0o711);
const provider = await startProvider({ domain: 'alpha.test', dataDir: join(dir, 'provider') });
const resolver = mapResolver(loopbackNames(provider));

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

try {
  const info = await bootstrapProvider('alpha.test', {
    resolver,
    pinnedFingerprint: provider.caFingerprint,
  });
  await ProviderSession.signUp(info, 'bench', 'bench-password', { resolver });
  const rows: [string, number[]][] = [
    ['HTTPS GET provider.json (anchor)', []],
    ['bootstrap (provider.json, CA, pin check)', []],
    ['SRP login (handshake, proof, M2 check)', []],
    ['key generation (curve25519 legacy)', []],
  ];
  for (let i = 0; i < runs; i++) {
    rows[0]![1].push(
      await time(() =>
        httpsRequest({ url: 'https://alpha.test/provider.json', resolver, ca: provider.caCertPem }),
      ),
    );
    rows[1]![1].push(
      await time(() =>
        bootstrapProvider('alpha.test', { resolver, pinnedFingerprint: provider.caFingerprint }),
      ),
    );
    rows[2]![1].push(
      await time(() => ProviderSession.logIn(info, 'bench', 'bench-password', { resolver })),
    );
    rows[3]![1].push(await time(() => generateOwnKey({ address: `k${i}@alpha.test` })));
  }
  const setups: number[] = [];
  for (let i = 0; i < Math.min(runs, 3); i++) {
    const service = new AccountService({
      dataDir: join(dir, `host${i}`),
      logger: silentLogger,
      resolver,
      knownProviders: { 'alpha.test': provider.caFingerprint },
    });
    service.setDeviceKey(randomBytes(32).toString('base64'));
    setups.push(
      await time(() =>
        service.signUp({ domain: 'alpha.test', username: `user${i}`, password: 'a long password' }),
      ),
    );
    await service.stopAll();
  }
  rows.push(['whole first setup (sign-up to servers running)', setups]);
  const anchor = median(rows[0]![1]);
  console.log(`runs: ${runs} (setup: ${setups.length}); median ms and ratio to the anchor`);
  for (const [name, xs] of rows)
    console.log(
      `${name.padEnd(48)} ${median(xs).toFixed(1).padStart(8)} ms  ${(median(xs) / anchor).toFixed(1).padStart(6)}x`,
    );
} finally {
  await provider.stop();
  rmSync(dir, { recursive: true, force: true });
}
