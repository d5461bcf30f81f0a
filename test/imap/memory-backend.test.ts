import { MemoryBackend } from '../../native-host/src/imap/memory/index.js';
import { describeBackendContract } from './backend-contract.js';

describeBackendContract('memory', async () => ({
  backend: new MemoryBackend(),
  accountId: 'alice',
}));
