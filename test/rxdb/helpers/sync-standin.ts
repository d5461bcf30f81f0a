/**
 * UNIT-TEST STAND-IN for the provider's sync store — not the provider.
 *
 * It implements exactly the sync part of contracts.md (pull / push / stream, conflict rule,
 * server-assigned strictly increasing `updatedAt` per user, 1000-row and 1 MiB limits, JSON
 * errors) in memory over HTTPS, so the replication can be tested before and independently of
 * `provider/`. Tests against the real provider live in `provider-sync.test.ts`.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TestTls } from './tls.js';

interface WireDoc {
  id: string;
  deleted: boolean;
  ciphertext: string;
  hash: string;
}
type Stored = WireDoc & { updatedAt: number };

export interface SyncStandin {
  url: string;
  /** Every stored document of a user's collection, in (updatedAt, id) order. */
  docs(user: string, collection: string): Stored[];
  /** Replaces a stored document as a malicious provider could (and tells stream listeners). */
  tamper(user: string, collection: string, doc: Stored): void;
  /** Drops all open change streams, as a restarting provider would. */
  dropStreams(): void;
  /** Keeps open streams connected but sends nothing more on them: a silently dead link. */
  freezeStreams(): void;
  /** How many change streams are connected now. */
  openStreams(): number;
  /** Forgets every stored document. */
  clear(): void;
  close(): Promise<void>;
}

const MAX_DOC = 1024 * 1024;
const MAX_ROWS = 1000;

export async function startSyncStandin(
  tls: TestTls,
  tokens: Record<string, string>,
): Promise<SyncStandin> {
  const store = new Map<string, Map<string, Stored>>(); // user|collection -> id -> doc
  const clock = new Map<string, number>(); // user -> last updatedAt
  const listeners = new Map<string, Set<ServerResponse>>(); // user|collection -> streams

  const table = (user: string, collection: string) => {
    const key = `${user}|${collection}`;
    let t = store.get(key);
    if (!t) store.set(key, (t = new Map()));
    return t;
  };
  const sorted = (t: Map<string, Stored>) =>
    [...t.values()].sort(
      (a, b) => a.updatedAt - b.updatedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  const tick = (user: string) => {
    const next = Math.max(Date.now(), (clock.get(user) ?? 0) + 1);
    clock.set(user, next);
    return next;
  };
  const announce = (user: string, collection: string, docs: Stored[]) => {
    if (docs.length === 0) return;
    const last = docs[docs.length - 1]!;
    const payload = JSON.stringify({
      documents: docs,
      checkpoint: { id: last.id, updatedAt: last.updatedAt },
    });
    for (const res of listeners.get(`${user}|${collection}`) ?? [])
      res.write(`data: ${payload}\n\n`);
  };

  const error = (res: ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message } }));
  };

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });

  const isWire = (d: unknown): d is WireDoc => {
    const w = d as WireDoc;
    return (
      typeof w === 'object' &&
      w !== null &&
      typeof w.id === 'string' &&
      typeof w.deleted === 'boolean' &&
      typeof w.ciphertext === 'string' &&
      typeof w.hash === 'string'
    );
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'https://x');
    const m = /^\/1\/sync\/([a-z0-9_-]{1,64})\/(pull|push|stream)$/.exec(url.pathname);
    if (!m) return error(res, 404, 'not_found', 'No such endpoint.');
    const token = /^Token token="([^"]*)"$/.exec(req.headers.authorization ?? '')?.[1];
    const user = token === undefined ? undefined : tokens[token];
    if (!user) return error(res, 401, 'unauthorized', 'Missing or invalid token.');
    const [, collection, action] = m as unknown as [string, string, string];
    const t = table(user, collection);

    if (action === 'pull' && req.method === 'GET') {
      const raw = url.searchParams.get('checkpoint') ?? '';
      const limit = Math.min(Number(url.searchParams.get('limit') ?? '100') || 100, 1000);
      let cp: { id: string; updatedAt: number } | null = null;
      try {
        cp = raw === '' ? null : (JSON.parse(raw) as { id: string; updatedAt: number });
      } catch {
        return error(res, 400, 'bad_checkpoint', 'The checkpoint is not JSON.');
      }
      const after = sorted(t).filter(
        (d) => !cp || d.updatedAt > cp.updatedAt || (d.updatedAt === cp.updatedAt && d.id > cp.id),
      );
      const documents = after.slice(0, limit);
      const last = documents[documents.length - 1];
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(
        JSON.stringify({
          documents,
          checkpoint: last ? { id: last.id, updatedAt: last.updatedAt } : cp,
        }),
      );
    }

    if (action === 'push' && req.method === 'POST') {
      let body: { rows?: unknown };
      try {
        body = JSON.parse(await readBody(req)) as { rows?: unknown };
      } catch {
        return error(res, 400, 'bad_json', 'The body is not JSON.');
      }
      if (!Array.isArray(body.rows)) return error(res, 400, 'bad_request', 'rows is missing.');
      if (body.rows.length > MAX_ROWS)
        return error(res, 413, 'too_many_rows', 'At most 1000 rows per push.');
      const rows = body.rows as { assumedMasterState: unknown; newDocumentState: unknown }[];
      for (const row of rows) {
        if (
          !isWire(row.newDocumentState) ||
          (row.assumedMasterState !== null && !isWire(row.assumedMasterState))
        ) {
          return error(res, 400, 'bad_document', 'A row is not a WireDoc.');
        }
        if (JSON.stringify(row.newDocumentState).length > MAX_DOC) {
          return error(res, 413, 'document_too_large', 'A document is larger than 1 MiB.');
        }
      }
      const conflicts: Stored[] = [];
      const written: Stored[] = [];
      for (const row of rows) {
        const next = row.newDocumentState as WireDoc;
        const assumed = row.assumedMasterState as WireDoc | null;
        const stored = t.get(next.id);
        const conflict = stored
          ? !assumed || assumed.hash !== stored.hash || assumed.deleted !== stored.deleted
          : assumed !== null;
        if (conflict) {
          if (stored) conflicts.push(stored);
          continue;
        }
        const doc = { ...next, updatedAt: tick(user) };
        t.set(doc.id, doc);
        written.push(doc);
      }
      announce(user, collection, written);
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ conflicts }));
    }

    if (action === 'stream' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': connected\n\n');
      const key = `${user}|${collection}`;
      let set = listeners.get(key);
      if (!set) listeners.set(key, (set = new Set()));
      set.add(res);
      req.on('close', () => set.delete(res));
      return;
    }
    return error(res, 405, 'method_not_allowed', 'Method not allowed.');
  };

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    handle(req, res).catch((err: Error) => error(res, 500, 'internal', err.message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const standin: SyncStandin = {
    url: `https://127.0.0.1:${port}/1/sync`,
    docs: (user, collection) => sorted(table(user, collection)),
    tamper(user, collection, doc) {
      const stamped = { ...doc, updatedAt: tick(user) };
      table(user, collection).set(doc.id, stamped);
      announce(user, collection, [stamped]);
    },
    dropStreams() {
      for (const set of listeners.values()) for (const res of set) res.destroy();
    },
    freezeStreams() {
      for (const set of listeners.values()) set.clear();
    },
    openStreams: () => [...listeners.values()].reduce((n, set) => n + set.size, 0),
    clear: () => store.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        standin.dropStreams();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return standin;
}
