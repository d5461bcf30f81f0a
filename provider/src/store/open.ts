/**
 * Which store a provider uses, from its configuration: none named, the embedded SQLite file
 * in the data directory; a `postgres://` or `postgresql://` URL, that PostgreSQL database
 * (shared by every process of the provider).
 */
import { join } from 'node:path';
import { openPostgresStore } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import type { ProviderStore } from './types.js';

export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}

export async function openStore(
  database: string | undefined,
  dataDir: string,
): Promise<ProviderStore> {
  if (database === undefined || database === '')
    return openSqliteStore(join(dataDir, 'provider.sqlite'));
  if (isPostgresUrl(database)) return openPostgresStore(database);
  // Only the scheme is repeated: the rest may hold a password.
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(database)?.[0] ?? 'this value';
  throw new Error(
    `database ${scheme} is not understood: give a postgres://user@host:port/name URL, or none for SQLite in the data directory`,
  );
}
