/**
 * The encrypted document store for RxDB replication (pull, push, live stream) and the
 * storage-secret recovery record. Documents are opaque ciphertext: the provider checks
 * shapes and sizes, never content.
 */
import type { ServerResponse } from 'node:http';
import type { ProviderContext, SyncEvent } from '../context.js';
import { ProviderError } from '../errors.js';
import type { Checkpoint, PushRow, StoredDoc, WireDoc } from '../store/index.js';
import { requireUser } from './accounts.js';
import { str, type Request, type Router } from './http.js';

const COLLECTION = /^[a-z0-9_-]{1,64}$/;
export const MAX_DOC_BYTES = 1024 * 1024;
export const MAX_PUSH_ROWS = 1000;
const MAX_PUSH_BODY = 64 * 1024 * 1024;
const MAX_RECOVERY_BYTES = 64 * 1024;
const KEEPALIVE_MS = 15_000;

function collectionOf(req: Request): string {
  const name = req.params[0] ?? '';
  if (!COLLECTION.test(name))
    throw new ProviderError(
      'bad_request',
      'Collection names are 1-64 of a-z, 0-9, "_" and "-"',
      400,
    );
  return name;
}

function parseCheckpoint(raw: string | null): Checkpoint | null {
  if (!raw) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ProviderError('bad_request', 'checkpoint must be JSON {"id","updatedAt"}', 400);
  }
  if (value === null) return null;
  const cp = value as Partial<Checkpoint>;
  if (
    typeof cp.id !== 'string' ||
    typeof cp.updatedAt !== 'number' ||
    !Number.isFinite(cp.updatedAt)
  ) {
    throw new ProviderError(
      'bad_request',
      'checkpoint must be JSON {"id": string, "updatedAt": number}',
      400,
    );
  }
  return { id: cp.id, updatedAt: cp.updatedAt };
}

function wireDoc(value: unknown, where: string): WireDoc {
  const d = value as Partial<WireDoc> | null;
  if (typeof d !== 'object' || d === null || Array.isArray(d))
    throw new ProviderError('bad_request', `${where} must be a document object`, 400);
  if (typeof d.id !== 'string' || d.id.length === 0 || d.id.length > 512)
    throw new ProviderError('bad_request', `${where}.id must be a string of 1-512 characters`, 400);
  if (typeof d.deleted !== 'boolean')
    throw new ProviderError('bad_request', `${where}.deleted must be a boolean`, 400);
  if (typeof d.ciphertext !== 'string')
    throw new ProviderError('bad_request', `${where}.ciphertext must be a string`, 400);
  if (typeof d.hash !== 'string' || d.hash.length > 512)
    throw new ProviderError('bad_request', `${where}.hash must be a string`, 400);
  if (Buffer.byteLength(d.ciphertext) > MAX_DOC_BYTES) {
    throw new ProviderError('too_large', `${where} is larger than ${MAX_DOC_BYTES} bytes`, 413);
  }
  return { id: d.id, deleted: d.deleted, ciphertext: d.ciphertext, hash: d.hash };
}

function parseRows(body: Record<string, unknown>): PushRow[] {
  const rows = body['rows'];
  if (!Array.isArray(rows)) throw new ProviderError('bad_request', 'rows must be an array', 400);
  if (rows.length > MAX_PUSH_ROWS)
    throw new ProviderError('too_large', `At most ${MAX_PUSH_ROWS} rows per push`, 413);
  return rows.map((row: unknown, i) => {
    const r = row as { assumedMasterState?: unknown; newDocumentState?: unknown } | null;
    if (typeof r !== 'object' || r === null)
      throw new ProviderError('bad_request', `rows[${i}] must be an object`, 400);
    const assumed =
      r.assumedMasterState == null
        ? null
        : wireDoc(r.assumedMasterState, `rows[${i}].assumedMasterState`);
    const next = wireDoc(r.newDocumentState, `rows[${i}].newDocumentState`);
    if (assumed && assumed.id !== next.id)
      throw new ProviderError('bad_request', `rows[${i}]: the two states have different ids`, 400);
    return { assumedMasterState: assumed, newDocumentState: next };
  });
}

const checkpointOf = (docs: StoredDoc[], fallback: Checkpoint | null): Checkpoint | null => {
  const last = docs[docs.length - 1];
  return last ? { id: last.id, updatedAt: last.updatedAt } : fallback;
};

export function addSyncRoutes(router: Router, ctx: ProviderContext): void {
  router.add('GET', /^\/1\/sync\/([^/]+)\/pull$/, async (req) => {
    const { user } = await requireUser(ctx, req);
    const collection = collectionOf(req);
    const after = parseCheckpoint(req.query.get('checkpoint'));
    const limitRaw = req.query.get('limit');
    const limit = limitRaw === null || limitRaw === '' ? 100 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new ProviderError('bad_request', 'limit must be an integer from 1 to 1000', 400);
    const documents = await ctx.store.pull(user.id, collection, after, limit);
    return { json: { documents, checkpoint: checkpointOf(documents, after) } };
  });

  router.add('POST', /^\/1\/sync\/([^/]+)\/push$/, async (req) => {
    const { user } = await requireUser(ctx, req);
    const collection = collectionOf(req);
    const rows = parseRows(await req.body(MAX_PUSH_BODY));
    const { conflicts, written } = await ctx.store.push(user.id, collection, rows, ctx.now());
    if (written.length > 0) {
      const event: SyncEvent = { userId: user.id, collection, documents: written };
      // The push is stored whatever happens to the announcement: a stream that missed it
      // ends when the connection breaks, and its client pulls.
      await ctx.syncEvents
        .publish(event)
        .catch((err) => ctx.log.warn('sync_event_failed', { error: (err as Error).message }));
    }
    return { json: { conflicts } };
  });

  router.add('GET', /^\/1\/sync\/([^/]+)\/stream$/, async (req, res: ServerResponse) => {
    const { user } = await requireUser(ctx, req);
    const collection = collectionOf(req);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(': connected\n\n');
    const unsubscribe = ctx.syncEvents.subscribe(user.id, collection, {
      documents: (documents) =>
        res.write(
          `data: ${JSON.stringify({ documents, checkpoint: checkpointOf(documents, null) })}\n\n`,
        ),
      lost: () => res.end(),
    });
    const keepalive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_MS);
    res.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
    });
    return { streamed: true };
  });

  router.add('PUT', /^\/1\/recovery$/, async (req) => {
    const { user } = await requireUser(ctx, req);
    const record = str(await req.body(MAX_RECOVERY_BYTES * 2), 'record', MAX_RECOVERY_BYTES);
    // `If-None-Match: *` (RFC 9110 §13.1.2): create only. A first setup sends it, so it can
    // never replace a record another device stored meanwhile.
    if (req.headers['if-none-match'] === '*') {
      if (!(await ctx.store.createRecovery(user.id, record)))
        throw new ProviderError(
          'precondition_failed',
          'This account already has a recovery record; it was not replaced',
          412,
        );
      return { status: 201, json: { record } };
    }
    await ctx.store.setRecovery(user.id, record);
    return { json: { record } };
  });

  router.add('GET', /^\/1\/recovery$/, async (req) => {
    const { user } = await requireUser(ctx, req);
    const record = await ctx.store.getRecovery(user.id);
    if (record === null)
      throw new ProviderError('not_found', 'No recovery record is stored for this account', 404);
    return { json: { record } };
  });
}
