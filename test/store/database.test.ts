import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  openAccountDatabase,
  openAccountStore,
  StoreError,
  type Migration,
} from '../../native-host/src/store/index.js';
import { tempDir } from './helpers.js';

function catchStoreError(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    return error as StoreError;
  }
  throw new Error('expected a StoreError');
}

const notes: Migration[] = [
  { version: 1, description: 'notes', up: (db) => db.exec('CREATE TABLE notes (text TEXT)') },
  {
    version: 2,
    description: 'note dates',
    up: (db) => db.exec('ALTER TABLE notes ADD COLUMN at INTEGER NOT NULL DEFAULT 0'),
  },
];

describe('account database', () => {
  it('refuses a wrong key with a clear error and keeps the data intact', async () => {
    const { dir, remove } = await tempDir();
    try {
      const path = join(dir, 'account.db');
      const key = randomBytes(32);
      const db = openAccountDatabase(path, { key });
      db.registerMigrations('notes', notes);
      db.raw.prepare('INSERT INTO notes (text) VALUES (?)').run('kept');
      db.close();
      const before = readFileSync(path);
      const error = catchStoreError(() => openAccountDatabase(path, { key: randomBytes(32) }));
      expect(error.code).toBe('wrong_key');
      expect(error.message).toMatch(/cannot be decrypted/);
      expect(readFileSync(path).equals(before)).toBe(true);
      const again = openAccountDatabase(path, { key });
      expect(again.raw.prepare('SELECT text FROM notes').pluck().all()).toEqual(['kept']);
      again.close();
    } finally {
      await remove();
    }
  });

  it('refuses a file that is not a database, and a store with the wrong secret', async () => {
    const { dir, remove } = await tempDir();
    try {
      writeFileSync(join(dir, 'garbage.db'), randomBytes(8192));
      const error = catchStoreError(() =>
        openAccountDatabase(join(dir, 'garbage.db'), { key: randomBytes(32) }),
      );
      expect(error.code).toBe('wrong_key');
      const store = await openAccountStore({ dir, storageSecret: randomBytes(64) });
      store.close();
      const wrong = await openAccountStore({ dir, storageSecret: randomBytes(64) }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(wrong).toBeInstanceOf(StoreError);
      expect((wrong as StoreError).code).toBe('wrong_key');
    } finally {
      await remove();
    }
  });

  it('applies numbered migrations once, in order, and keeps a version per namespace', async () => {
    const { dir, remove } = await tempDir();
    try {
      const path = join(dir, 'account.db');
      const key = randomBytes(32);
      const db = openAccountDatabase(path, { key });
      expect(db.registerMigrations('notes', notes.slice(0, 1))).toBe(1);
      db.raw.prepare('INSERT INTO notes (text) VALUES (?)').run('first');
      db.close();
      const upgraded = openAccountDatabase(path, { key });
      expect(upgraded.registerMigrations('notes', notes)).toBe(2);
      expect(upgraded.registerMigrations('notes', notes)).toBe(2);
      expect(upgraded.raw.prepare('SELECT text, at FROM notes').all()).toEqual([
        { text: 'first', at: 0 },
      ]);
      expect(upgraded.schemaVersion('notes')).toBe(2);
      expect(upgraded.schemaVersion('other')).toBe(0);
      upgraded.close();
    } finally {
      await remove();
    }
  });

  it('rolls a failing migration back entirely and refuses a schema from a newer version', async () => {
    const { dir, remove } = await tempDir();
    try {
      const key = randomBytes(32);
      const db = openAccountDatabase(join(dir, 'account.db'), { key });
      db.registerMigrations('notes', notes);
      const broken: Migration[] = [
        ...notes,
        {
          version: 3,
          description: 'half done',
          up: (raw) => {
            raw.exec('CREATE TABLE tags (name TEXT)');
            raw.exec('THIS IS NOT SQL');
          },
        },
      ];
      expect(catchStoreError(() => db.registerMigrations('notes', broken)).code).toBe(
        'migration_failed',
      );
      expect(db.schemaVersion('notes')).toBe(2);
      expect(db.raw.prepare(`SELECT name FROM sqlite_master WHERE name = 'tags'`).get()).toBe(
        undefined,
      );
      expect(catchStoreError(() => db.registerMigrations('notes', notes.slice(0, 1))).code).toBe(
        'schema_too_new',
      );
      const gap = [notes[0]!, { ...notes[1]!, version: 3 }];
      expect(catchStoreError(() => db.registerMigrations('gap', gap)).code).toBe(
        'migration_failed',
      );
      db.close();
      expect(existsSync(join(dir, 'account.db'))).toBe(true);
    } finally {
      await remove();
    }
  });
});
