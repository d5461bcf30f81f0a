/**
 * The accounts this host serves, in `<dataDir>/accounts.json`: what is needed to find the
 * provider again and to serve Thunderbird on stable loopback ports. No secret is stored
 * here in the clear: the storage secret and SRP's login key sit beside each account's data,
 * wrapped by the add-on's device key; the local password only as a hash.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../store/index.js';

interface AccountRecordBase {
  email: string;
  /** Directory of the account's database and blobs, relative to the data directory. */
  dir: string;
  /** Loopback ports Thunderbird's account points at; kept stable across restarts. */
  imapPort: number;
  smtpPort: number;
  /** SHA-256 of the per-install password handed to Thunderbird (32 random bytes: no KDF needed). */
  localPasswordHash: string;
  createdAt: string;
}

export interface LeapAccountRecord extends AccountRecordBase {
  kind: 'leap';
  domain: string;
  login: string;
  userId: string;
  provider: { name: string; apiUri: string; caCertPem: string; caFingerprint: string };
}

export interface ServerAddress {
  host: string;
  port: number;
  security: 'tls' | 'starttls';
}

/** Any IMAP/SMTP provider; its password is kept wrapped beside the account's data. */
export interface LegacyAccountRecord extends AccountRecordBase {
  kind: 'legacy';
  imap: ServerAddress;
  smtp: ServerAddress;
}

export type AccountRecord = LeapAccountRecord | LegacyAccountRecord;

/** What setup knows about an account before the host picks its directory, ports and password. */
type PickedByHost = 'dir' | 'imapPort' | 'smtpPort' | 'localPasswordHash' | 'createdAt';
export type AccountIdentity =
  Omit<LeapAccountRecord, PickedByHost> | Omit<LegacyAccountRecord, PickedByHost>;

export function hashLocalPassword(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}

export function checkLocalPassword(record: AccountRecord, password: string): boolean {
  const given = Buffer.from(hashLocalPassword(password), 'hex');
  const stored = Buffer.from(record.localPasswordHash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}

export class AccountRegistry {
  private readonly file: string;

  constructor(private readonly dataDir: string) {
    this.file = join(dataDir, 'accounts.json');
  }

  list(): AccountRecord[] {
    if (!existsSync(this.file)) return [];
    try {
      const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as { accounts?: AccountRecord[] };
      return Array.isArray(parsed.accounts) ? parsed.accounts : [];
    } catch (error) {
      throw new Error(
        `The account list ${this.file} is damaged (${(error as Error).message}); restore it or set the account up again.`,
      );
    }
  }

  find(email: string): AccountRecord | null {
    return this.list().find((a) => a.email === email.toLowerCase()) ?? null;
  }

  async put(record: AccountRecord): Promise<void> {
    const others = this.list().filter((a) => a.email !== record.email);
    await this.write([...others, record]);
  }

  async remove(email: string): Promise<void> {
    await this.write(this.list().filter((a) => a.email !== email.toLowerCase()));
  }

  accountDir(record: AccountRecord): string {
    return join(this.dataDir, record.dir);
  }

  private async write(accounts: AccountRecord[]): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    await writeFileDurably(this.file, JSON.stringify({ version: 1, accounts }, null, 2) + '\n');
  }
}
