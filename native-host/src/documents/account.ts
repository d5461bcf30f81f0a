/**
 * An account's synced documents: own key pairs, contacts' keys and settings as RxDB
 * collections in the account's encrypted SQLite database, replicated end-to-end encrypted to
 * the provider's sync store so every device of the user shares them.
 */
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Database } from 'better-sqlite3-multiple-ciphers';
import { createRxDatabase, type RxCollection, type RxDatabase, type RxStorage } from 'rxdb';
import { merge, Subject, type Observable, type Subscription } from 'rxjs';
import type { ContactKeyRecord, OwnKeyRecord } from '../keys/index.js';
import type { Resolver } from '../net/index.js';
import {
  createSyncStoreClient,
  encryptedConflictHandler,
  getRxStorageSqlite,
  replicateEncrypted,
  RevisionLedger,
  RxdbStoreError,
  SyncKeys,
  type EncryptedReplication,
  type SyncStoreClient,
} from '../store/rxdb/index.js';
import { DocumentsError } from './errors.js';
import { SyncedKeyStore } from './key-store.js';
import { mergeContact, mergeOwnKey } from './merge.js';
import {
  COLLECTIONS,
  contactSchema,
  ownKeySchema,
  settingSchema,
  type SettingDoc,
} from './records.js';
import { SyncedSettings } from './settings.js';

/** What replication needs of a provider session (`ProviderSession` fits). */
export interface DocumentsSession {
  /** The current token; `fresh` asks for a new login (after the provider refused the token). */
  token(options?: { fresh?: boolean }): Promise<string>;
  provider: { apiUri: string; caCertPem: string; domain: string };
}

export interface OpenAccountDocumentsOptions {
  /** The account's open, encrypted database (`AccountStore.database.raw`); stays the caller's. */
  database: Database;
  /** The account's storage secret: it keys the documents at the provider. */
  storageSecret: Uint8Array;
  /** Identifies the account (e.g. its address); the same on every open of it. */
  name: string;
  /** The provider session; without one the documents stay local (legacy accounts). */
  session?: DocumentsSession;
  /** Maps the provider's API host to a local address (tests, demos). */
  resolver?: Resolver;
  /** Wait before retrying a failed sync request or reconnecting the stream; default 5 s. */
  retryTimeMs?: number;
}

/** A sync problem worth a log line; the documents stay usable locally. */
export interface SyncProblem {
  collection: string;
  code: string;
  message: string;
}

export interface AccountDocuments {
  readonly keyStore: SyncedKeyStore;
  readonly settings: SyncedSettings;
  /** Failed requests (retried), and documents the provider altered or rolled back (refused). */
  readonly problems$: Observable<SyncProblem>;
  /** Starts live replication with the provider's sync store; does nothing when running. */
  startReplication(): void;
  /**
   * Waits until every collection has pulled what the provider has and pushed local changes:
   * true then, false after `timeoutMs` or when replication is not running. A new device waits
   * for this before `KeyManager.ensureOwnKey`, so it finds the synced key instead of making one.
   */
  awaitInSync(timeoutMs?: number): Promise<boolean>;
  /** Stops replication; the documents stay usable and changes sync after the next start. */
  stop(): Promise<void>;
  /** Stops replication and closes the RxDB database (not the SQLite handle). */
  close(): Promise<void>;
}

type Collections = {
  [COLLECTIONS.ownKeys]: RxCollection<OwnKeyRecord>;
  [COLLECTIONS.contacts]: RxCollection<ContactKeyRecord>;
  [COLLECTIONS.settings]: RxCollection<SettingDoc>;
};

let opened = 0;

export async function openAccountDocuments(
  options: OpenAccountDocumentsOptions,
): Promise<AccountDocuments> {
  if (typeof options.name !== 'string' || options.name.length === 0) {
    throw new DocumentsError('invalid_params', 'The account needs a name to open its documents.');
  }
  const keys = new SyncKeys(options.storageSecret);
  const accountId = createHash('sha256').update(options.name).digest('hex').slice(0, 16);
  // RxDB refuses two open databases with one name in a process (two accounts, two devices of
  // one user in a test, a reopen while the last close is still running), so each open gets its
  // own; the tables and replication checkpoints stay under the account's stable name.
  const db = await createRxDatabase<Collections>({
    name: `docs${accountId}x${++opened}x${randomBytes(4).toString('hex')}`,
    storage: storedUnder(getRxStorageSqlite({ database: options.database }), `acct${accountId}`),
    multiInstance: false,
  });
  try {
    await db.addCollections({
      [COLLECTIONS.ownKeys]: {
        schema: ownKeySchema,
        conflictHandler: encryptedConflictHandler(
          keys,
          COLLECTIONS.ownKeys,
          ownKeySchema,
          mergeOwnKey,
        ),
      },
      [COLLECTIONS.contacts]: {
        schema: contactSchema,
        conflictHandler: encryptedConflictHandler(
          keys,
          COLLECTIONS.contacts,
          contactSchema,
          mergeContact,
        ),
      },
      [COLLECTIONS.settings]: {
        schema: settingSchema,
        conflictHandler: encryptedConflictHandler(keys, COLLECTIONS.settings, settingSchema),
      },
    });
  } catch (err) {
    await db.close();
    if ((err as { code?: unknown }).code === 'COL23') {
      throw new DocumentsError(
        'too_many_open',
        'Too many accounts are open at once (RxDB allows 13 synced collections per process, 3 per account); close one first.',
      );
    }
    throw err;
  }
  return new Documents(db, keys, new RevisionLedger(options.database), options);
}

/**
 * Keeps an account's tables under one name whatever the RxDB database is called this time.
 * RxDB also derives replication checkpoints from the storage's database name, so sync
 * resumes where it stopped instead of pulling everything again.
 */
function storedUnder<I, O>(storage: RxStorage<I, O>, databaseName: string): RxStorage<I, O> {
  return {
    name: storage.name,
    rxdbVersion: storage.rxdbVersion,
    createStorageInstance: (params) => storage.createStorageInstance({ ...params, databaseName }),
  };
}

class Documents implements AccountDocuments {
  readonly keyStore: SyncedKeyStore;
  readonly settings: SyncedSettings;
  readonly problems$: Observable<SyncProblem>;
  readonly #problems = new Subject<SyncProblem>();
  #replications: EncryptedReplication<unknown>[] = [];
  #subscriptions: Subscription[] = [];
  #agent: https.Agent | null = null;
  #closed = false;

  constructor(
    private readonly db: RxDatabase<Collections>,
    private readonly keys: SyncKeys,
    private readonly ledger: RevisionLedger,
    private readonly options: OpenAccountDocumentsOptions,
  ) {
    const ensureOpen = () => this.#ensureOpen();
    this.keyStore = new SyncedKeyStore(db.ownkeys, db.contacts, ensureOpen);
    this.settings = new SyncedSettings(db.settings, ensureOpen);
    this.problems$ = this.#problems.asObservable();
  }

  #ensureOpen(): void {
    if (this.#closed) {
      throw new DocumentsError('closed', "The account's documents are closed; open them again.");
    }
  }

  startReplication(): void {
    this.#ensureOpen();
    const session = this.options.session;
    if (!session) {
      throw new DocumentsError(
        'no_session',
        'This account has no provider to sync with; its keys and settings stay on this device.',
      );
    }
    if (this.#replications.length > 0) return;
    this.#agent ??= new https.Agent({ ca: session.provider.caCertPem, keepAlive: true });
    const client = renewingClient(
      createSyncStoreClient({
        ...syncStoreAddress(session.provider, this.options.resolver),
        token: () => session.token(),
        agent: this.#agent,
      }),
      session,
    );
    const collections = [this.db.ownkeys, this.db.contacts, this.db.settings];
    this.#replications = collections.map((collection) =>
      replicateEncrypted({
        collection: collection as RxCollection<unknown>,
        client,
        keys: this.keys,
        ledger: this.ledger,
        remoteId: session.provider.domain,
        retryTime: this.options.retryTimeMs,
      }),
    );
    this.#subscriptions = this.#replications.map((r, i) =>
      merge(r.rejected$, r.state.error$).subscribe((err) =>
        this.#problems.next(problemOf(collections[i]!.name, err)),
      ),
    );
  }

  async awaitInSync(timeoutMs = 30_000): Promise<boolean> {
    if (this.#replications.length === 0) return false;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    // A replication cancelled meanwhile (stop, close) is not in sync; nor left unhandled.
    const synced = Promise.all(this.#replications.map((r) => r.state.awaitInSync())).then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([synced, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    const running = this.#replications;
    this.#replications = [];
    for (const s of this.#subscriptions) s.unsubscribe();
    this.#subscriptions = [];
    await Promise.all(running.map((r) => r.cancel()));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.stop();
    this.#closed = true;
    await this.db.close();
    this.#agent?.destroy();
    this.#problems.complete();
  }
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  rxdb?: unknown;
  parameters?: { errors?: ErrorLike[] };
}

/**
 * RxDB's replication errors spell out their parameters in the message, and for a failed push
 * those are the documents, in the clear (private keys included). A problem therefore carries
 * only the underlying cause's code and message, never an RxDB message.
 */
function problemOf(collection: string, err: ErrorLike): SyncProblem {
  const cause = err.rxdb === true ? err.parameters?.errors?.[0] : err;
  const own = cause !== undefined && cause.rxdb !== true && typeof cause.message === 'string';
  const code = typeof cause?.code === 'string' ? cause.code : err.code;
  return {
    collection,
    code: typeof code === 'string' ? code : 'sync_failed',
    message: own ? (cause.message as string) : 'Syncing with the provider failed; it is retried.',
  };
}

/**
 * The sync store under the provider's API (`<api_uri>/1/sync`), reached through the resolver
 * when it maps the API host, with the certificate checked for the API host name.
 */
function syncStoreAddress(
  provider: DocumentsSession['provider'],
  resolver: Resolver | undefined,
): { baseUrl: string; servername: string } {
  let api: URL;
  try {
    api = new URL(provider.apiUri);
  } catch {
    throw new DocumentsError(
      'invalid_params',
      `The provider's API address "${provider.apiUri}" is not a URL.`,
    );
  }
  const endpoint = resolver?.(api.hostname);
  const base = endpoint ? new URL(endpoint.origin) : new URL(api.origin);
  base.pathname = `${api.pathname.replace(/\/+$/, '')}/1/sync`;
  return {
    baseUrl: base.toString(),
    // An IP address is no TLS server name; the provider's certificate carries its domain.
    servername: isIP(api.hostname) ? provider.domain : api.hostname,
  };
}

/**
 * A token the provider refused (expired, or revoked by a logout elsewhere) is replaced by a
 * fresh login once, so document sync does not stop until the user logs in again.
 * Concurrent refusals share one renewal.
 */
function renewingClient(client: SyncStoreClient, session: DocumentsSession): SyncStoreClient {
  let renewing: Promise<unknown> | null = null;
  const renew = () =>
    (renewing ??= session.token({ fresh: true }).finally(() => {
      renewing = null;
    }));
  const refused = (err: unknown) =>
    err instanceof RxdbStoreError && err.code === 'sync_unauthorized';
  const retried = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      if (!refused(err)) throw err;
      await renew();
      return call();
    }
  };
  return {
    pull: (collection, checkpoint, limit) =>
      retried(() => client.pull(collection, checkpoint, limit)),
    push: (collection, rows) => retried(() => client.push(collection, rows)),
    async *stream(collection, signal, onOpen) {
      try {
        yield* client.stream(collection, signal, onOpen);
      } catch (err) {
        // The replication reopens the stream after its retry time, then with the new token.
        if (refused(err)) await renew();
        throw err;
      }
    },
  };
}
