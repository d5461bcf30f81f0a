/**
 * What the IMAP benchmarks measure on our side: a new encrypted store in `dir`, served by the
 * local IMAP server (plain IMAP on loopback) to one user with the given password.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startImapServer, type ImapServer } from '../../native-host/src/imap/index.js';
import {
  openAccountStore,
  StoreMailboxBackend,
  type AccountStore,
} from '../../native-host/src/store/index.js';

export interface ServedStore {
  store: AccountStore;
  server: ImapServer;
  close(): Promise<void>;
}

export async function serveNewStore(
  dir: string,
  user: string,
  password: string,
): Promise<ServedStore> {
  const store = await openAccountStore({ dir: join(dir, 'store'), storageSecret: randomBytes(64) });
  const backend = new StoreMailboxBackend();
  backend.register('bench', store);
  const server = await startImapServer({
    backend,
    authenticate: async (u, p) => (u === user && p === password ? 'bench' : null),
  });
  return {
    store,
    server,
    close: async () => {
      await server.close();
      store.close();
    },
  };
}
