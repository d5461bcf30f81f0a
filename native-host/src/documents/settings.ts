/**
 * Account settings that follow the user to every device. Unset settings read as their
 * default; resetting one deletes its document, and the delete syncs too.
 */
import type { RxCollection } from 'rxdb';
import { DocumentsError } from './errors.js';
import type { SettingDoc } from './records.js';

export interface AccountSettings {
  /** Refuse to send a message that cannot be encrypted to every recipient. */
  encryptedOnly: boolean;
  /** Attach the own public key to outgoing mail (besides the Autocrypt header). */
  attachOwnKey: boolean;
}

export const DEFAULT_SETTINGS: Readonly<AccountSettings> = Object.freeze({
  encryptedOnly: false,
  attachOwnKey: false,
});

type SettingName = keyof AccountSettings;

export class SyncedSettings {
  constructor(
    private readonly collection: RxCollection<SettingDoc>,
    private readonly ensureOpen: () => void,
  ) {}

  async get<K extends SettingName>(name: K): Promise<AccountSettings[K]> {
    return (await this.all())[name];
  }

  async all(): Promise<AccountSettings> {
    this.ensureOpen();
    const settings: AccountSettings = { ...DEFAULT_SETTINGS };
    for (const doc of await this.collection.find().exec()) {
      const { name, value } = doc.toJSON();
      // A value of the wrong type (say from a newer version on another device) reads as the default.
      if (isSettingName(name) && typeof value === typeof DEFAULT_SETTINGS[name]) {
        (settings as unknown as Record<string, unknown>)[name] = value;
      }
    }
    return settings;
  }

  async set<K extends SettingName>(name: K, value: AccountSettings[K]): Promise<void> {
    checkName(name);
    if (typeof value !== typeof DEFAULT_SETTINGS[name]) {
      throw new DocumentsError(
        'invalid_setting',
        `The setting "${name}" takes ${typeof DEFAULT_SETTINGS[name]} values, not ${JSON.stringify(value)}; it was not changed.`,
      );
    }
    this.ensureOpen();
    await this.collection.incrementalUpsert({ name, value });
  }

  /**
   * Calls `onChange` with the settings now and after every change, local or pulled from
   * another device; returns the unsubscribe. For readers that cannot wait per use (the SMTP
   * server reads the settings per message, synchronously).
   */
  watch(onChange: (settings: AccountSettings) => void): () => void {
    this.ensureOpen();
    let closed = false;
    const read = () =>
      void this.all().then(
        (settings) => !closed && onChange(settings),
        () => undefined, // closed while reading: the next reader opens afresh
      );
    const subscription = this.collection.$.subscribe(read);
    read();
    return () => {
      closed = true;
      subscription.unsubscribe();
    };
  }

  /** Back to the default on every device. */
  async reset(name: SettingName): Promise<void> {
    checkName(name);
    this.ensureOpen();
    await (await this.collection.findOne(name).exec())?.getLatest().remove();
  }
}

function isSettingName(name: unknown): name is SettingName {
  return typeof name === 'string' && Object.hasOwn(DEFAULT_SETTINGS, name);
}

function checkName(name: unknown): asserts name is SettingName {
  if (!isSettingName(name)) {
    throw new DocumentsError(
      'invalid_setting',
      `There is no setting called ${JSON.stringify(name)} (known: ${Object.keys(DEFAULT_SETTINGS).join(', ')}).`,
    );
  }
}
