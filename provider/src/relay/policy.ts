/**
 * Which TLS a delivery to one MX host needs (see outbound.ts for the order: DANE, MTA-STS
 * enforce, LEAP peers refused without either, opportunistic), as a requirement the SMTP
 * client checks before it sends anything. One instance per delivery to a domain, so the
 * MTA-STS policy and the LEAP announcement are looked up once.
 */
import type { X509Certificate } from 'node:crypto';
import { checkServerIdentity, rootCertificates, type TLSSocket } from 'node:tls';
import type { Logger } from '../../../native-host/src/log/index.js';
import { checkDane, usableTlsa, type DnsClient } from '../dns/index.js';
import { LEAP_TXT_LABEL, parseLeapRecord } from '../resolver/index.js';
import type { MailHost } from './discover.js';
import { mxAllowed, type StsPolicy } from './mta-sts.js';
import type { StsCache } from './mta-sts-fetch.js';
import type { TlsRequirement } from './smtp-client.js';

export type Protection = 'dane' | 'mta-sts' | 'opportunistic' | 'none';

export interface PolicyConfig {
  dns: DnsClient;
  smtpPort: number;
  sts: StsCache | null;
  trustedCa: string[];
  log: Logger;
}

type HostPlan =
  | { protection: Protection; tls: TlsRequirement; required: Protection }
  | { refused: string; required: Protection };

export const opportunistic = (servername: string): TlsRequirement => ({
  required: false,
  servername,
  verify: () => null,
});

function daneRequirement(records: Parameters<typeof checkDane>[0], name: string): TlsRequirement {
  return {
    required: true,
    servername: name,
    verify: (_s: TLSSocket, chain: X509Certificate[]) => {
      const result = checkDane(records, chain, name);
      return result.ok ? null : `DANE: ${result.reason}`;
    },
  };
}

function stsRequirement(name: string, ca: string[]): TlsRequirement {
  return {
    required: true,
    servername: name,
    ca,
    verify: (socket) => {
      if (!socket.authorized)
        return `MTA-STS: certificate not trusted (${String(socket.authorizationError)})`;
      const wrongName = checkServerIdentity(name, socket.getPeerCertificate());
      return wrongName ? `MTA-STS: ${wrongName.message}` : null;
    },
  };
}

export class DeliveryPolicy {
  private sts: Promise<StsPolicy | null> | null = null;
  private leap: Promise<'leap' | 'not-leap' | 'unknown'> | null = null;

  constructor(
    private readonly c: PolicyConfig,
    private readonly domain: string,
  ) {}

  private stsPolicy(): Promise<StsPolicy | null> {
    this.sts ??= this.c.sts
      ? this.c.sts.lookup(this.domain).then((r) => {
          if (!r.policy) return null;
          return r.policy.mode === 'none' ? null : r.policy;
        })
      : Promise.resolve(null);
    return this.sts;
  }

  /** `unknown` when the lookup failed: an attacker who makes only this answer bogus must
   * not turn a LEAP peer into an ordinary domain. */
  private announcesLeap(): Promise<'leap' | 'not-leap' | 'unknown'> {
    this.leap ??= this.c.dns.lookup(`${LEAP_TXT_LABEL}.${this.domain}`, 'TXT').then((r) => {
      if (r.status === 'servfail' || r.status === 'timeout' || r.status === 'error')
        return 'unknown';
      return r.secure && r.records.some((t) => parseLeapRecord(t) !== null) ? 'leap' : 'not-leap';
    });
    return this.leap;
  }

  async plan(host: MailHost, addressesSecure: boolean): Promise<HostPlan> {
    // RFC 7672 section 2.2: validated TLSA records none of which is usable still make TLS
    // mandatory, without authentication.
    let tlsMandatory = false;
    if (host.mxSecure && addressesSecure) {
      const tlsa = await this.c.dns.lookup(`_${this.c.smtpPort}._tcp.${host.name}`, 'TLSA');
      if (tlsa.status === 'servfail' || tlsa.status === 'timeout' || tlsa.status === 'error')
        return { refused: `TLSA lookup failed (${tlsa.detail})`, required: 'dane' };
      const usable = tlsa.secure ? usableTlsa(tlsa.records) : [];
      if (usable.length > 0)
        return { protection: 'dane', tls: daneRequirement(usable, host.name), required: 'dane' };
      tlsMandatory = tlsa.secure && tlsa.records.length > 0;
    }
    const policy = await this.stsPolicy();
    if (policy?.mode === 'enforce') {
      if (!mxAllowed(policy, host.name))
        return { refused: `MTA-STS policy does not name ${host.name}`, required: 'mta-sts' };
      return {
        protection: 'mta-sts',
        tls: stsRequirement(host.name, [...rootCertificates, ...this.c.trustedCa]),
        required: 'mta-sts',
      };
    }
    const leap = await this.announcesLeap();
    if (leap === 'leap')
      return {
        refused: 'LEAP peer without validated TLS (no DANE, no MTA-STS)',
        required: 'dane',
      };
    if (leap === 'unknown')
      return { refused: 'the LEAP announcement lookup failed', required: 'dane' };
    if (policy?.mode === 'testing') {
      // Testing mode: delivered as usual; what enforce would have refused is only logged.
      const check = stsRequirement(host.name, [...rootCertificates, ...this.c.trustedCa]);
      return {
        protection: 'opportunistic',
        required: 'opportunistic',
        tls: {
          ...check,
          required: false,
          verify: (socket, chain) => {
            const problem = check.verify(socket, chain);
            if (problem || !mxAllowed(policy, host.name))
              this.c.log.warn('mta_sts_testing_failure', {
                domain: this.domain,
                mx: host.name,
                reason: problem ?? 'MX not in policy',
              });
            return null;
          },
        },
      };
    }
    return {
      protection: 'opportunistic',
      tls: { ...opportunistic(host.name), required: tlsMandatory },
      required: 'opportunistic',
    };
  }
}
