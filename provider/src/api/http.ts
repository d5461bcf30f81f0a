/**
 * A small HTTP layer: routes matched by method and path pattern, bounded body reading,
 * JSON or form bodies (LEAP clients send `user[login]=...` forms), and one error shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProviderError } from '../errors.js';

export interface Request {
  method: string;
  path: string;
  query: URLSearchParams;
  params: string[];
  headers: IncomingMessage['headers'];
  remoteAddress: string;
  raw: IncomingMessage;
  /** Reads and parses the body (JSON or form), at most `limit` bytes (413 beyond). */
  body(limit?: number): Promise<Record<string, unknown>>;
}

export type Reply =
  | { status?: number; json: unknown; headers?: Record<string, string> }
  | { status?: number; bytes: Buffer | string; type: string; headers?: Record<string, string> }
  /** The handler wrote the response itself (event streams). */
  | { streamed: true };

export type Handler = (req: Request, res: ServerResponse) => Promise<Reply>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

export const DEFAULT_BODY_LIMIT = 64 * 1024;

export class Router {
  private routes: Route[] = [];

  /** `onInternalError` hears about failures that are not a ProviderError (bugs, I/O): the
   * client gets a generic 500, the log gets the detail. */
  constructor(
    private readonly onInternalError: (
      err: unknown,
      method: string,
      path: string,
    ) => void = () => {},
  ) {}

  add(method: string, pattern: RegExp, handler: Handler): this {
    this.routes.push({ method, pattern, handler });
    return this;
  }

  /** The request listener for node:http(s). */
  listener() {
    return (req: IncomingMessage, res: ServerResponse) => {
      this.dispatch(req, res).catch((err) => {
        if (!(err instanceof ProviderError)) {
          this.onInternalError(err, req.method ?? '', (req.url ?? '').split('?')[0] ?? '');
        }
        sendError(res, err);
      });
    };
  }

  private async dispatch(raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(raw.url ?? '/', 'https://provider.invalid');
    const method = raw.method ?? 'GET';
    let pathMatched = false;
    for (const route of this.routes) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      const req: Request = {
        method,
        path: url.pathname,
        query: url.searchParams,
        params: match.slice(1).map((p) => decodeURIComponent(p ?? '')),
        headers: raw.headers,
        remoteAddress: raw.socket.remoteAddress ?? '',
        raw,
        body: (limit = DEFAULT_BODY_LIMIT) => readBody(raw, limit),
      };
      const reply = await route.handler(req, res);
      send(res, reply);
      return;
    }
    throw pathMatched
      ? new ProviderError('method_not_allowed', `${method} is not allowed on ${url.pathname}`, 405)
      : new ProviderError('not_found', `Nothing at ${url.pathname}`, 404);
  }
}

function send(res: ServerResponse, reply: Reply): void {
  if ('streamed' in reply) return;
  const status = reply.status ?? 200;
  if ('json' in reply) {
    const text = JSON.stringify(reply.json);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...reply.headers,
    });
    res.end(text);
    return;
  }
  res.writeHead(status, {
    'content-type': reply.type,
    'content-length': Buffer.byteLength(reply.bytes),
    ...reply.headers,
  });
  res.end(reply.bytes);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e =
    err instanceof ProviderError
      ? err
      : new ProviderError('internal', 'The provider could not handle this request', 500);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // The request body may not have been read (413, early 401); closing the connection
  // keeps an unread upload from being taken as the next request.
  const text = JSON.stringify({ error: { code: e.code, message: e.message } });
  res.writeHead(e.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    connection: 'close',
    ...e.headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('application/x-www-form-urlencoded')) return parseForm(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ProviderError('bad_request', 'The request body is not valid JSON', 400);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProviderError('bad_request', 'The request body must be a JSON object', 400);
  }
  return parsed as Record<string, unknown>;
}

function tooLarge(limit: number): ProviderError {
  return new ProviderError('too_large', `The request body is larger than ${limit} bytes`, 413);
}

/** `user[login]=a&A=b` → `{user: {login: 'a'}, A: 'b'}` (one level of nesting, as LEAP sends). */
export function parseForm(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const nested = /^([^[\]]+)\[([^[\]]+)\]$/.exec(key);
    if (nested) {
      const outer = nested[1] as string;
      const inner = (out[outer] ??= {}) as Record<string, unknown>;
      if (typeof inner === 'object') inner[nested[2] as string] = value;
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Reads a required string field. */
export function str(obj: unknown, field: string, max = 4096): string {
  const value = (obj as Record<string, unknown> | undefined)?.[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw new ProviderError('bad_request', `Field "${field}" is missing or not a string`, 400);
  }
  if (value.length > max)
    throw new ProviderError('bad_request', `Field "${field}" is too long`, 400);
  return value;
}

export function obj(value: unknown, field: string): Record<string, unknown> {
  const inner = (value as Record<string, unknown> | undefined)?.[field];
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) {
    throw new ProviderError('bad_request', `Field "${field}" must be an object`, 400);
  }
  return inner as Record<string, unknown>;
}
