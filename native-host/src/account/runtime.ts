/**
 * One account at work: its encrypted store, key manager, the local IMAP and SMTP servers
 * Thunderbird talks to, the outbox, and the sync engine with the provider. Everything that
 * runs for an account is started and stopped here, in order.
 */
import { join } from 'node:path';
import type { ConnectionState } from '../../../shared/src/rpc.js';
import { startImapServer, type ImapServer } from '../imap/index.js';
import {
  DEFAULT_SETTINGS,
  type AccountDocuments,
  type AccountSettings,
} from '../documents/index.js';
import { KeyManager, type KeyStore, type NicknymTarget } from '../keys/index.js';
import type { Logger } from '../log/index.js';
import type { Resolver } from '../net/index.js';
import type { LocalTls } from '../tls/index.js';
import { StoreMailboxBackend, type AccountStore, type IndexProgress } from '../store/index.js';
import {
  Outbox,
  startSmtpServer,
  type RelayEndpoint,
  type RunningSmtpServer,
} from '../smtp/index.js';
import {
  keyManagerKeys,
  SyncEngine,
  type SyncProgress,
  type UpstreamCredentials,
} from '../sync/index.js';
import { checkLocalPassword, type AccountRecord } from './registry.js';

/** How an account reaches its mail server: a LEAP provider (token) or any IMAP/SMTP (password). */
export interface UpstreamAccess {
  imap: UpstreamCredentials;
  relay: () => Promise<RelayEndpoint>;
  /** The own LEAP provider, asked about own-domain addresses; null for legacy accounts. */
  ownProvider: NicknymTarget | null;
  /** Publishes the user's public key (LEAP: to the provider; legacy: Autocrypt headers only). */
  publish?: (armoredPublicKey: string) => Promise<void>;
  /** Legacy: replace plaintext upstream copies by encrypted ones once stored locally. */
  legacy: boolean;
}

export interface AccountRuntimeOptions {
  record: AccountRecord;
  accountDir: string;
  store: AccountStore;
  storageSecret: Uint8Array;
  documents: AccountDocuments;
  upstream: UpstreamAccess;
  resolver?: Resolver;
  logger: Logger;
  /** The install's certificate and key for the loopback servers (tls/). */
  tls: LocalTls;
  /** Called with every folder's progress whenever one of them moves. */
  onProgress?: (folders: SyncProgress[]) => void;
  /** Called as the full-text index is rebuilt (a store from an older version). */
  onIndexProgress?: (progress: IndexProgress) => void;
}

export class AccountRuntime {
  readonly keys: KeyManager;
  private imap: ImapServer | null = null;
  private smtp: RunningSmtpServer | null = null;
  private outbox: Outbox | null = null;
  private sync: SyncEngine | null = null;
  private progress = new Map<string, SyncProgress>();
  /** The synced settings as last read; the SMTP server consults them per message. */
  private settings: AccountSettings = { ...DEFAULT_SETTINGS };
  private unwatchSettings: () => void = () => {};

  private constructor(private readonly options: AccountRuntimeOptions) {
    const { record, upstream } = options;
    this.keys = new KeyManager({
      store: options.documents.keyStore,
      address: record.email,
      ownProvider: upstream.ownProvider,
      ...(options.resolver ? { resolver: options.resolver } : {}),
      vksUrl: null,
      ...(upstream.publish ? { publish: upstream.publish } : {}),
      logger: options.logger.child({ module: 'keys' }),
    });
  }

  static async start(options: AccountRuntimeOptions): Promise<AccountRuntime> {
    const runtime = new AccountRuntime(options);
    try {
      await runtime.startAll();
    } catch (error) {
      await runtime.stop();
      throw error;
    }
    return runtime;
  }

  /** The account's settings that follow the user to every device. */
  get syncedSettings(): AccountDocuments['settings'] {
    return this.options.documents.settings;
  }

  get keyStore(): KeyStore {
    return this.options.documents.keyStore;
  }

  get record(): AccountRecord {
    return this.options.record;
  }

  get state(): ConnectionState {
    if (this.sync?.error) return 'offline';
    const folders = [...this.progress.values()];
    if (folders.length === 0 || folders.some((f) => !f.synced)) return 'syncing';
    return 'connected';
  }

  /** Why the last sync pass failed, in words; null after a good pass. */
  get syncError(): { code: string; message: string } | null {
    return this.sync?.error?.toValue() ?? null;
  }

  get syncProgress(): SyncProgress[] {
    return [...this.progress.values()];
  }

  private async startAll(): Promise<void> {
    const { record, store, upstream, logger } = this.options;
    const own = await this.keys.ensureOwnKey();
    if (!own.ok) throw new Error(own.error.message);
    this.keys.start();

    const authenticate = async (user: string, password: string) =>
      user.toLowerCase() === record.email && checkLocalPassword(record, password);

    const backend = new StoreMailboxBackend();
    backend.register(record.email, store);
    this.imap = await startImapServer({
      backend,
      authenticate: async (user, password) =>
        (await authenticate(user, password)) ? record.email : null,
      port: record.imapPort,
      tls: { key: this.options.tls.keyPem, cert: this.options.tls.certPem },
      logger: logger.child({ module: 'imap' }),
    });

    this.outbox = new Outbox({
      store,
      storageSecret: this.options.storageSecret,
      dir: join(this.options.accountDir, 'outbox'),
      relay: upstream.relay,
      logger: logger.child({ module: 'outbox' }),
    });
    this.outbox.start();
    // Read before the server opens, then kept current as another device changes them.
    this.settings = await this.options.documents.settings.all();
    this.unwatchSettings = this.options.documents.settings.watch((settings) => {
      this.settings = settings;
    });
    this.smtp = await startSmtpServer({
      port: record.smtpPort,
      tls: { key: this.options.tls.keyPem, cert: this.options.tls.certPem },
      authenticate,
      addresses: () => [record.email],
      keys: this.keys,
      outbox: this.outbox,
      encryptedOnly: () => this.settings.encryptedOnly,
      attachPublicKey: () => this.settings.attachOwnKey,
      logger: logger.child({ module: 'smtp' }),
    });

    this.sync = new SyncEngine({
      store,
      credentials: upstream.imap,
      keys: keyManagerKeys(this.keys),
      legacy: upstream.legacy ? { replaceWithEncrypted: true } : null,
      onProgress: (p) => {
        const before = this.progress.get(p.mailbox);
        if (!before || before.done !== p.done || before.synced !== p.synced)
          logger.info('sync.progress', { ...p });
        this.progress.set(p.mailbox, p);
        this.options.onProgress?.(this.syncProgress);
      },
      logger: logger.child({ module: 'sync' }),
    });
    this.sync.start();
    this.rebuildSearchIndex();
  }

  /**
   * Mail stored by a version without the index, or with another text version, is indexed in
   * the background; searches stay exact meanwhile (they read what the index lacks).
   */
  private rebuildSearchIndex(): void {
    const { store, logger } = this.options;
    const started = Date.now();
    store
      .rebuildSearchIndex({
        onProgress: (p) => {
          if (p.total === 0) return;
          this.options.onIndexProgress?.(p);
          if (p.done === p.total) {
            logger.info('search_index.rebuilt', { messages: p.total, ms: Date.now() - started });
          }
        },
      })
      .catch((error: unknown) =>
        // Searches fall back to reading the messages, so this costs speed, not answers.
        logger.warn('search_index.rebuild_failed', { message: (error as Error).message }),
      );
  }

  async stop(): Promise<void> {
    await this.sync?.stop().catch(() => undefined);
    await this.smtp?.close().catch(() => undefined);
    this.unwatchSettings();
    await this.outbox?.stop().catch(() => undefined);
    await this.imap?.close().catch(() => undefined);
    this.keys.stop();
    await this.options.documents.close().catch(() => undefined);
    this.options.store.close();
  }
}
