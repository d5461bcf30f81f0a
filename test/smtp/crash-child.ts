/**
 * Run by outbox.test.ts as the host process that dies at the worst moment: it opens a
 * host's account store and outbox (the parent closed its own), delivers what is due, and
 * kills itself (SIGKILL, no cleanup) as soon as the relay has accepted a delivery, before
 * the outbox has recorded that. Input on stdin as JSON: the host's directory, its storage
 * secret (hex) and the relay endpoint with the session token.
 */
import { join } from 'node:path';
import { Outbox, type RelayEndpoint } from '../../native-host/src/smtp/index.js';
import { openAccountStore } from '../../native-host/src/store/index.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString()) as {
  dir: string;
  secret: string;
  endpoint: Omit<RelayEndpoint, 'accessToken'> & { token: string };
};
const storageSecret = Buffer.from(input.secret, 'hex');
const store = await openAccountStore({ dir: join(input.dir, 'account'), storageSecret });
const { token, ...endpoint } = input.endpoint;
const outbox = new Outbox({
  store,
  storageSecret,
  dir: join(input.dir, 'account', 'outbox'),
  relay: async () => ({ ...endpoint, accessToken: async () => token }),
  afterRelayAcceptedForTests: () => process.kill(process.pid, 'SIGKILL'),
});
await outbox.retryNow();
// Only reached if nothing was accepted: the parent sees a normal exit and fails.
store.close();
