/**
 * HTTPS GET for key discovery, through a resolver: production connects to the host named in
 * the URL; tests (and demos) map host names to loopback servers and their CAs, keeping the
 * host name as TLS server name so certificates are checked exactly as they would be.
 */
import { httpsRequest, NetError, type Resolver } from '../net/index.js';
import { keyFail, keyOk, type KeyResult } from './errors.js';

export { mapResolver, systemResolver, type Endpoint, type Resolver } from '../net/index.js';

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

async function getOnce(
  url: string,
  resolver: Resolver,
  options: GetOptions,
): Promise<KeyResult<HttpResponse & { location: string | null }>> {
  if (!/^https:/i.test(url) && URL.canParse(url))
    return keyFail('network', `Keys are fetched over HTTPS only (${url}).`);
  try {
    const res = await httpsRequest({
      url,
      resolver,
      ...(options.ca ? { ca: options.ca } : {}),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    });
    const location = res.headers.location;
    return keyOk({
      status: res.status,
      contentType: String(res.headers['content-type'] ?? ''),
      body: res.body,
      location: typeof location === 'string' ? location : null,
    });
  } catch (error) {
    if (error instanceof NetError && error.code === 'bad_url')
      return keyFail('invalid_response', `"${url}" is not a URL.`);
    return keyFail('network', (error as Error).message);
  }
}
