/**
 * The account database: one SQLCipher-encrypted SQLite file per account, WAL, foreign keys,
 * and versioned migrations per namespace ("mail" here; RxDB's storage registers its own).
 *
 * Each namespace has one list of numbered migrations (its single source of truth) and one
 * row in `schema_version`; pending migrations are applied in one transaction, so a crash
 * or a failing migration leaves the previous version intact.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { StoreError } from './errors.js';

/** Page cache per account database (KiB). */
const PAGE_CACHE_KIB = 32 * 1024;

export type SqliteDatabase = Database.Database;
export type Statement = Database.Statement;

export interface Migration {
  /** 1, 2, 3, … without gaps; never renumber or edit one that has shipped. */
  version: number;
  description: string;
  up: (db: SqliteDatabase) => void;
}

export interface AccountDatabase {
  /** The open connection, for modules that keep their own tables in this database. */
  readonly raw: SqliteDatabase;
  /** Applies the namespace's pending migrations now; returns the version reached. */
  registerMigrations(namespace: string, migrations: readonly Migration[]): number;
  schemaVersion(namespace: string): number;
  close(): void;
}

export interface OpenDatabaseOptions {
  /** 32-byte raw SQLCipher key (from deriveStorageKeys). */
  key: Uint8Array;
}

/** Prepares each SQL text once: preparing costs more than most statements take to run. */
export function statementCache(db: SqliteDatabase): (sql: string) => Statement {
  const statements = new Map<string, Statement>();
  return (sql) => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
}

const NAMESPACE = /^[a-z][a-z0-9_]{0,31}$/;

export function openAccountDatabase(path: string, options: OpenDatabaseOptions): AccountDatabase {
  if (!(options.key instanceof Uint8Array) || options.key.length !== 32) {
    throw new StoreError('bad_secret', 'The database key must be exactly 32 bytes.');
  }
  let db: SqliteDatabase;
  try {
    db = new Database(path);
  } catch (error) {
    throw new StoreError(
      'wrong_key',
      `The account database at ${path} cannot be opened: ${(error as Error).message}`,
    );
  }
  try {
    db.pragma(`cipher='sqlcipher'`);
    db.pragma('legacy=4');
    db.pragma(`key="x'${Buffer.from(options.key).toString('hex')}'"`);
    // The first read is where a wrong key shows: SQLCipher cannot decrypt page 1.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } catch (error) {
    db.close();
    const code = (error as { code?: string }).code;
    if (code === 'SQLITE_NOTADB') {
      throw new StoreError(
        'wrong_key',
        'The account database cannot be decrypted with this storage secret (a wrong secret, ' +
          'or a file that is not an account database). Nothing was changed on disk.',
      );
    }
    throw new StoreError(
      'wrong_key',
      `The account database cannot be read: ${(error as Error).message}. Nothing was changed.`,
    );
  }
  db.pragma('journal_mode=WAL');
  // FULL: a commit is on disk when it returns, so a blob fsynced before it is never orphaned
  // by a power cut between them in the other direction.
  db.pragma('synchronous=FULL');
  db.pragma('foreign_keys=ON');
  db.pragma('busy_timeout=5000');
  // Sorts and temporary indexes stay in memory: SQLite's temporary files are not encrypted.
  db.pragma('temp_store=MEMORY');
  // SQLCipher authenticates and decrypts a page each time it comes from the file; with
  // SQLite's default 2 MiB cache a 10,000-message index is read from the file over and over.
  // A fixed bound keeps memory flat in the number of messages.
  db.pragma(`cache_size=-${PAGE_CACHE_KIB}`);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
    namespace TEXT PRIMARY KEY,
    version INTEGER NOT NULL
  ) STRICT`);

  const versionOf = (namespace: string): number =>
    (
      db.prepare('SELECT version FROM schema_version WHERE namespace = ?').get(namespace) as
        { version: number } | undefined
    )?.version ?? 0;

  return {
    raw: db,
    schemaVersion: versionOf,
    registerMigrations(namespace, migrations) {
      if (!NAMESPACE.test(namespace)) {
        throw new StoreError(
          'migration_failed',
          `"${namespace}" is not a valid migration namespace (lower-case letters, digits, _).`,
        );
      }
      migrations.forEach((m, i) => {
        if (m.version !== i + 1) {
          throw new StoreError(
            'migration_failed',
            `Migrations of "${namespace}" must be numbered 1, 2, 3, … in order; found ${m.version} at position ${i + 1}.`,
          );
        }
      });
      const current = versionOf(namespace);
      if (current > migrations.length) {
        throw new StoreError(
          'schema_too_new',
          `The "${namespace}" data was written by a newer version of this program (schema ` +
            `${current}, this one knows ${migrations.length}). Update the program; nothing was changed.`,
        );
      }
      const pending = migrations.slice(current);
      if (pending.length === 0) return current;
      const apply = db.transaction(() => {
        for (const migration of pending) migration.up(db);
        db.prepare(
          `INSERT INTO schema_version (namespace, version) VALUES (?, ?)
           ON CONFLICT (namespace) DO UPDATE SET version = excluded.version`,
        ).run(namespace, migrations.length);
      });
      try {
        apply();
      } catch (error) {
        throw new StoreError(
          'migration_failed',
          `Upgrading the "${namespace}" data failed (${(error as Error).message}); ` +
            `it stays at schema ${current}.`,
        );
      }
      return migrations.length;
    },
    close() {
      if (db.open) db.close();
    },
  };
}
