/**
 * An account's synced documents (native-host/src/documents) through the reference provider:
 * N contacts' keys written one at a time through the KeyStore on device 1 (as the key manager
 * writes them; the anchor), pushed live to the provider, pulled by a new device in its first
 * sync (what a joining device waits for before it looks for its own key), then that device
 * reopened and listing them. Each step is printed with its ratio to the anchor.
 *
 *   npx tsx bench/documents-sync.ts [contacts=1000]
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mapResolver } from '../native-host/src/net/index.js';
import { bootstrapProvider, ProviderSession } from '../native-host/src/provider/index.js';
import { contactRecord, openDevice, tempDir, testKey } from '../test/documents/helpers.js';
import { startTestProvider } from '../test/provider/helpers.js';

const N = Number(process.argv[2] ?? 1000);

async function timed<T>(run: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const value = await run();
  return [performance.now() - start, value];
}

const provider = await startTestProvider('alpha.test');
const tmp = tempDir('bench');
try {
  const resolver = mapResolver({
    'alpha.test': { origin: provider.apiUrl },
    'api.alpha.test': { origin: provider.apiUrl },
  });
  const info = await bootstrapProvider('alpha.test', {
    resolver,
    pinnedFingerprint: provider.caFingerprint,
  });
  const password = randomBytes(12).toString('hex');
  const sessionOne = await ProviderSession.signUp(info, 'alice', password, { resolver });
  const sessionTwo = await ProviderSession.logIn(info, 'alice', password, { resolver });
  const storageSecret = randomBytes(64);
  const device = (dir: string, session?: ProviderSession) =>
    openDevice({
      dir: join(tmp.dir, dir),
      storageSecret,
      name: 'alice@alpha.test',
      resolver,
      session,
    });
  const key = await testKey('someone@beta.test');

  const one = await device('one', sessionOne);
  const [write] = await timed(async () => {
    for (let i = 0; i < N; i++) {
      const fingerprint = i.toString(16).toUpperCase().padStart(40, '0');
      await one.docs.keyStore.putContact(
        contactRecord(key, { address: `c${i}@beta.test`, fingerprint }),
      );
    }
  });
  one.docs.startReplication();
  const [push, pushed] = await timed(() => one.docs.awaitInSync(600_000));

  const two = await device('two', sessionTwo);
  two.docs.startReplication();
  const [pull, pulled] = await timed(() => two.docs.awaitInSync(600_000));
  const received = (await two.docs.keyStore.listContacts()).length;
  await one.close();
  await two.close();

  const [reopen, again] = await timed(() => device('two'));
  const [list, listed] = await timed(() => again.docs.keyStore.listContacts());
  await again.close();
  if (!pushed || !pulled || received !== N || listed.length !== N) {
    throw new Error(`replication incomplete: pushed ${pushed}, pulled ${received} of ${N}`);
  }

  const row = (what: string, ms: number, perDocument = true) =>
    console.log(
      [
        what.padEnd(44),
        `${ms.toFixed(0).padStart(7)} ms`,
        perDocument ? `${((N / ms) * 1000).toFixed(0).padStart(6)} docs/s` : ' '.repeat(13),
        `x${(ms / write).toFixed(2)} anchor`,
      ].join('  '),
    );
  console.log(`${N} contacts' keys, encrypted SQLite, reference provider on loopback`);
  row('anchor: putContact one at a time (device 1)', write);
  row('push to the provider (device 1)', push);
  row('first sync of a new device (device 2)', pull);
  row('reopen device 2', reopen, false);
  row('listContacts after reopen', list);
} finally {
  await provider.cleanup();
  tmp.remove();
}
