/**
 * End-to-end encrypted replication of an RxDB collection to the provider's sync store.
 *
 * Encryption lives in the push and pull *handlers*, not in RxDB's push/pull modifiers, on
 * purpose:
 * - a push modifier sees one document at a time, but sealing needs the row: the revision
 *   number of the new state follows the one this device last saw for that document;
 * - the documents the provider returns as conflicts never pass through RxDB's pull modifier;
 *   RxDB hands them straight to the conflict handler and then stores them as the assumed master
 *   state. Decrypting them in the push handler means RxDB only ever holds plaintext, and the
 *   next push of that document is compared against the provider's copy by its keyed content
 *   hash (random IVs make ciphertexts of equal content differ, the hash does not).
 * The collection's conflict handler (`encryptedConflictHandler`) compares documents by that same
 * keyed content hash, so "equal" means the same thing locally and at the provider.
 */
import type { Database } from 'better-sqlite3-multiple-ciphers';
import {
  getComposedPrimaryKeyOfDocumentData,
  type RxCollection,
  type RxConflictHandler,
  type RxConflictHandlerInput,
  type RxJsonSchema,
  type WithDeleted,
} from 'rxdb';
import { replicateRxCollection, type RxReplicationState } from 'rxdb/plugins/replication';
import { Subject, type Observable } from 'rxjs';
import { RxdbStoreError } from './errors.js';
import type { PullResult, StoredWireDoc, SyncCheckpoint, SyncStoreClient } from './sync-client.js';
import type { PlainDoc, SyncKeys, WireDoc } from './sync-keys.js';

type RxPullStreamItem<T> = { documents: WithDeleted<T>[]; checkpoint: SyncCheckpoint } | 'RESYNC';

/**
 * The highest revision this device has seen per document and remote collection, kept in the
 * account database. A document the provider serves with a lower revision is a rollback.
 */
export class RevisionLedger {
  readonly #get;
  readonly #raiseAll;

  constructor(database: Database, tablePrefix = 'rx_') {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(tablePrefix)) {
      throw new RxdbStoreError(
        'invalid_params',
        `The table prefix "${tablePrefix}" is not a plain SQL name.`,
      );
    }
    const table = `"${tablePrefix}sync_revisions"`;
    database.exec(
      `CREATE TABLE IF NOT EXISTS ${table} (scope TEXT NOT NULL, wire_id TEXT NOT NULL,` +
        ` revision INTEGER NOT NULL, PRIMARY KEY (scope, wire_id)) WITHOUT ROWID`,
    );
    this.#get = database.prepare<[string, string], { revision: number }>(
      `SELECT revision FROM ${table} WHERE scope = ? AND wire_id = ?`,
    );
    const raise = database.prepare(
      `INSERT INTO ${table} (scope, wire_id, revision) VALUES (?, ?, ?)` +
        ` ON CONFLICT (scope, wire_id) DO UPDATE SET revision = max(revision, excluded.revision)`,
    );
    // One transaction per batch: a commit per document would cost a sync to disk each.
    this.#raiseAll = database.transaction((scope: string, seen: Seen[]) => {
      for (const s of seen) raise.run(scope, s.wireId, s.revision);
    });
  }

  get(scope: string, wireId: string): number {
    return this.#get.get(scope, wireId)?.revision ?? 0;
  }

  raiseAll(scope: string, seen: Seen[]): void {
    if (seen.length > 0) this.#raiseAll(scope, seen);
  }
}

interface Seen {
  wireId: string;
  revision: number;
}

export interface EncryptedReplicationOptions<T> {
  collection: RxCollection<T>;
  client: SyncStoreClient;
  keys: SyncKeys;
  ledger: RevisionLedger;
  /** Name at the sync store (`[a-z0-9_-]{1,64}`); defaults to the collection's name. */
  remoteCollection?: string;
  /** Distinguishes sync stores (e.g. the provider's domain); part of RxDB's checkpoint key. */
  remoteId: string;
  /** Keep pulling through the live stream and pushing local changes; default true. */
  live?: boolean;
  /** Wait before retrying a failed request or reconnecting the stream; default 5 s. */
  retryTime?: number;
  pushBatchSize?: number;
  pullBatchSize?: number;
}

export interface EncryptedReplication<T> {
  state: RxReplicationState<T, SyncCheckpoint>;
  /** Documents from the provider that failed authentication or were rolled back; never applied. */
  rejected$: Observable<RxdbStoreError>;
  cancel(): Promise<void>;
}

export function replicateEncrypted<T>(
  options: EncryptedReplicationOptions<T>,
): EncryptedReplication<T> {
  const { collection, client, keys, ledger } = options;
  const remote = options.remoteCollection ?? collection.name;
  const scope = `${options.remoteId}|${remote}`;
  const primaryPath = collection.schema.primaryPath as string;
  const schema = collection.schema.jsonSchema as RxJsonSchema<T>;
  const rejected$ = new Subject<RxdbStoreError>();
  const retryTime = options.retryTime ?? 5000;
  const live = options.live ?? true;
  if (collection.schema.jsonSchema.attachments) {
    throw new RxdbStoreError(
      'not_supported',
      `Collection "${collection.name}" has attachments; they are not synced.`,
    );
  }

  const idOf = (doc: PlainDoc) => getComposedPrimaryKeyOfDocumentData(schema, doc as Partial<T>);

  /** Opens a provider document; throws on tampering or rollback. */
  const open = (wire: WireDoc): Seen & { doc: WithDeleted<T> } => {
    const { doc, revision } = keys.decrypt(remote, wire, primaryPath);
    const seen = ledger.get(scope, wire.id);
    if (revision < seen) {
      throw new RxdbStoreError(
        'rollback',
        `The provider served an older version (${revision}) of a synced document than this device has seen (${seen}).`,
      );
    }
    return { doc: doc as unknown as WithDeleted<T>, wireId: wire.id, revision };
  };

  /** Pulled batches: bad documents are reported and skipped so one cannot stall the rest. */
  const openAll = (docs: StoredWireDoc[]): WithDeleted<T>[] => {
    const opened: (Seen & { doc: WithDeleted<T> })[] = [];
    for (const wire of docs) {
      try {
        opened.push(open(wire));
      } catch (err) {
        rejected$.next(
          err instanceof RxdbStoreError ? err : new RxdbStoreError('decrypt_failed', String(err)),
        );
      }
    }
    ledger.raiseAll(scope, opened);
    return opened.map((o) => o.doc);
  };

  const stream$ = new Subject<RxPullStreamItem<T>>();
  const streamAbort = new AbortController();

  const state = replicateRxCollection<T, SyncCheckpoint>({
    replicationIdentifier: `leapbird-sync|${scope}`,
    collection,
    live,
    retryTime,
    waitForLeadership: false,
    autoStart: true,
    pull: {
      batchSize: options.pullBatchSize ?? 200,
      handler: async (checkpoint, batchSize) => {
        const res = await client.pull(remote, checkpoint ?? null, batchSize);
        return {
          documents: openAll(res.documents),
          checkpoint: res.checkpoint ?? checkpoint ?? null,
        } as {
          documents: WithDeleted<T>[];
          checkpoint: SyncCheckpoint;
        };
      },
      stream$: stream$.asObservable(),
    },
    push: {
      batchSize: Math.min(options.pushBatchSize ?? 100, 1000),
      handler: async (rows) => {
        const sealed = rows.map((row) => {
          const doc = row.newDocumentState as unknown as PlainDoc;
          const id = idOf(doc);
          const wireId = keys.wireId(remote, id);
          const seen = ledger.get(scope, wireId);
          const assumed = row.assumedMasterState as unknown as PlainDoc | undefined;
          return {
            wireId,
            revision: seen + 1,
            row: {
              // The provider compares only `hash` and `deleted` of the assumed state, so it is
              // not sealed again: that would cost an encryption and double the upload.
              assumedMasterState: assumed
                ? {
                    id: wireId,
                    deleted: assumed._deleted,
                    ciphertext: '',
                    hash: keys.contentHash(remote, id, assumed),
                  }
                : null,
              newDocumentState: keys.encrypt(remote, id, doc, seen + 1),
            },
          };
        });
        const conflicts = await client.push(
          remote,
          sealed.map((s) => s.row),
        );
        const conflicted = new Set(conflicts.map((c) => c.id));
        // Recorded before the conflicts are opened: if one of those is forged and throws, the
        // accepted rows were still written at the provider.
        ledger.raiseAll(
          scope,
          sealed.filter((s) => !conflicted.has(s.wireId)),
        );
        // Decrypted here because RxDB passes conflicts on without the pull modifier.
        const opened = conflicts.map(open);
        ledger.raiseAll(scope, opened);
        return opened.map((o) => o.doc);
      },
    },
  });

  if (live) void runStream(client, remote, stream$, openAll, retryTime, streamAbort.signal);
  // RxDB also cancels the replication itself when the collection or database closes; the
  // stream must end then too, or it would keep reconnecting for a closed database.
  state.onCancel.push(() => {
    streamAbort.abort();
    stream$.complete();
    rejected$.complete();
  });

  return {
    state,
    rejected$: rejected$.asObservable(),
    cancel: () => state.cancel(),
  };
}

/**
 * Keeps the live change stream open. Every (re)connection starts with a RESYNC so RxDB pulls
 * whatever changed while the stream was down; then events flow in as they come.
 */
async function runStream<T>(
  client: SyncStoreClient,
  remote: string,
  out: Subject<RxPullStreamItem<T>>,
  openAll: (docs: StoredWireDoc[]) => WithDeleted<T>[],
  retryTime: number,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const onOpen = () => out.next('RESYNC');
      for await (const event of client.stream(remote, signal, onOpen)) forward(event, out, openAll);
    } catch {
      // Unreachable or broken stream: wait and reconnect. The pull handler reports errors
      // through RxDB, so this is not another place to report them.
    }
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, retryTime);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

function forward<T>(
  event: PullResult,
  out: Subject<RxPullStreamItem<T>>,
  openAll: (docs: StoredWireDoc[]) => WithDeleted<T>[],
): void {
  if (!event.checkpoint) return;
  out.next({ documents: openAll(event.documents), checkpoint: event.checkpoint });
}

/**
 * The conflict handler each synced collection is created with. Two states are equal when their
 * keyed content hashes are (what the provider compares too); on a real conflict `merge` decides,
 * by default the provider's state wins, as in RxDB.
 */
export function encryptedConflictHandler<T>(
  keys: SyncKeys,
  remoteCollection: string,
  schema: RxJsonSchema<T>,
  merge?: (input: RxConflictHandlerInput<T>) => WithDeleted<T> | Promise<WithDeleted<T>>,
): RxConflictHandler<T> {
  const hash = (doc: WithDeleted<T>) => {
    const plain = doc as unknown as PlainDoc;
    return keys.contentHash(
      remoteCollection,
      getComposedPrimaryKeyOfDocumentData(schema, doc),
      plain,
    );
  };
  return {
    isEqual: (a, b) => hash(a) === hash(b),
    resolve: async (input) => (merge ? merge(input) : input.realMasterState),
  };
}
