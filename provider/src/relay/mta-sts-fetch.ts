/**
 * Fetches and caches MTA-STS policies (RFC 8461 section 3.3): over HTTPS from
 * `mta-sts.<domain>`, certificate checked against the system's CAs plus the configured
 * ones, no redirects, kept for the policy's max_age. A cached policy outlives a missing TXT
 * record or a failed fetch: that is what stops an attacker from removing it.
 */
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { DnsClient } from '../dns/index.js';
import { parseStsPolicy, parseStsRecord, type StsPolicy } from './mta-sts.js';

export interface StsFetchConfig {
  dns: DnsClient;
  /** 443 on the internet; tests and demos serve the policy on another port. */
  httpsPort: number;
  /** Extra CAs (PEM) trusted for MTA-STS policy servers and MX certificates. */
  trustedCa: string[];
  timeoutMs: number;
  now: () => number;
}

export type StsLookup = { policy: StsPolicy } | { policy: null; detail: string };

function fetchPolicy(c: StsFetchConfig, domain: string, address: string): Promise<string> {
  const servername = `mta-sts.${domain}`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: address,
        port: c.httpsPort,
        servername,
        path: '/.well-known/mta-sts.txt',
        method: 'GET',
        headers: { host: servername },
        ca: [...rootCertificates, ...c.trustedCa],
        timeout: c.timeoutMs,
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`policy server answered ${res.statusCode}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          // RFC 8461 section 3.3: policies are small; 64 KiB is the suggested bound.
          if (size > 64 * 1024) req.destroy(new Error('policy too large'));
          else chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('policy fetch timed out')));
    req.on('error', reject);
    req.end();
  });
}

export class StsCache {
  private cache = new Map<string, { policy: StsPolicy; expires: number }>();

  constructor(private readonly c: StsFetchConfig) {}

  async lookup(domain: string): Promise<StsLookup> {
    const cached = this.cache.get(domain);
    const valid = cached && cached.expires > this.c.now() ? cached.policy : null;
    const txt = await this.c.dns.lookup(`_mta-sts.${domain}`, 'TXT');
    const ids = txt.records.map(parseStsRecord).filter((id): id is string => id !== null);
    if (ids.length !== 1) {
      return valid ? { policy: valid } : { policy: null, detail: 'no MTA-STS record' };
    }
    const id = ids[0] as string;
    if (valid && valid.id === id) return { policy: valid };
    try {
      const host = await this.c.dns.lookup(`mta-sts.${domain}`, 'A');
      const address = host.records[0];
      if (!address) throw new Error(`mta-sts.${domain} has no address (${host.detail})`);
      const parsed = parseStsPolicy(await fetchPolicy(this.c, domain, address), id);
      if (typeof parsed === 'string') throw new Error(parsed);
      this.cache.set(domain, {
        policy: parsed,
        expires: this.c.now() + parsed.maxAgeSeconds * 1000,
      });
      return { policy: parsed };
    } catch (err) {
      if (valid) return { policy: valid };
      return { policy: null, detail: `MTA-STS policy unavailable: ${(err as Error).message}` };
    }
  }
}
