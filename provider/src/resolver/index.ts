/**
 * Where other providers are. Production would use DNS (MX records, `api.<domain>`); tests
 * and local demos use a map from domain to loopback host:port, so two providers on
 * 127.0.0.2 and 127.0.0.3 exchange mail and keys without DNS.
 */
import { request } from 'node:https';
import { fingerprintOf } from '../ca/index.js';
import { ProviderError } from '../errors.js';

export { LEAP_TXT_LABEL, leapRecord, parseLeapRecord, type LeapAnnouncement } from './leap.js';

export interface PeerProvider {
  /** `host:port` of the peer's HTTPS API. */
  api?: string;
  /** `host:port` of a WKD server for the domain (providers that are not LEAP providers). */
  wkd?: string;
  /** `host:port` of the peer's MX (plain SMTP; STARTTLS used when offered). */
  mx?: string;
  /** Pins the peer's CA (`SHA256: <hex>`). Without it the CA fetched from the peer on first
   * contact is trusted (trust on first use): acceptable in a test map, not in production. */
  caFingerprint?: string;
}

export type ResolverMap = Record<string, PeerProvider>;

export function splitHostPort(value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new ProviderError('bad_config', `"${value}" is not host:port`, 500);
  }
  return { host: value.slice(0, i), port };
}

interface Fetched {
  status: number;
  body: Buffer;
}

function get(
  target: { host: string; port: number },
  servername: string,
  path: string,
  ca: string | null,
  timeoutMs: number,
): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        path,
        method: 'GET',
        servername,
        ...(ca ? { ca } : { rejectUnauthorized: false }),
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 1024 * 1024) req.destroy(new Error('response too large'));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export class Resolver {
  private cas = new Map<string, string>();

  constructor(
    private readonly map: ResolverMap,
    private readonly timeoutMs = 5000,
  ) {}

  peer(domain: string): PeerProvider | undefined {
    return this.map[domain.toLowerCase()];
  }

  mxFor(domain: string): { host: string; port: number } | null {
    const mx = this.peer(domain)?.mx;
    return mx ? splitHostPort(mx) : null;
  }

  /** GET on a peer's API (or its WKD server) over TLS that trusts only that peer's CA. */
  async peerGet(domain: string, service: 'api' | 'wkd', path: string): Promise<Fetched> {
    const address = this.peer(domain)?.[service];
    if (!address)
      throw new ProviderError('unknown_domain', `No ${service} server is known for ${domain}`, 404);
    const target = splitHostPort(address);
    const ca = await this.peerCa(domain, target);
    return get(target, domain, path, ca, this.timeoutMs);
  }

  private async peerCa(domain: string, target: { host: string; port: number }): Promise<string> {
    const known = this.cas.get(domain);
    if (known) return known;
    const res = await get(target, domain, '/ca.crt', null, this.timeoutMs);
    const pem = res.body.toString('utf8');
    if (res.status !== 200 || !pem.includes('BEGIN CERTIFICATE')) {
      throw new ProviderError(
        'peer_unavailable',
        `${domain} did not provide its CA certificate`,
        502,
      );
    }
    const pinned = this.peer(domain)?.caFingerprint;
    if (pinned && normaliseFingerprint(fingerprintOf(pem)) !== normaliseFingerprint(pinned)) {
      throw new ProviderError(
        'peer_untrusted',
        `${domain} presented a CA that does not match its pin`,
        502,
      );
    }
    this.cas.set(domain, pem);
    return pem;
  }
}

export function normaliseFingerprint(value: string): string {
  return value
    .replace(/^SHA256:/i, '')
    .replace(/[\s:]/g, '')
    .toLowerCase();
}
