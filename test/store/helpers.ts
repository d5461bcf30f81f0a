import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAccountStore, type AccountStore } from '../../native-host/src/store/index.js';

export async function tempDir(
  prefix = 'store-',
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function tempStore(
  options: { chunkSize?: number; secret?: Buffer } = {},
): Promise<{ store: AccountStore; dir: string; secret: Buffer; cleanup: () => Promise<void> }> {
  const { dir, remove } = await tempDir();
  const secret = options.secret ?? randomBytes(64);
  const store = await openAccountStore({
    dir,
    storageSecret: secret,
    chunkSize: options.chunkSize,
  });
  return {
    store,
    dir,
    secret,
    cleanup: async () => {
      store.close();
      await remove();
    },
  };
}
