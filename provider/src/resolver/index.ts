/**
 * Where other providers are: in DNS (a validated `_leap` announcement names the API host,
 * whose TLS certificate must match its DNSSEC-validated TLSA record), or in a map from
 * domain to loopback host:port for tests and local demos, which overrides DNS, so two
 * providers on 127.0.0.2 and 127.0.0.3 exchange mail and keys without DNS.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { connect as tlsConnect, rootCertificates, type TLSSocket } from 'node:tls';
import { checkDane, peerChain, usableTlsa, type DnsClient, type TlsaRecord } from '../dns/index.js';
import { LEAP_TXT_LABEL, parseLeapRecord } from './leap.js';
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
  /** Found in DNS: the API's TLS name and its validated TLSA records (DANE replaces the CA). */
  apiName?: string;
  apiTlsa?: TlsaRecord[];
  /** Found in DNS, not a LEAP provider: WKD's direct method at the domain, checked against
   * the public CAs (plus the configured ones), as any HTTPS client would. */
  wkdWebPki?: boolean;
}

/** Discovery of LEAP peers in DNS. */
export interface PeerDiscovery {
  dns: DnsClient;
  /** HTTPS port of peers' APIs: 443 on the internet, another for tests and demos. */
  httpsPort: number;
  /** CAs (PEM) trusted besides the system's for WKD servers of ordinary domains. */
  trustedCa: string[];
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

/** A TLS connection whose certificate matched the peer's TLSA records; nothing is sent on
 * it before that check. */
function daneConnection(
  target: { host: string; port: number },
  servername: string,
  tlsa: TlsaRecord[],
  timeoutMs: number,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: target.host,
      port: target.port,
      servername,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    });
    const timer = setTimeout(() => socket.destroy(new Error('timed out')), timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const result = checkDane(tlsa, peerChain(socket), servername);
      if (result.ok) return resolve(socket);
      socket.destroy();
      reject(new ProviderError('peer_untrusted', `${servername}: ${result.reason} (DANE)`, 502));
    });
  });
}

function get(
  target: { host: string; port: number },
  servername: string,
  path: string,
  ca: string | string[] | null | TLSSocket,
  timeoutMs: number,
): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const verified = ca !== null && typeof ca !== 'string' && !Array.isArray(ca) ? ca : null;
    const pem = typeof ca === 'string' || Array.isArray(ca) ? ca : null;
    const common = {
      host: target.host,
      port: target.port,
      path,
      method: 'GET',
      timeout: timeoutMs,
    };
    const onResponse = (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 1024 * 1024) req.destroy(new Error('response too large'));
        else chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    };
    // Over a DANE-checked socket the request is plain HTTP on it; otherwise HTTPS with the CA.
    const req = verified
      ? httpRequest(
          { ...common, headers: { host: servername }, createConnection: () => verified },
          onResponse,
        )
      : request(
          { ...common, servername, ...(pem ? { ca: pem } : { rejectUnauthorized: false }) },
          onResponse,
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
    private readonly discovery: PeerDiscovery | null = null,
  ) {}

  peer(domain: string): PeerProvider | undefined {
    return this.map[domain.toLowerCase()];
  }

  /**
   * The map's entry, else a LEAP provider found in DNS: a validated `_leap` announcement,
   * the API host's validated address and TLSA records. A LEAP peer without them is refused
   * (validated TLS is required between LEAP providers); a domain that announces nothing is
   * an ordinary domain, asked by WKD at its own address (undefined without one). DNS
   * failures are errors, never "not a provider".
   */
  async discover(domain: string): Promise<PeerProvider | undefined> {
    const mapped = this.peer(domain);
    if (mapped || !this.discovery) return mapped;
    const { dns, httpsPort } = this.discovery;
    const unavailable = (what: string) =>
      new ProviderError('peer_unavailable', `DNS lookup for ${domain} failed (${what})`, 502);
    const txt = await dns.lookup(`${LEAP_TXT_LABEL}.${domain}`, 'TXT');
    if (txt.status === 'servfail' || txt.status === 'timeout') throw unavailable(txt.detail);
    const announced = txt.secure
      ? txt.records.map(parseLeapRecord).find((a) => a !== null)
      : undefined;
    if (!announced) return this.wkdOf(domain);
    const apiName = (announced.api ?? `api.${domain}`).toLowerCase();
    const untrusted = (why: string) =>
      new ProviderError('peer_untrusted', `${domain} is a LEAP provider but ${why}`, 502);
    const address = await dns.lookup(apiName, 'A');
    if (address.status === 'servfail' || address.status === 'timeout')
      throw unavailable(address.detail);
    if (!address.secure || !address.records[0])
      throw untrusted(`${apiName} has no validated address`);
    const tlsa = await dns.lookup(`_${httpsPort}._tcp.${apiName}`, 'TLSA');
    if (tlsa.status === 'servfail' || tlsa.status === 'timeout') throw unavailable(tlsa.detail);
    const usable = tlsa.secure ? usableTlsa(tlsa.records) : [];
    if (usable.length === 0) throw untrusted(`${apiName} has no validated TLSA record`);
    return { api: `${address.records[0]}:${httpsPort}`, apiName, apiTlsa: usable };
  }

  mxFor(domain: string): { host: string; port: number } | null {
    const mx = this.peer(domain)?.mx;
    return mx ? splitHostPort(mx) : null;
  }

  /** An ordinary domain's WKD server (direct method: the domain's own address). */
  private async wkdOf(domain: string): Promise<PeerProvider | undefined> {
    const { dns, httpsPort } = this.discovery as PeerDiscovery;
    const address = await dns.lookup(domain, 'A');
    if (address.status === 'servfail' || address.status === 'timeout')
      throw new ProviderError(
        'peer_unavailable',
        `DNS lookup for ${domain} failed (${address.detail})`,
        502,
      );
    const ip = address.records[0];
    return ip ? { wkd: `${ip}:${httpsPort}`, wkdWebPki: true } : undefined;
  }

  /** GET on a peer's API (or its WKD server) over TLS that trusts only that peer's CA. */
  async peerGet(domain: string, service: 'api' | 'wkd', path: string): Promise<Fetched> {
    const peer = await this.discover(domain);
    const address = peer?.[service];
    if (!address)
      throw new ProviderError('unknown_domain', `No ${service} server is known for ${domain}`, 404);
    const target = splitHostPort(address);
    if (service === 'api' && peer?.apiTlsa && peer.apiName) {
      const socket = await daneConnection(target, peer.apiName, peer.apiTlsa, this.timeoutMs);
      return get(target, peer.apiName, path, socket, this.timeoutMs);
    }
    if (service === 'wkd' && peer?.wkdWebPki) {
      const cas = [...rootCertificates, ...(this.discovery?.trustedCa ?? [])];
      return get(target, domain, path, cas, this.timeoutMs);
    }
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
