/**
 * RxDB's own replication test suite (shipped in rxdb/plugins/test-utils) run against this
 * project's SQLite storage and its encrypted replication, through the sync store stand-in.
 * The suite creates its collections through RxDB's test config, with RxDB's default conflict
 * handler: it passes because conflicts reach RxDB already decrypted.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { addRxPlugin, type RxCollection } from 'rxdb';
import { disableWarnings, RxDBDevModePlugin } from 'rxdb/plugins/dev-mode';
import { RxDBLocalDocumentsPlugin } from 'rxdb/plugins/local-documents';
import { runReplicationBaseTestSuite, setConfig } from 'rxdb/plugins/test-utils';
import { wrappedValidateAjvStorage } from 'rxdb/plugins/validate-ajv';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  createSyncStoreClient,
  getRxStorageSqlite,
  replicateEncrypted,
  RevisionLedger,
  SyncKeys,
  type SyncStoreClient,
} from '../../native-host/src/store/rxdb/index.js';
import { tempDir } from './helpers/sqlite.js';
import { startSyncStandin, type SyncStandin } from './helpers/sync-standin.js';
import { makeTestTls } from './helpers/tls.js';

disableWarnings();
addRxPlugin(RxDBDevModePlugin);
addRxPlugin(RxDBLocalDocumentsPlugin);

// The suite is written for mocha's globals.
Object.assign(globalThis, { describe, it });

const USER = 'suite@alpha.test';
const sqlite = new Database(':memory:');
const keys = new SyncKeys(randomBytes(64));
let tlsDir: ReturnType<typeof tempDir>;
let server: SyncStandin;
let client: SyncStoreClient;

// Dev mode (which the suite needs) insists on a schema validator around the storage.
const storage = () =>
  wrappedValidateAjvStorage({ storage: getRxStorageSqlite({ database: sqlite }) });
setConfig({
  storage: {
    name: 'leapbird-sqlite',
    getStorage: storage,
    getPerformanceStorage: () => ({ storage: storage(), description: 'sqlite' }),
    hasPersistence: true,
    hasMultiInstance: false,
    hasAttachments: true,
    hasReplication: true,
  },
} as never);

beforeAll(async () => {
  tlsDir = tempDir('suite-tls');
  const tls = makeTestTls(tlsDir.dir, 'sync.test');
  server = await startSyncStandin(tls, { t: USER });
  client = createSyncStoreClient({
    baseUrl: server.url,
    token: () => 't',
    agent: new https.Agent({ ca: tls.ca }),
    servername: 'sync.test',
  });
});

afterAll(async () => {
  await server.close();
  sqlite.close();
  tlsDir.remove();
});

/** Each collection is its own device: its own revision ledger. */
function replicate(collection: RxCollection, live: boolean) {
  return replicateEncrypted({
    collection,
    client,
    keys,
    ledger: new RevisionLedger(new Database(':memory:')),
    remoteId: 'suite',
    live,
    retryTime: 100,
  }).state;
}

describe("RxDB's replication base test suite", () => {
  runReplicationBaseTestSuite({
    startReplication: (collection: RxCollection) => replicate(collection, true),
    syncOnce: async (collection: RxCollection) => {
      const state = replicate(collection, false);
      await state.awaitInitialReplication();
      await state.cancel();
    },
    getAllServerDocs: async () =>
      server.docs(USER, 'human').map((w) => keys.decrypt('human', w, 'passportId').doc),
    cleanUpServer: async () => server.clear(),
    softDeletes: true,
    isDeleted: (doc: { _deleted: boolean }) => doc._deleted,
    getPrimaryOfServerDoc: (doc: { passportId: string }) => doc.passportId,
  } as never);
});
