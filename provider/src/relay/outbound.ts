/**
 * Relays a message to another domain's MX, found in DNS (or in the resolver map, which
 * overrides DNS for tests and demos), with the strongest TLS the destination publishes:
 *
 * 1. DANE (RFC 7672): the MX RRset, the host's addresses and its TLSA RRset are validated
 *    (AD bit) and a TLSA record is usable: STARTTLS is required and the certificate must
 *    match. A TLSA lookup that fails (or is bogus) means no delivery to that host.
 * 2. MTA-STS (RFC 8461) `enforce`: the MX must be named by the policy, STARTTLS is required
 *    and the certificate must be valid (system CAs + configured ones) for the MX name.
 * 3. A domain announcing LEAP (validated `_leap` TXT) without either gets nothing.
 * 4. Otherwise opportunistic STARTTLS, as between MTAs today ("none" when not offered).
 *
 * Every failure that may heal (DNS, TLS, a refused certificate, a 4xx) is a 451 to the
 * submitting client, whose outbox retries; never a downgrade to weaker protection.
 */
import type { Logger } from '../../../native-host/src/log/index.js';
import type { DnsClient } from '../dns/index.js';
import { smtpError } from '../mx/index.js';
import type { Resolver } from '../resolver/index.js';
import { hostAddresses, mailHosts } from './discover.js';
import type { StsCache } from './mta-sts-fetch.js';
import { DeliveryPolicy, opportunistic } from './policy.js';
import { SmtpFailure, deliverSmtp, type TlsRequirement } from './smtp-client.js';

export type { Protection } from './policy.js';

export interface DnsDeliveryOptions {
  /** The validating resolver, `ip:port`; its AD bit is trusted (run it on the host). */
  resolver: string;
  /** SMTP port of MX hosts found in DNS: 25 on the internet; another for tests and demos. */
  smtpPort?: number;
  /** HTTPS port of MTA-STS policy servers and LEAP peers' APIs: 443 on the internet;
   * another for tests and demos. */
  httpsPort?: number;
  /** CAs (PEM) trusted besides the system's for MTA-STS and ordinary domains' WKD servers
   * (tests' private CAs). */
  trustedCa?: string[];
  timeoutMs?: number;
}

export interface OutboundConfig {
  resolver: Resolver;
  dns: DnsClient | null;
  smtpPort: number;
  sts: StsCache | null;
  trustedCa: string[];
  helo: string;
  log: Logger;
  timeoutMs: number;
}

function failureReply(domain: string, err: unknown): Error {
  if (err instanceof SmtpFailure && err.code !== null && err.code >= 500)
    return smtpError(`5.0.0 ${domain} did not accept the message: ${err.message}`, 550);
  return smtpError(`4.4.1 ${domain}: ${(err as Error).message}, will retry`, 451);
}

async function sendTo(
  c: OutboundConfig,
  target: { host: string; port: number; name: string },
  tls: TlsRequirement,
  from: string,
  to: string[],
  raw: Buffer,
) {
  return deliverSmtp({
    host: target.host,
    port: target.port,
    helo: c.helo,
    from,
    to,
    raw,
    tls,
    timeoutMs: c.timeoutMs,
  });
}

export async function relayToDomain(
  c: OutboundConfig,
  domain: string,
  from: string,
  to: string[],
  raw: Buffer,
): Promise<void> {
  const mapped = c.resolver.mxFor(domain);
  if (mapped) {
    // The map (tests, demos) names the MX directly: opportunistic TLS, as before DNS.
    try {
      const r = await sendTo(c, { ...mapped, name: domain }, opportunistic(domain), from, to, raw);
      c.log.info('relay_delivered', {
        domain,
        mx: `${mapped.host}:${mapped.port}`,
        protection: r.tls ? 'opportunistic' : 'none',
        via: 'map',
      });
      return;
    } catch (err) {
      c.log.warn('relay_failed', {
        domain,
        mx: `${mapped.host}:${mapped.port}`,
        reason: (err as Error).message,
      });
      throw failureReply(domain, err);
    }
  }
  if (!c.dns) throw smtpError(`5.1.2 No mail server is known for ${domain}`, 550);
  const dns = c.dns;
  const delivery = new DeliveryPolicy({ ...c, dns }, domain);
  let lastError: unknown = new Error('no usable mail server');
  for (const host of await mailHosts(dns, domain)) {
    const addresses = await hostAddresses(dns, host.name);
    if (addresses.addresses.length === 0) {
      lastError = new Error(`${host.name} has no address (${addresses.detail})`);
      continue;
    }
    const plan = await delivery.plan(host, addresses.secure);
    if ('refused' in plan) {
      c.log.warn('relay_refused', {
        domain,
        mx: host.name,
        required: plan.required,
        reason: plan.refused,
      });
      lastError = new Error(plan.refused);
      continue;
    }
    for (const address of addresses.addresses) {
      try {
        const r = await sendTo(
          c,
          { host: address, port: c.smtpPort, name: host.name },
          plan.tls,
          from,
          to,
          raw,
        );
        const protection = plan.protection === 'opportunistic' && !r.tls ? 'none' : plan.protection;
        c.log.info('relay_delivered', { domain, mx: host.name, address, protection });
        return;
      } catch (err) {
        c.log.warn('relay_failed', {
          domain,
          mx: host.name,
          address,
          required: plan.protection,
          reason: (err as Error).message,
        });
        // The server itself refused the message for good: no other MX will think otherwise.
        if (err instanceof SmtpFailure && err.code !== null && err.code >= 500)
          throw failureReply(domain, err);
        lastError = err;
      }
    }
  }
  throw failureReply(domain, lastError);
}
