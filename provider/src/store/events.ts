/**
 * Live sync changes for the event streams. In one process (SQLite) a push hands its written
 * documents to the streams held by the same process. With PostgreSQL, a push may land on any
 * process and a stream may be held by any other: the pushing process also sends a NOTIFY
 * naming the user, the collection and the range of `updatedAt` it wrote (never the
 * documents: a NOTIFY carries at most 8000 bytes, a document up to 1 MiB), and every other
 * process with a stream for that user and collection pulls that range from the database.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ProviderStore, StoredDoc } from './types.js';

export interface SyncEvent {
  userId: string;
  collection: string;
  documents: StoredDoc[];
}

export interface SyncSubscriber {
  documents(documents: StoredDoc[]): void;
  /** Changes from other processes may have been missed (the database connection broke):
   * the stream should end, so that its client pulls again. */
  lost(): void;
}

export interface SyncEvents {
  /** After a push wrote `documents` (in `updatedAt` order). */
  publish(event: SyncEvent): Promise<void>;
  /** Returns the function that ends the subscription. */
  subscribe(userId: string, collection: string, subscriber: SyncSubscriber): () => void;
  close(): Promise<void>;
}

/** Subscribers of this process, by user and collection. */
class LocalHub {
  private readonly byStream = new Map<string, Set<SyncSubscriber>>();

  subscribe(userId: string, collection: string, subscriber: SyncSubscriber): () => void {
    const key = streamKey(userId, collection);
    const set = this.byStream.get(key) ?? new Set();
    set.add(subscriber);
    this.byStream.set(key, set);
    return () => {
      set.delete(subscriber);
      if (set.size === 0) this.byStream.delete(key);
    };
  }

  has(userId: string, collection: string): boolean {
    return this.byStream.has(streamKey(userId, collection));
  }

  deliver(userId: string, collection: string, documents: StoredDoc[]): void {
    for (const s of this.byStream.get(streamKey(userId, collection)) ?? []) s.documents(documents);
  }

  lostAll(): void {
    for (const set of this.byStream.values()) for (const s of set) s.lost();
  }
}

const streamKey = (userId: string, collection: string) => `${userId}\n${collection}`;

export function localSyncEvents(): SyncEvents {
  const hub = new LocalHub();
  return {
    publish: async (e) => hub.deliver(e.userId, e.collection, e.documents),
    subscribe: (userId, collection, subscriber) => hub.subscribe(userId, collection, subscriber),
    close: async () => undefined,
  };
}

const CHANNEL = 'leapbird_sync';

interface Notice {
  /** The process that wrote (it has delivered to its own streams already). */
  origin: string;
  userId: string;
  collection: string;
  from: number;
  to: number;
}

/**
 * Sync events across processes over PostgreSQL LISTEN/NOTIFY, on a connection of their own.
 * `onError` hears about a broken connection (the streams are ended, then it reconnects).
 */
export async function postgresSyncEvents(
  url: string,
  store: Pick<ProviderStore, 'pull'>,
  onError: (err: Error) => void,
): Promise<SyncEvents> {
  const hub = new LocalHub();
  const origin = randomBytes(8).toString('hex');
  let client: pg.Client | null = null;
  let closed = false;
  // Notices are handled one at a time, so each stream sees changes in the order written.
  let queue: Promise<void> = Promise.resolve();

  const fetchRange = async (n: Notice): Promise<StoredDoc[]> => {
    const found: StoredDoc[] = [];
    // After {updatedAt: from, id: ''}: everything at `from` or later (ids are never empty).
    let after = { id: '', updatedAt: n.from };
    for (;;) {
      const page = await store.pull(n.userId, n.collection, after, 1000);
      for (const d of page) if (d.updatedAt <= n.to) found.push(d);
      const last = page[page.length - 1];
      if (!last || page.length < 1000 || last.updatedAt > n.to) return found;
      after = { id: last.id, updatedAt: last.updatedAt };
    }
  };

  const onNotice = (payload: string | undefined) => {
    let n: Notice;
    try {
      n = JSON.parse(payload ?? '') as Notice;
    } catch {
      return;
    }
    if (n.origin === origin || !hub.has(n.userId, n.collection)) return;
    queue = queue
      .then(async () => {
        const documents = await fetchRange(n);
        if (documents.length > 0) hub.deliver(n.userId, n.collection, documents);
      })
      .catch((err: Error) => onError(err));
  };

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: url });
    c.on('notification', (m) => {
      if (m.channel === CHANNEL) onNotice(m.payload);
    });
    c.on('error', (err) => {
      if (client !== c) return;
      client = null;
      onError(err);
      // Changes during the gap are not announced: the streams end and their clients pull.
      hub.lostAll();
      void c.end().catch(() => undefined);
      if (!closed) setTimeout(() => void reconnect(), 1000).unref();
    });
    await c.connect();
    await c.query(`LISTEN ${CHANNEL}`);
    client = c;
  };
  const reconnect = async () => {
    try {
      await connect();
    } catch (err) {
      onError(err as Error);
      if (!closed) setTimeout(() => void reconnect(), 1000).unref();
    }
  };
  await connect();

  return {
    async publish(e) {
      hub.deliver(e.userId, e.collection, e.documents);
      if (e.documents.length === 0) return;
      const times = e.documents.map((d) => d.updatedAt);
      const notice: Notice = {
        origin,
        userId: e.userId,
        collection: e.collection,
        from: Math.min(...times),
        to: Math.max(...times),
      };
      if (!client) throw new Error('no connection for sync events');
      await client.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(notice)]);
    },
    subscribe: (userId, collection, subscriber) => hub.subscribe(userId, collection, subscriber),
    async close() {
      closed = true;
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };
}
