/**
 * HTTPS for everything the host asks of the outside world, through a resolver: production
 * connects to the host named in the URL; tests and demos map names to loopback servers,
 * keeping the name as TLS server name so certificates are checked exactly as in production.
 * A pinned CA, when given, is the only one trusted.
 */
import { request } from 'node:https';
import { createServer } from 'node:net';

export interface Endpoint {
  /** Where to connect instead, e.g. `https://127.0.0.2:40123`. */
  origin: string;
  /** CA certificate (PEM) for this endpoint when nothing is pinned (tests' private CAs). */
  ca?: string;
}

export type Resolver = (host: string) => Endpoint | undefined;

/** Production: every host is reached as named. */
export const systemResolver: Resolver = () => undefined;

export function mapResolver(map: Record<string, Endpoint>): Resolver {
  const lower = new Map(Object.entries(map).map(([h, e]) => [h.toLowerCase(), e]));
  return (host) => lower.get(host.toLowerCase());
}

export interface HttpsRequest {
  url: string;
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  /** Sent as JSON. */
  json?: unknown;
  resolver?: Resolver;
  /** Trust only this CA (PEM). */
  ca?: string;
  /** First contact with a provider (LEAP): fetch without verifying, then check a fingerprint. */
  insecureNoVerify?: boolean;
  timeoutMs?: number;
  maxBytes?: number;
}

export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type NetErrorCode =
  'unreachable' | 'certificate_mismatch' | 'timeout' | 'too_large' | 'bad_url';

export class NetError extends Error {
  constructor(
    readonly code: NetErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'NetError';
  }
}

const CERT_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function isCertificateError(error: unknown): boolean {
  return CERT_ERRORS.has(String((error as { code?: unknown })?.code));
}

export function httpsRequest(options: HttpsRequest): Promise<HttpsResponse> {
  let target: URL;
  try {
    target = new URL(options.url);
  } catch {
    return Promise.reject(new NetError('bad_url', `"${options.url}" is not a URL.`));
  }
  if (target.protocol !== 'https:') {
    return Promise.reject(new NetError('bad_url', `Only HTTPS is used (${options.url}).`));
  }
  const endpoint = options.resolver?.(target.hostname);
  const connect = endpoint ? new URL(endpoint.origin) : target;
  const ca = options.ca ?? endpoint?.ca;
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  const body = options.json === undefined ? undefined : Buffer.from(JSON.stringify(options.json));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: connect.hostname,
        port: connect.port || 443,
        path: target.pathname + target.search,
        method: options.method ?? 'GET',
        servername: target.hostname,
        headers: {
          host: target.host,
          accept: 'application/json, */*',
          ...(body
            ? { 'content-type': 'application/json', 'content-length': String(body.length) }
            : {}),
          ...options.headers,
        },
        ...(ca ? { ca } : {}),
        rejectUnauthorized: !options.insecureNoVerify,
        timeout: options.timeoutMs ?? 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes)
            req.destroy(
              new NetError('too_large', `${target.host} sent more than ${maxBytes} bytes.`),
            );
          else chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', (error) => reject(describe(error, target)));
      },
    );
    req.on('timeout', () =>
      req.destroy(new NetError('timeout', `${target.host} did not answer in time.`)),
    );
    req.on('error', (error) => reject(describe(error, target)));
    req.end(body);
  });
}

function describe(error: Error, target: URL): NetError {
  if (error instanceof NetError) return error;
  if (isCertificateError(error)) {
    return new NetError(
      'certificate_mismatch',
      `${target.hostname} presented a certificate that its pinned certificate authority did not sign. Someone may be intercepting the connection, so LeapBird refused it.`,
      `${(error as { code?: string }).code}: ${error.message}`,
    );
  }
  return new NetError('unreachable', `${target.hostname} could not be reached (${error.message}).`);
}

/** Asks the OS for a currently free TCP port on `host`, for servers whose port must be known
 * (and kept) before they start: Dovecot's configuration, Thunderbird's account settings. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
