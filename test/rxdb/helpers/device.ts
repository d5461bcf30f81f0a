import type Database from 'better-sqlite3-multiple-ciphers';
import type { RxCollection, RxDatabase } from 'rxdb';
import { join } from 'node:path';
import {
  createSyncedDatabase,
  replicateEncrypted,
  RevisionLedger,
  SyncKeys,
  type EncryptedReplication,
  type SyncStoreClient,
} from '../../../native-host/src/store/rxdb/index.js';
import { contactSchema, settingSchema, type ContactDoc, type SettingDoc } from './schemas.js';
import { openEncrypted } from './sqlite.js';

export type DeviceCollections = {
  contacts: RxCollection<ContactDoc>;
  settings: RxCollection<SettingDoc>;
};

export interface Device {
  db: RxDatabase<DeviceCollections>;
  sqlite: Database.Database;
  replications: EncryptedReplication<unknown>[];
  startSync(live?: boolean): EncryptedReplication<unknown>[];
  /** Waits until every replication has pushed and pulled what it knows about. */
  inSync(): Promise<void>;
  stopSync(): Promise<void>;
  close(): Promise<void>;
}

export interface DeviceOptions {
  dir: string;
  name: string;
  dbKeyHex: string;
  storageSecret: Buffer;
  client: SyncStoreClient;
  remoteId: string;
  retryTime?: number;
}

/**
 * One "device": its own encrypted account database file and RxDB database, the user's
 * storage secret, and the account's contacts and settings collections. Contacts merge on
 * conflict the way a key manager would: the higher validation level and any verification win.
 */
export async function openDevice(o: DeviceOptions): Promise<Device> {
  const sqlite = openEncrypted(join(o.dir, `${o.name}.db`), o.dbKeyHex);
  const keys = new SyncKeys(o.storageSecret);
  const ledger = new RevisionLedger(sqlite);
  const db = await createSyncedDatabase<{ contacts: ContactDoc; settings: SettingDoc }>({
    database: sqlite,
    name: o.name,
    keys,
    collections: {
      contacts: {
        schema: contactSchema,
        merge: ({ newDocumentState: mine, realMasterState: theirs }) => {
          if (theirs._deleted || mine._deleted) return theirs;
          return {
            ...theirs,
            level: Math.max(mine.level, theirs.level),
            verified: mine.verified || theirs.verified,
          };
        },
      },
      settings: { schema: settingSchema },
    },
  });
  const device: Device = {
    db,
    sqlite,
    replications: [],
    startSync(live = true) {
      device.replications = [db.contacts, db.settings].map(
        (collection) =>
          replicateEncrypted({
            collection: collection as RxCollection<unknown>,
            client: o.client,
            keys,
            ledger,
            remoteId: o.remoteId,
            live,
            retryTime: o.retryTime ?? 200,
          }) as EncryptedReplication<unknown>,
      );
      return device.replications;
    },
    async inSync() {
      for (const r of device.replications) await r.state.awaitInSync();
    },
    async stopSync() {
      for (const r of device.replications) await r.cancel();
      device.replications = [];
    },
    async close() {
      await device.stopSync();
      await db.close();
      sqlite.close();
    },
  };
  return device;
}

/** Polls `check` until it returns true; fails after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
