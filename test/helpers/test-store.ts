/**
 * Which store the provider tests run against: SQLite (the default project) or PostgreSQL
 * (the `postgres` project in vitest.config.ts sets LEAPBIRD_TEST_STORE=postgres and starts
 * a cluster). The same test files run in both.
 */
import { inject } from 'vitest';
import { openStore, type ProviderStore } from '../../provider/src/store/index.js';
import { createDatabaseAt } from './postgres.js';

export type TestStoreKind = 'sqlite' | 'postgres';

export const testStoreKind: TestStoreKind =
  process.env['LEAPBIRD_TEST_STORE'] === 'postgres' ? 'postgres' : 'sqlite';

/** The `database` option for a new provider: undefined (SQLite in its data directory) or a
 * fresh PostgreSQL database of its own. */
export async function testDatabase(): Promise<string | undefined> {
  if (testStoreKind === 'sqlite') return undefined;
  const url = inject('postgresUrl');
  if (!url) throw new Error('LEAPBIRD_TEST_STORE=postgres, but no cluster was started');
  return createDatabaseAt(url);
}

/** Opens stores of the kind under test directly (contract tests): each `open()` is another
 * connection to the same data, as another provider process would have. */
export async function testStores(dataDir: string): Promise<{ open(): Promise<ProviderStore> }> {
  const database = await testDatabase();
  return { open: () => openStore(database, dataDir) };
}
