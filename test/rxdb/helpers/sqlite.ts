import Database from 'better-sqlite3-multiple-ciphers';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory and a way to remove it. */
export function tempDir(label: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `leapbird-rxdb-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A random 32-byte SQLCipher raw key, as the account store would derive one. */
export function randomDbKey(): string {
  return randomBytes(32).toString('hex');
}

/** Opens (or creates) a SQLCipher-encrypted database file with a raw hex key. */
export function openEncrypted(file: string, keyHex: string): Database.Database {
  const db = new Database(file);
  db.pragma(`cipher='sqlcipher'`);
  db.pragma(`key="x'${keyHex}'"`);
  db.pragma('journal_mode = WAL');
  // Reading the schema fails right here if the key is wrong, instead of on first use.
  db.prepare('SELECT count(*) FROM sqlite_master').get();
  return db;
}
