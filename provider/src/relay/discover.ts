/**
 * Where a domain's mail goes, from DNS (RFC 5321 section 5.1): MX records by preference
 * (equal preferences in random order), no MX = the domain itself (implicit MX), `MX 0 .` =
 * the domain takes no mail (RFC 7505). A temporary DNS failure (timeout, SERVFAIL, which is
 * also what a validating resolver answers for a bogus answer) is a temporary SMTP failure,
 * never "no such domain": the sender's outbox tries again.
 */
import type { DnsClient, DnsResult, MxRecord } from '../dns/index.js';
import { smtpError } from '../mx/index.js';

export interface MailHost {
  name: string;
  preference: number;
  /** The MX RRset was DNSSEC-validated (or the implicit MX's lookup was). */
  mxSecure: boolean;
}

export interface HostAddresses {
  addresses: string[];
  /** Every address lookup that answered was validated. */
  secure: boolean;
  /** Both lookups failed temporarily (not just "no addresses"). */
  failed: boolean;
  detail: string;
}

function temporary(r: DnsResult): boolean {
  return r.status === 'servfail' || r.status === 'timeout' || r.status === 'error';
}

/** Orders MX records and detects null MX; pure, `random` for the tie-break. */
export function orderMx(
  records: MxRecord[],
  secure: boolean,
  domain: string,
  random: () => number = Math.random,
): MailHost[] | 'null-mx' {
  if (records.some((r) => r.exchange === '' || r.exchange === '.')) return 'null-mx';
  return records
    .map((r) => ({ r, tie: random() }))
    .sort((a, b) => a.r.preference - b.r.preference || a.tie - b.tie)
    .map(({ r }) => ({
      name: r.exchange.toLowerCase().replace(/\.$/, '') || domain,
      preference: r.preference,
      mxSecure: secure,
    }));
}

export async function mailHosts(dns: DnsClient, domain: string): Promise<MailHost[]> {
  const mx = await dns.lookup(domain, 'MX');
  if (temporary(mx))
    throw smtpError(`4.4.3 DNS lookup of ${domain} MX failed (${mx.detail}), will retry`, 451);
  if (mx.status === 'nxdomain') throw smtpError(`5.1.2 The domain ${domain} does not exist`, 550);
  if (mx.status === 'nodata') return [{ name: domain, preference: 0, mxSecure: mx.secure }];
  const hosts = orderMx(mx.records, mx.secure, domain);
  if (hosts === 'null-mx') throw smtpError(`5.1.10 ${domain} does not accept mail (null MX)`, 556);
  return hosts;
}

export async function hostAddresses(dns: DnsClient, name: string): Promise<HostAddresses> {
  const [a, aaaa] = await Promise.all([dns.lookup(name, 'A'), dns.lookup(name, 'AAAA')]);
  const answered = [a, aaaa].filter((r) => !temporary(r));
  return {
    addresses: [...a.records, ...aaaa.records],
    secure: answered.length === 2 && answered.every((r) => r.secure),
    failed: answered.length === 0,
    detail: [a, aaaa].map((r) => r.detail).join('/'),
  };
}
