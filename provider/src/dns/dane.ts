/**
 * DANE for SMTP (RFC 7672): which TLSA records are usable, and whether the certificate chain
 * a server presented matches one. Pure: the chain comes from the TLS socket.
 *
 * - DANE-EE (usage 3): the server's own certificate or key matches; no name or expiry
 *   checks (RFC 7672 section 3.1.1), the DNS record is the trust.
 * - DANE-TA (usage 2): a certificate in the presented chain matches and is the issuer of
 *   the chain leading to the server certificate, which must carry the MX host name.
 * PKIX usages 0 and 1 are unusable for SMTP (section 3.1.3), as are unknown selectors and
 * matching types; a TLSA RRset with no usable record is as if there were none.
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { TlsaRecord } from './message.js';

export function usableTlsa(records: TlsaRecord[]): TlsaRecord[] {
  return records.filter(
    (r) =>
      (r.usage === 2 || r.usage === 3) &&
      (r.selector === 0 || r.selector === 1) &&
      [0, 1, 2].includes(r.matchingType),
  );
}

function selected(cert: X509Certificate, selector: number): Buffer {
  if (selector === 0) return cert.raw;
  return cert.publicKey.export({ type: 'spki', format: 'der' });
}

function digest(data: Buffer, matchingType: number): Buffer {
  if (matchingType === 1) return createHash('sha256').update(data).digest();
  if (matchingType === 2) return createHash('sha512').update(data).digest();
  return data;
}

export function recordMatches(record: TlsaRecord, cert: X509Certificate): boolean {
  return digest(selected(cert, record.selector), record.matchingType).equals(record.data);
}

/** The TLSA data for a certificate: what a provider publishes (`3 1 1` by default). */
export function tlsaFor(certPem: string, usage = 3, selector = 1, matchingType = 1): TlsaRecord {
  const cert = new X509Certificate(certPem);
  return { usage, selector, matchingType, data: digest(selected(cert, selector), matchingType) };
}

export type DaneResult = { ok: true; record: TlsaRecord } | { ok: false; reason: string };

/**
 * `chain[0]` is the server certificate, then what the server sent after it, in order.
 * `hostname` is the MX host name (for DANE-TA's name check).
 */
export function checkDane(
  records: TlsaRecord[],
  chain: X509Certificate[],
  hostname: string,
): DaneResult {
  const leaf = chain[0];
  if (!leaf) return { ok: false, reason: 'the server presented no certificate' };
  for (const record of usableTlsa(records)) {
    if (record.usage === 3 && recordMatches(record, leaf)) return { ok: true, record };
  }
  for (const record of usableTlsa(records).filter((r) => r.usage === 2)) {
    // Walk up the presented chain, each link checked by signature, to a matching anchor.
    for (let i = 1; i < chain.length; i++) {
      const child = chain[i - 1] as X509Certificate;
      const parent = chain[i] as X509Certificate;
      if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) break;
      if (recordMatches(record, parent)) {
        if (!leaf.checkHost(hostname, { subject: 'never' }))
          return { ok: false, reason: `the certificate is not for ${hostname} (DANE-TA)` };
        const now = Date.now();
        const expired = chain
          .slice(0, i + 1)
          .some((c) => Date.parse(c.validTo) < now || Date.parse(c.validFrom) > now);
        if (expired) return { ok: false, reason: 'a certificate in the chain is not valid now' };
        return { ok: true, record };
      }
    }
  }
  return { ok: false, reason: 'the certificate matches no TLSA record' };
}

/** The chain a TLS peer presented: its certificate first, then what it sent after it. */
export function peerChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let cert = socket.getPeerCertificate(true) as DetailedPeerCertificate | undefined;
  const seen = new Set<string>();
  while (cert?.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(new X509Certificate(cert.raw));
    cert = cert.issuerCertificate;
  }
  return chain;
}
