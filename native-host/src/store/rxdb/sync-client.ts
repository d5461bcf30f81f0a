/**
 * HTTP client for the provider's sync store (contracts.md "Sync store for RxDB replication").
 * It speaks only ciphertext; encryption happens in the replication layer above it.
 *
 * TLS trust comes from the caller's `agent` (the provider session pins the provider's CA in
 * it); `servername` lets the host connect by IP while checking the certificate for the
 * provider's domain.
 */
import http from 'node:http';
import https from 'node:https';
import { RxdbStoreError } from './errors.js';
import type { WireDoc } from './sync-keys.js';

export interface SyncCheckpoint {
  id: string;
  updatedAt: number;
}

export type StoredWireDoc = WireDoc & { updatedAt: number };

export interface PullResult {
  documents: StoredWireDoc[];
  checkpoint: SyncCheckpoint | null;
}

export interface PushRow {
  assumedMasterState: WireDoc | null;
  newDocumentState: WireDoc;
}

/** The sync store, per collection; implemented over HTTPS by `createSyncStoreClient`. */
export interface SyncStoreClient {
  pull(collection: string, checkpoint: SyncCheckpoint | null, limit: number): Promise<PullResult>;
  /** Returns the stored documents of the rows that conflicted (and were not written). */
  push(collection: string, rows: PushRow[]): Promise<StoredWireDoc[]>;
  /**
   * Opens the live change stream; calls `onOpen` once connected, then yields each event's
   * payload until the connection ends or `signal` aborts. Throws if it cannot be opened.
   */
  stream(collection: string, signal: AbortSignal, onOpen: () => void): AsyncIterable<PullResult>;
}

export interface SyncStoreClientOptions {
  /** The sync store base, e.g. `https://10.0.0.1:4430/1/sync` (no trailing slash needed). */
  baseUrl: string;
  /** The current session token; asked for on every request so a renewed token is used. */
  token: () => string | Promise<string>;
  /** Carries the pinned CA for https. */
  agent?: http.Agent;
  /** TLS server name to verify when `baseUrl` names an IP address. */
  servername?: string;
  /** Bound on each request (not on the stream); default 30 s. */
  timeoutMs?: number;
  /**
   * The stream is reopened when nothing (not even the provider's 15 s keep-alive) arrived for
   * this long, so a connection that died silently does not stop live sync; default 45 s.
   */
  streamIdleMs?: number;
}

const COLLECTION_NAME = /^[a-z0-9_-]{1,64}$/;

export function createSyncStoreClient(options: SyncStoreClientOptions): SyncStoreClient {
  const base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  // The session token travels with every request: never in the clear beyond this machine.
  if (base.protocol !== 'https:' && !(base.protocol === 'http:' && isLoopback(base.hostname))) {
    throw new RxdbStoreError(
      'invalid_params',
      `The sync store address ${base.origin} must use https (plain http only on loopback).`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 30_000;
  const streamIdleMs = options.streamIdleMs ?? 45_000;

  const url = (collection: string, action: string, query?: Record<string, string>) => {
    if (!COLLECTION_NAME.test(collection)) {
      throw new RxdbStoreError(
        'invalid_params',
        `"${collection}" is not a valid sync collection name (a-z, 0-9, _ and -, at most 64).`,
      );
    }
    const u = new URL(`${collection}/${action}`, base);
    for (const [k, v] of Object.entries(query ?? {})) u.searchParams.set(k, v);
    return u;
  };

  const open = async (
    method: 'GET' | 'POST',
    target: URL,
    body: string | undefined,
    signal: AbortSignal | undefined,
    accept: string,
  ): Promise<http.IncomingMessage> => {
    const headers: http.OutgoingHttpHeaders = {
      authorization: `Token token="${await options.token()}"`,
      accept,
    };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const transport = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(target, {
        method,
        headers,
        agent: options.agent,
        servername: options.servername,
        signal,
      } as https.RequestOptions);
      req.on('response', resolve);
      req.on('error', (err) =>
        reject(
          err instanceof RxdbStoreError
            ? err
            : new RxdbStoreError(
                'sync_http',
                `The sync store could not be reached: ${err.message}`,
              ),
        ),
      );
      req.end(body);
    });
  };

  const requestJson = async (
    method: 'GET' | 'POST',
    target: URL,
    payload?: unknown,
  ): Promise<unknown> => {
    const signal = AbortSignal.timeout(timeoutMs);
    const body = payload === undefined ? undefined : JSON.stringify(payload);
    const res = await open(method, target, body, signal, 'application/json');
    const text = await readAll(res);
    const status = res.statusCode ?? 0;
    let parsed: unknown;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (status < 200 || status >= 300) throw httpError(status, parsed);
    if (parsed === undefined) {
      throw new RxdbStoreError('sync_protocol', `The sync store answered ${status} without JSON.`);
    }
    return parsed;
  };

  return {
    async pull(collection, checkpoint, limit) {
      const target = url(collection, 'pull', {
        checkpoint: checkpoint ? JSON.stringify(checkpoint) : '',
        limit: String(limit),
      });
      return asPullResult(await requestJson('GET', target));
    },

    async push(collection, rows) {
      const res = (await requestJson('POST', url(collection, 'push'), { rows })) as {
        conflicts?: unknown;
      };
      if (!Array.isArray(res.conflicts)) {
        throw new RxdbStoreError(
          'sync_protocol',
          'The sync store answered a push without a conflict list.',
        );
      }
      return res.conflicts as StoredWireDoc[];
    },

    async *stream(collection, signal, onOpen) {
      const res = await open(
        'GET',
        url(collection, 'stream'),
        undefined,
        signal,
        'text/event-stream',
      );
      if (res.statusCode !== 200) {
        const text = await readAll(res);
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        throw httpError(res.statusCode ?? 0, parsed);
      }
      res.setTimeout(streamIdleMs, () =>
        res.destroy(new RxdbStoreError('sync_http', 'The change stream went silent.')),
      );
      onOpen();
      try {
        for await (const data of serverSentEvents(res)) yield asPullResult(JSON.parse(data));
      } catch (err) {
        if (signal.aborted) return;
        throw err instanceof RxdbStoreError
          ? err
          : new RxdbStoreError(
              'sync_http',
              `The sync store's change stream broke off: ${(err as Error).message}`,
            );
      } finally {
        res.destroy();
      }
    },
  };
}

/** Splits a text/event-stream body into the `data` payload of each event; comments are skipped. */
async function* serverSentEvents(body: AsyncIterable<Buffer | string>): AsyncIterable<string> {
  let buffer = '';
  let data: string[] = [];
  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length > 0) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(5).replace(/^ /, ''));
      }
    }
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', (err) =>
      reject(new RxdbStoreError('sync_http', `The sync store's answer broke off: ${err.message}`)),
    );
  });
}

function httpError(status: number, body: unknown): RxdbStoreError {
  const detail = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const message = typeof detail?.message === 'string' ? detail.message : `HTTP ${status}`;
  const code =
    status === 401 || status === 403
      ? 'sync_unauthorized'
      : status === 413
        ? 'too_large'
        : 'sync_http';
  return new RxdbStoreError(code, `The sync store refused the request: ${message}`);
}

function asPullResult(value: unknown): PullResult {
  const v = value as PullResult;
  if (typeof v !== 'object' || v === null || !Array.isArray(v.documents)) {
    throw new RxdbStoreError(
      'sync_protocol',
      'The sync store sent changes in an unexpected shape.',
    );
  }
  return { documents: v.documents, checkpoint: v.checkpoint ?? null };
}
