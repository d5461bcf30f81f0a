import { StoreMailboxBackend } from '../../native-host/src/store/index.js';
import { describeBackendContract } from '../imap/backend-contract.js';
import { tempStore } from './helpers.js';

describeBackendContract('encrypted store', async () => {
  // A small chunk size so the contract's ranged reads cross chunk boundaries.
  const { store, cleanup } = await tempStore({ chunkSize: 64 });
  const backend = new StoreMailboxBackend();
  backend.register('alice', store);
  return { backend, accountId: 'alice', cleanup };
});
