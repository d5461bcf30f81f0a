/**
 * Run by crash.test.ts in a child process that is killed with SIGKILL at a random moment:
 * opens the account store and runs one sync pass, printing "progress <done>" as batches
 * commit and "done" at the end. Secrets come through the environment, not the command line.
 */
import { readFileSync } from 'node:fs';
import { openAccountStore } from '../../native-host/src/store/index.js';
import { SyncEngine } from '../../native-host/src/sync/index.js';
import { testKeys } from './helpers.js';

const [dir, caPath, host, port, servername, user] = process.argv.slice(2);
const env = process.env;
const store = await openAccountStore({
  dir: dir!,
  storageSecret: Buffer.from(env.SYNC_TEST_SECRET!, 'hex'),
});
const engine = new SyncEngine({
  store,
  credentials: {
    host: host!,
    port: Number(port),
    secure: true,
    servername: servername!,
    ca: readFileSync(caPath!, 'utf8'),
    user: user!,
    accessToken: async () => env.SYNC_TEST_TOKEN!,
  },
  keys: testKeys({ address: user!, privateKey: env.SYNC_TEST_KEY! }),
  onProgress: (p) => process.stdout.write(`progress ${p.mailbox} ${p.done}\n`),
});
await engine.syncOnce();
store.close();
process.stdout.write('done\n');
