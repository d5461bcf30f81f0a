import type { Database } from 'better-sqlite3-multiple-ciphers';
import {
  createRxDatabase,
  type RxCollection,
  type RxConflictHandlerInput,
  type RxDatabase,
  type RxJsonSchema,
  type WithDeleted,
} from 'rxdb';
import { encryptedConflictHandler } from './replication.js';
import { getRxStorageSqlite } from './sqlite-storage.js';
import { RxdbStoreError } from './errors.js';
import type { SyncKeys } from './sync-keys.js';

/**
 * The largest document (as JSON) that still fits the sync store's 1 MiB limit once sealed and
 * base64-encoded. Writes above it are refused up front: stored locally they could never sync,
 * and the replication would retry them forever.
 */
export const MAX_SYNCED_DOC_BYTES = 760 * 1024;

function refuseUnsyncable(collection: string, data: unknown): void {
  const size = Buffer.byteLength(JSON.stringify(data));
  if (size > MAX_SYNCED_DOC_BYTES) {
    throw new RxdbStoreError(
      'too_large',
      `This ${collection} entry is too large to sync between devices ` +
        `(${Math.ceil(size / 1024)} KiB; at most ${MAX_SYNCED_DOC_BYTES / 1024} KiB).`,
    );
  }
}

export interface SyncedCollectionSpec<T> {
  schema: RxJsonSchema<T>;
  /** Resolves a real conflict with the provider's state; by default the provider's state wins. */
  merge?: (input: RxConflictHandlerInput<T>) => WithDeleted<T> | Promise<WithDeleted<T>>;
}

export interface SyncedDatabaseOptions<C> {
  /** The open (encrypted) account database; stays owned by the caller. */
  database: Database;
  tablePrefix?: string;
  /** RxDB database name; unique per process (RxDB refuses a second open one with the same name). */
  name: string;
  keys: SyncKeys;
  collections: { [K in keyof C]: SyncedCollectionSpec<C[K]> };
}

/**
 * Opens an RxDB database on the account database whose collections are ready for
 * `replicateEncrypted`: each gets the content-hash conflict handler. RxDB's open-source build
 * allows 13 open collections per process; close databases you no longer use.
 */
export async function createSyncedDatabase<C>(
  options: SyncedDatabaseOptions<C>,
): Promise<RxDatabase<{ [K in keyof C]: RxCollection<C[K]> }>> {
  const db = await createRxDatabase<{ [K in keyof C]: RxCollection<C[K]> }>({
    name: options.name,
    storage: getRxStorageSqlite({ database: options.database, tablePrefix: options.tablePrefix }),
    multiInstance: false,
  });
  const creators: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(options.collections) as [
    string,
    SyncedCollectionSpec<unknown>,
  ][]) {
    creators[name] = {
      schema: spec.schema,
      conflictHandler: encryptedConflictHandler(options.keys, name, spec.schema, spec.merge),
    };
  }
  try {
    const collections = await db.addCollections(creators as never);
    for (const collection of Object.values(collections) as RxCollection<unknown>[]) {
      const check = (data: unknown) => refuseUnsyncable(collection.name, data);
      collection.preInsert(check, false);
      collection.preSave(check, false);
    }
  } catch (err) {
    await db.close();
    if ((err as { code?: unknown }).code === 'COL23') {
      throw new RxdbStoreError(
        'too_many_collections',
        'Too many synced collections are open at once (RxDB allows 13 per process); close an account database first.',
      );
    }
    throw err;
  }
  return db;
}
