/**
 * What a provider publishes so that peers can reach it with validated TLS: the DNS records
 * (MX, TLSA for the MX and the API, the LEAP announcement, the MTA-STS record) in zone-file
 * form, and the MTA-STS policy file. Pure: the caller reads the certificates.
 */
import { createHash } from 'node:crypto';
import { tlsaFor } from '../dns/index.js';
import { LEAP_TXT_LABEL, leapRecord } from '../resolver/index.js';

export interface PublishInput {
  domain: string;
  /** The provider's CA certificate (PEM): a DANE-TA record (`2 0 1`) for the MX names it. */
  caCertPem?: string;
  /** The certificate the MX and the API present now (PEM). */
  certPem: string;
  /** The next certificate (new key), to publish before a rollover. */
  nextCertPem?: string;
  /** Public addresses of the MX/API host. */
  ipv4?: string[];
  ipv6?: string[];
  smtpPort?: number;
  httpsPort?: number;
  /** MTA-STS mode for peers that do not do DANE (`enforce` once the certificate is public). */
  stsMode?: 'enforce' | 'testing' | 'none';
  stsMaxAgeSeconds?: number;
}

function tlsaRdata(certPem: string, usage = 3, selector = 1): string {
  const t = tlsaFor(certPem, usage, selector, 1);
  return `${t.usage} ${t.selector} ${t.matchingType} ${t.data.toString('hex')}`;
}

export function stsPolicy(input: PublishInput): string {
  return [
    'version: STSv1',
    `mode: ${input.stsMode ?? 'testing'}`,
    `mx: mx.${input.domain}`,
    `max_age: ${input.stsMaxAgeSeconds ?? 604800}`,
    '',
  ].join('\r\n');
}

/** The MTA-STS id changes whenever the policy does (a hash of it). */
export function stsId(policy: string): string {
  return createHash('sha256').update(policy).digest('hex').slice(0, 20);
}

export function dnsRecords(input: PublishInput): string[] {
  const d = `${input.domain}.`;
  const smtp = input.smtpPort ?? 25;
  const https = input.httpsPort ?? 443;
  const certs = [input.certPem, ...(input.nextCertPem ? [input.nextCertPem] : [])];
  const hosts = ['mx', 'api', 'mta-sts'];
  const addresses = hosts.flatMap((h) => [
    ...(input.ipv4 ?? []).map((ip) => `${h}.${d} IN A ${ip}`),
    ...(input.ipv6 ?? []).map((ip) => `${h}.${d} IN AAAA ${ip}`),
  ]);
  return [
    `${d} IN MX 10 mx.${d}`,
    ...addresses,
    ...certs.map((c) => `_${smtp}._tcp.mx.${d} IN TLSA ${tlsaRdata(c)}`),
    // The MX sends its CA in the chain: this record stays valid across server key changes.
    ...(input.caCertPem
      ? [`_${smtp}._tcp.mx.${d} IN TLSA ${tlsaRdata(input.caCertPem, 2, 0)}`]
      : []),
    ...certs.map((c) => `_${https}._tcp.api.${d} IN TLSA ${tlsaRdata(c)}`),
    `${LEAP_TXT_LABEL}.${d} IN TXT "${leapRecord(input.domain)}"`,
    `_mta-sts.${d} IN TXT "v=STSv1; id=${stsId(stsPolicy(input))}"`,
  ];
}
