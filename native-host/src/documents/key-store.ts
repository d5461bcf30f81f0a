/**
 * The key manager's `KeyStore` over the account's synced collections. Own key pairs (with
 * the armoured private key) and contacts' keys live in the encrypted account database and,
 * sealed per document, at the provider's sync store, so every device of the user sees the
 * same keys and validation levels.
 */
import type { RxCollection } from 'rxdb';
import type { ContactKeyRecord, KeyStore, OwnKeyRecord } from '../keys/index.js';
import { checkContact, checkOwnKey, pickContact, pickOwnKey } from './records.js';

export class SyncedKeyStore implements KeyStore {
  constructor(
    private readonly own: RxCollection<OwnKeyRecord>,
    private readonly contacts: RxCollection<ContactKeyRecord>,
    /** Throws once the documents are closed, with an error meant for a person. */
    private readonly ensureOpen: () => void,
  ) {}

  async getContact(address: string): Promise<ContactKeyRecord | null> {
    this.ensureOpen();
    const doc = await this.contacts.findOne(address).exec();
    return doc ? pickContact(doc.toMutableJSON()) : null;
  }

  async putContact(record: ContactKeyRecord): Promise<void> {
    const checked = checkContact(record);
    this.ensureOpen();
    await this.contacts.incrementalUpsert(checked);
  }

  async listContacts(): Promise<ContactKeyRecord[]> {
    this.ensureOpen();
    const docs = await this.contacts.find({ sort: [{ address: 'asc' }] }).exec();
    return docs.map((d) => pickContact(d.toMutableJSON()));
  }

  /** Forgets a correspondent's key on every device; false when none was stored. */
  async deleteContact(address: string): Promise<boolean> {
    this.ensureOpen();
    const doc = await this.contacts.findOne(address).exec();
    if (!doc) return false;
    await doc.getLatest().remove();
    return true;
  }

  async listOwnKeys(address: string): Promise<OwnKeyRecord[]> {
    this.ensureOpen();
    const docs = await this.own.find({ selector: { address }, sort: [{ created: 'asc' }] }).exec();
    return docs.map((d) => pickOwnKey(d.toMutableJSON()));
  }

  async putOwnKey(record: OwnKeyRecord): Promise<void> {
    const checked = checkOwnKey(record);
    this.ensureOpen();
    await this.own.incrementalUpsert(checked);
  }
}
