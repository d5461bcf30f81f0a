/**
 * What this device knows about each account's SRP key, in `<dataDir>/login-keys.json`: the
 * salt and password key description the kept x was derived under. No secret: the x itself
 * sits wrapped beside the account's data.
 *
 * It is kept apart from the account list on purpose: logging out (without removing the
 * data) forgets the account but not that it moved to the memory-hard key, so a later
 * login on this device still refuses a provider that asks for the fast hash again.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePasswordKdf, type PasswordKdf } from '../../../shared/src/password-kdf.js';
import { writeFileDurably } from '../store/index.js';

export interface KnownLoginKey {
  salt: string;
  /** null: the library's fast hash. */
  kdf: PasswordKdf | null;
}

export class LoginKeyMemory {
  private readonly file: string;

  constructor(private readonly dataDir: string) {
    this.file = join(dataDir, 'login-keys.json');
  }

  get(email: string): KnownLoginKey | null {
    const entry = this.read()[email.toLowerCase()];
    if (!entry || typeof entry.salt !== 'string') return null;
    if (entry.kdf === null) return { salt: entry.salt, kdf: null };
    const parsed = parsePasswordKdf(entry.kdf);
    // A damaged entry still says the account moved: refusing the fast hash stays safe.
    return { salt: entry.salt, kdf: 'kdf' in parsed ? parsed.kdf : MEMORY_HARD_UNKNOWN };
  }

  /** Whether a handshake asking for the fast hash must be refused for this account. */
  memoryHard(email: string): boolean {
    return this.get(email)?.kdf != null;
  }

  async put(email: string, key: KnownLoginKey): Promise<void> {
    const all = this.read();
    const id = email.toLowerCase();
    // Never forget a move to the memory-hard key by recording a fast one over it.
    if (key.kdf === null && all[id] && all[id].kdf !== null) return;
    if (all[id]?.salt === key.salt && JSON.stringify(all[id]?.kdf) === JSON.stringify(key.kdf))
      return; // unchanged: no write at each start
    all[id] = { salt: key.salt, kdf: key.kdf };
    await this.write(all);
  }

  async forget(email: string): Promise<void> {
    const all = this.read();
    if (!(email.toLowerCase() in all)) return;
    delete all[email.toLowerCase()];
    await this.write(all);
  }

  private read(): Record<string, { salt?: unknown; kdf?: unknown }> {
    if (!existsSync(this.file)) return {};
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { accounts?: unknown };
      const accounts = parsed.accounts;
      return typeof accounts === 'object' && accounts !== null
        ? (accounts as Record<string, { salt?: unknown; kdf?: unknown }>)
        : {};
    } catch (error) {
      throw new Error(
        `The login key list ${this.file} is damaged (${(error as Error).message}); remove it and log in again.`,
      );
    }
  }

  private async write(accounts: Record<string, unknown>): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    await writeFileDurably(this.file, JSON.stringify({ version: 1, accounts }, null, 2) + '\n');
  }
}

/** Stands for a description this version cannot read: it matches no handshake's. */
const MEMORY_HARD_UNKNOWN: PasswordKdf = { algorithm: 'scrypt', N: 0, r: 0, p: 0 };
