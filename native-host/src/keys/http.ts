/**
 * HTTPS GET for key discovery, through a resolver: production connects to the host named in
 * the URL; tests (and demos) map host names to loopback servers and their CAs, keeping the
 * host name as TLS server name so certificates are checked exactly as they would be.
 */
import { request } from 'node:https';
import { keyFail, keyOk, type KeyResult } from './errors.js';

export interface Endpoint {
  /** Where to connect instead, e.g. `https://127.0.0.1:40123`. */
  origin: string;
  /** CA certificate (PEM) that signs this endpoint's certificate; system CAs when absent. */
  ca?: string;
}

export type Resolver = (host: string) => Endpoint | undefined;

/** The resolver of production: every host is reached as named, with the system CAs. */
export const systemResolver: Resolver = () => undefined;

export function mapResolver(map: Record<string, Endpoint>): Resolver {
  const lower = new Map(
    Object.entries(map).map(([host, endpoint]) => [host.toLowerCase(), endpoint]),
  );
  return (host) => lower.get(host.toLowerCase());
}

export interface HttpResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

export interface GetOptions {
  /** A pinned CA (PEM): when given, only it is trusted, whatever the resolver says. */
  ca?: string;
  timeoutMs?: number;
  maxBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;

const MAX_REDIRECTS = 3;

/**
 * GET over HTTPS, following up to three redirects to other HTTPS URLs (WKD servers often
 * send the direct method to a www host). A pinned CA stays pinned across redirects.
 */
export async function httpsGet(
  url: string,
  resolver: Resolver,
  options: GetOptions = {},
): Promise<KeyResult<HttpResponse & { url: string }>> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await getOnce(current, resolver, options);
    if (!res.ok) return res;
    const location = res.value.location;
    if (![301, 302, 303, 307, 308].includes(res.value.status) || !location) {
      return keyOk({ ...res.value, url: current });
    }
    if (hop >= MAX_REDIRECTS) return keyFail('network', `${url} redirects too often.`);
    current = new URL(location, current).toString();
  }
}

function getOnce(
  url: string,
  resolver: Resolver,
  options: GetOptions,
): Promise<KeyResult<HttpResponse & { location: string | null }>> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(keyFail('invalid_response', `"${url}" is not a URL.`));
  }
  if (target.protocol !== 'https:')
    return Promise.resolve(keyFail('network', `Keys are fetched over HTTPS only (${url}).`));
  const endpoint = resolver(target.hostname);
  const connect = endpoint ? new URL(endpoint.origin) : target;
  const ca = options.ca ?? endpoint?.ca;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise((resolve) => {
    const req = request(
      {
        host: connect.hostname,
        port: connect.port || 443,
        path: target.pathname + target.search,
        method: 'GET',
        servername: target.hostname,
        headers: { host: target.host, accept: '*/*' },
        ...(ca ? { ca } : {}),
        timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes)
            req.destroy(new Error(`the answer is larger than ${maxBytes} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () =>
          resolve(
            keyOk({
              status: res.statusCode ?? 0,
              contentType: String(res.headers['content-type'] ?? ''),
              body: Buffer.concat(chunks),
              location: res.headers.location ?? null,
            }),
          ),
        );
        res.on('error', (error) =>
          resolve(keyFail('network', `${target.host} broke off: ${error.message}`)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in time')));
    req.on('error', (error) =>
      resolve(keyFail('network', `${target.host} could not be reached: ${error.message}`)),
    );
    req.end();
  });
}
