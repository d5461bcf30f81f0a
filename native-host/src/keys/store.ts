/**
 * What the key manager keeps, as plain serialisable records (the real persistence is a pair
 * of RxDB collections that sync between the user's devices), and the storage interface it
 * needs. The in-memory store serves tests and a host that runs without a database.
 */
import type { ValidationLevel } from './validation.js';

export type KeySource =
  | 'own'
  | 'autocrypt'
  | 'autocrypt-gossip'
  | 'attachment'
  | 'own-nicknym'
  | 'provider-nicknym'
  | 'wkd'
  | 'vks'
  | 'manual';

/** A key this address used before, and why it was replaced. */
export interface KeyHistoryEntry {
  fingerprint: string;
  validation: ValidationLevel;
  source: KeySource;
  firstSeen: number;
  replacedAt: number;
  reason: string;
}

/** One correspondent's current key (one record per address). */
export interface ContactKeyRecord {
  /** Lower case, `+suffix` removed (as LEAP does). */
  address: string;
  /** Upper-case hex. */
  fingerprint: string;
  /** Public key, armoured. */
  armored: string;
  validation: ValidationLevel;
  source: KeySource;
  /** Milliseconds since the epoch. */
  firstSeen: number;
  lastSeen: number;
  refreshedAt: number;
  expires: number | null;
  /** Used to encrypt to / a signature verified with it (LEAP's encr_used / sign_used). */
  encrUsed: boolean;
  signUsed: boolean;
  history: KeyHistoryEntry[];
}

/** One of the user's own key pairs; the private part lives only in the encrypted database. */
export interface OwnKeyRecord {
  address: string;
  fingerprint: string;
  privateArmored: string;
  publicArmored: string;
  created: number;
  expires: number;
  /** The key in use; older ones stay to decrypt older mail. */
  active: boolean;
  publishedAt: number | null;
}

export interface KeyStore {
  getContact(address: string): Promise<ContactKeyRecord | null>;
  putContact(record: ContactKeyRecord): Promise<void>;
  listContacts(): Promise<ContactKeyRecord[]>;
  listOwnKeys(address: string): Promise<OwnKeyRecord[]>;
  putOwnKey(record: OwnKeyRecord): Promise<void>;
}

export class MemoryKeyStore implements KeyStore {
  private readonly contacts = new Map<string, ContactKeyRecord>();
  private readonly own = new Map<string, OwnKeyRecord>();

  async getContact(address: string): Promise<ContactKeyRecord | null> {
    const record = this.contacts.get(address);
    return record ? structuredClone(record) : null;
  }

  async putContact(record: ContactKeyRecord): Promise<void> {
    this.contacts.set(record.address, structuredClone(record));
  }

  async listContacts(): Promise<ContactKeyRecord[]> {
    return [...this.contacts.values()].map((r) => structuredClone(r));
  }

  async listOwnKeys(address: string): Promise<OwnKeyRecord[]> {
    return [...this.own.values()]
      .filter((r) => r.address === address)
      .map((r) => structuredClone(r));
  }

  async putOwnKey(record: OwnKeyRecord): Promise<void> {
    this.own.set(record.fingerprint, structuredClone(record));
  }
}
