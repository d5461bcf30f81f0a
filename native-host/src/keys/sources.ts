/**
 * Where public keys come from on the network, one small client each: LEAP nicknym (the own
 * provider's, and a recipient provider's after bootstrapping its CA from provider.json),
 * Web Key Directory (advanced and direct), and a VKS keyserver (keys.openpgp.org's API).
 * A client answers with the raw key material, null when the source has no key, or an
 * error; checking the key against the address is the key manager's job.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { keyFail, keyOk, type KeyResult } from './errors.js';
import { httpsGet, type Resolver } from './http.js';

export type Found = string | Uint8Array;
export type SourceAnswer = KeyResult<Found | null>;

export interface NicknymTarget {
  /** The provider's api_uri, e.g. `https://api.alpha.test:4430`. */
  apiUri: string;
  /** The provider's CA (PEM), pinned. */
  caPem: string;
}

/** `GET <api_uri>/nicknym?address=` → `{"address","openpgp"}`, 404 when unknown. */
export async function nicknymLookup(
  address: string,
  target: NicknymTarget,
  resolver: Resolver,
): Promise<SourceAnswer> {
  const url = `${target.apiUri.replace(/\/+$/, '')}/nicknym?address=${encodeURIComponent(address)}`;
  const res = await httpsGet(url, resolver, { ca: target.caPem });
  if (!res.ok) return res;
  if (res.value.status === 404) return keyOk(null);
  if (res.value.status !== 200)
    return keyFail('invalid_response', `The nicknym server answered ${res.value.status}.`);
  try {
    const json = JSON.parse(res.value.body.toString('utf8')) as { openpgp?: unknown };
    if (typeof json.openpgp !== 'string') throw new Error('no openpgp field');
    return keyOk(json.openpgp);
  } catch {
    return keyFail('invalid_response', 'The nicknym server sent an unreadable answer.');
  }
}

/**
 * A recipient's LEAP provider: provider.json must list "mx"; its CA is downloaded and
 * checked against `ca_cert_fingerprint` (SHA-256 of the DER) before nicknym is asked.
 * Null when the domain is not a LEAP mail provider.
 */
export async function leapProviderFor(
  domain: string,
  resolver: Resolver,
): Promise<KeyResult<NicknymTarget | null>> {
  const res = await httpsGet(`https://${domain}/provider.json`, resolver);
  if (!res.ok) return res;
  if (res.value.status !== 200) return keyOk(null);
  let json: {
    services?: unknown;
    api_uri?: unknown;
    ca_cert_uri?: unknown;
    ca_cert_fingerprint?: unknown;
  };
  try {
    json = JSON.parse(res.value.body.toString('utf8')) as typeof json;
  } catch {
    return keyOk(null);
  }
  if (!Array.isArray(json.services) || !json.services.includes('mx')) return keyOk(null);
  if (
    typeof json.api_uri !== 'string' ||
    typeof json.ca_cert_uri !== 'string' ||
    typeof json.ca_cert_fingerprint !== 'string'
  ) {
    return keyFail('invalid_response', `The provider.json of ${domain} lacks api_uri or its CA.`);
  }
  const ca = await httpsGet(json.ca_cert_uri, resolver);
  if (!ca.ok) return ca;
  const caPem = ca.value.body.toString('utf8');
  const expected = json.ca_cert_fingerprint
    .replace(/^SHA256:/i, '')
    .replace(/[\s:]/g, '')
    .toLowerCase();
  let actual: string;
  try {
    actual = createHash('sha256').update(new X509Certificate(caPem).raw).digest('hex');
  } catch {
    return keyFail('invalid_response', `The CA certificate of ${domain} is unreadable.`);
  }
  if (actual !== expected) {
    return keyFail(
      'ca_mismatch',
      `The CA certificate of ${domain} does not match the fingerprint it announces.`,
    );
  }
  return keyOk({ apiUri: json.api_uri, caPem });
}

const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

export function zbase32(data: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ZBASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ZBASE32[(buffer << (5 - bits)) & 31];
  return out;
}

/** The WKD hash of an address's local part: z-base-32 of SHA-1 of the lower-cased local part. */
export function wkdHash(localPart: string): string {
  return zbase32(createHash('sha1').update(localPart.toLowerCase(), 'utf8').digest());
}

/**
 * Web Key Directory (draft-koch-openpgp-webkey-service): the advanced method on
 * `openpgpkey.<domain>` first; the direct method only when that host cannot be reached
 * (the draft: the advanced method is authoritative where it exists).
 */
export async function wkdLookup(address: string, resolver: Resolver): Promise<SourceAnswer> {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1).toLowerCase();
  const path = `/.well-known/openpgpkey`;
  const query = `?l=${encodeURIComponent(local)}`;
  const advanced = await httpsGet(
    `https://openpgpkey.${domain}${path}/${domain}/hu/${wkdHash(local)}${query}`,
    resolver,
  );
  const res = advanced.ok
    ? advanced
    : await httpsGet(`https://${domain}${path}/hu/${wkdHash(local)}${query}`, resolver);
  if (!res.ok) return res;
  if (res.value.status === 404) return keyOk(null);
  if (res.value.status !== 200)
    return keyFail(
      'invalid_response',
      `The web key directory of ${domain} answered ${res.value.status}.`,
    );
  return keyOk(new Uint8Array(res.value.body));
}

/** VKS (https://keys.openpgp.org/about/api): `GET /vks/v1/by-email/<address>`. */
export async function vksLookup(
  address: string,
  baseUrl: string,
  resolver: Resolver,
): Promise<SourceAnswer> {
  const url = `${baseUrl.replace(/\/+$/, '')}/vks/v1/by-email/${encodeURIComponent(address)}`;
  const res = await httpsGet(url, resolver);
  if (!res.ok) return res;
  if (res.value.status === 404) return keyOk(null);
  if (res.value.status !== 200)
    return keyFail('invalid_response', `The keyserver answered ${res.value.status}.`);
  return keyOk(res.value.body.toString('utf8'));
}
