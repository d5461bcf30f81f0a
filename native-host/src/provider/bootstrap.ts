/**
 * First contact with a provider (LEAP's bootstrap): read provider.json, download its CA,
 * check the CA's SHA-256 fingerprint, and from then on trust only that CA for this
 * provider. Known providers can ship pinned: the fingerprint is then compared with the
 * pin, not only with what the provider claims.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { httpsRequest, NetError, type Resolver } from '../net/index.js';
import { ProviderClientError } from './errors.js';

export interface ProviderInfo {
  domain: string;
  name: string;
  description: string;
  apiUri: string;
  apiVersion: string;
  caCertPem: string;
  /** `SHA256: <hex of the DER>`, as LEAP writes it. */
  caFingerprint: string;
  allowRegistration: boolean;
  /** Mail service offered ("mx" in LEAP's services list). */
  offersMail: boolean;
}

export interface BootstrapOptions {
  resolver?: Resolver;
  /** A known provider's CA fingerprint (`SHA256: hex` or bare hex). */
  pinnedFingerprint?: string;
  timeoutMs?: number;
}

export function caFingerprint(pem: string): string {
  const der = new X509Certificate(pem).raw;
  return `SHA256: ${createHash('sha256').update(der).digest('hex')}`;
}

export function normaliseFingerprint(value: string): string {
  return value
    .replace(/^SHA256:/i, '')
    .replace(/[\s:]/g, '')
    .toLowerCase();
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

export async function bootstrapProvider(
  domainInput: string,
  options: BootstrapOptions = {},
): Promise<ProviderInfo> {
  const domain = domainInput.trim().toLowerCase();
  if (!DOMAIN.test(domain)) {
    throw new ProviderClientError(
      'invalid_provider',
      `"${domainInput}" is not a provider domain (for example: example.org).`,
    );
  }
  const pinned = options.pinnedFingerprint ? normaliseFingerprint(options.pinnedFingerprint) : null;
  const fetch = async (url: string, trust: { ca?: string; insecure?: boolean }) => {
    try {
      const res = await httpsRequest({
        url,
        resolver: options.resolver,
        ...(trust.ca ? { ca: trust.ca } : {}),
        insecureNoVerify: trust.insecure === true,
        timeoutMs: options.timeoutMs ?? 15_000,
        maxBytes: 1024 * 1024,
      });
      if (res.status !== 200) {
        throw new ProviderClientError(
          'invalid_provider',
          `${domain} is not a LeapBird/LEAP provider (${url} answered ${res.status}).`,
        );
      }
      return res.body;
    } catch (error) {
      if (error instanceof NetError)
        throw new ProviderClientError(
          error.code === 'certificate_mismatch' ? 'certificate_mismatch' : 'unreachable',
          error.message.replace(/^\S+/, domain),
          error.detail,
        );
      throw error;
    }
  };

  // Without a pin, the first provider.json comes over the system's CAs (as in LEAP); with a
  // pin, it is read unverified and then checked against the pinned CA before use.
  const providerUrl = `https://${domain}/provider.json`;
  const first = parseProviderJson(
    await fetch(providerUrl, pinned ? { insecure: true } : {}),
    domain,
  );
  const caPem = (await fetch(first.caCertUri, { insecure: true })).toString('utf8');
  let actual: string;
  try {
    actual = caFingerprint(caPem);
  } catch {
    throw new ProviderClientError(
      'invalid_provider',
      `${domain} offered a certificate authority that is not a certificate.`,
    );
  }
  if (normaliseFingerprint(actual) !== normaliseFingerprint(first.caFingerprint)) {
    throw new ProviderClientError(
      'fingerprint_mismatch',
      `The certificate authority downloaded from ${domain} is not the one ${domain} announces. Someone may be intercepting the connection, so LeapBird stopped.`,
    );
  }
  if (pinned && normaliseFingerprint(actual) !== pinned) {
    throw new ProviderClientError(
      'fingerprint_mismatch',
      `${domain} presented a certificate authority that does not match the one LeapBird knows for it. Someone may be intercepting the connection, so LeapBird stopped.`,
    );
  }
  // From here on only the provider's own CA is trusted: read provider.json again through it.
  const verified = pinned
    ? parseProviderJson(await fetch(providerUrl, { ca: caPem }), domain)
    : first;
  return {
    domain,
    name: verified.name,
    description: verified.description,
    apiUri: verified.apiUri,
    apiVersion: verified.apiVersion,
    caCertPem: caPem,
    caFingerprint: actual,
    allowRegistration: verified.allowRegistration,
    offersMail: verified.offersMail,
  };
}

interface ParsedProviderJson {
  name: string;
  description: string;
  apiUri: string;
  apiVersion: string;
  caCertUri: string;
  caFingerprint: string;
  allowRegistration: boolean;
  offersMail: boolean;
}

function localised(value: unknown, fallback: string): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const text = record.en ?? Object.values(record).find((v) => typeof v === 'string');
    if (typeof text === 'string') return text;
  }
  return fallback;
}

export function parseProviderJson(body: Buffer, domain: string): ParsedProviderJson {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new ProviderClientError(
      'invalid_provider',
      `${domain} sent a provider description that is not JSON.`,
    );
  }
  const bad = (what: string) =>
    new ProviderClientError('invalid_provider', `${domain}'s provider description ${what}.`);
  if (typeof json !== 'object' || json === null) throw bad('is empty');
  if (String(json.domain ?? '').toLowerCase() !== domain)
    throw bad(`is for another domain (${String(json.domain)})`);
  const apiUri = String(json.api_uri ?? '');
  const caCertUri = String(json.ca_cert_uri ?? '');
  const fingerprint = String(json.ca_cert_fingerprint ?? '');
  if (!/^https:\/\//.test(apiUri)) throw bad('has no HTTPS API address');
  if (!/^https:\/\//.test(caCertUri))
    throw bad('has no HTTPS address for its certificate authority');
  if (!/^SHA256:\s*[0-9a-f]{64}$/i.test(fingerprint))
    throw bad('has no SHA-256 fingerprint for its certificate authority');
  const service = (json.service ?? {}) as Record<string, unknown>;
  const services = Array.isArray(json.services) ? json.services.map(String) : [];
  return {
    name: localised(json.name, domain),
    description: localised(json.description, ''),
    apiUri: apiUri.replace(/\/+$/, ''),
    apiVersion: String(json.api_version ?? '1'),
    caCertUri,
    caFingerprint: fingerprint,
    allowRegistration: service.allow_registration === true,
    offersMail: services.includes('mx'),
  };
}
