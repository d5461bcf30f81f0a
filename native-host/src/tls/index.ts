/**
 * The install's own TLS identity for the loopback IMAP and SMTP servers. Any local user can
 * bind a loopback port while the host is not running, so a port alone proves nothing:
 * Thunderbird is told to trust exactly this certificate on exactly our ports (the add-on's
 * Experiment pins it), and only this process can read the key. A squatter cannot complete
 * the handshake, so Thunderbird never sends it the password or a message. Proton Mail Bridge
 * runs TLS on loopback for the same reason.
 *
 * The certificate is self-signed (P-256, ECDSA-SHA256) and written in DER here, since Node
 * can sign but not build certificates and the host must not depend on an `openssl` command.
 */
import { X509Certificate, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../store/index.js';

export interface LocalTls {
  keyPem: string;
  certPem: string;
  /** The certificate's DER in base64, as Thunderbird's certificate database takes it. */
  certBase64: string;
  /** SHA-256 of the DER, hex with colons, as Thunderbird shows and stores it. */
  fingerprint: string;
}

const VALID_YEARS = 10;
/** Renewed this long before it expires, so Thunderbird never meets an expired one. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/** Reads the install's certificate and key, creating them on first use or near expiry. */
export async function ensureLocalTls(dataDir: string): Promise<LocalTls> {
  const dir = join(dataDir, 'tls');
  const keyPath = join(dir, 'local.key');
  const certPath = join(dir, 'local.crt');
  if (existsSync(keyPath) && existsSync(certPath)) {
    const certPem = readFileSync(certPath, 'utf8');
    const cert = new X509Certificate(certPem);
    if (Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS)
      return describe(readFileSync(keyPath, 'utf8'), cert);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { keyPem, certPem } = createSelfSigned();
  // Both owner-only (writeFileDurably's mode); the key first, so a certificate is never on
  // disk without the key that goes with it.
  await writeFileDurably(keyPath, keyPem);
  await writeFileDurably(certPath, certPem);
  return describe(keyPem, new X509Certificate(certPem));
}

function describe(keyPem: string, cert: X509Certificate): LocalTls {
  const hex = createHash('sha256').update(cert.raw).digest('hex').toUpperCase();
  return {
    keyPem,
    certPem: cert.toString(),
    certBase64: cert.raw.toString('base64'),
    fingerprint: hex.match(/../g)!.join(':'),
  };
}

/** A self-signed certificate for 127.0.0.1 and localhost; `serial` is random unless given. */
export function createSelfSigned(
  now = new Date(),
  serial = randomBytes(16),
): { keyPem: string; certPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ecdsaSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from('LeapBird local host')))));
  // A DER INTEGER is positive when its top bit is clear, and minimal only when its first
  // byte is not a redundant zero: with bit 6 set it is both, whatever the random bytes were.
  // (Clearing only the top bit left 1 serial in 256 non-minimal, which OpenSSL rejects.)
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALID_YEARS);
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), // version 3
    der(0x02, serial),
    ecdsaSha256,
    name,
    seq(time(new Date(now.getTime() - 24 * 3600 * 1000)), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(
      0xa3,
      seq(
        // subjectAltName: the address Thunderbird connects to.
        seq(
          oid('2.5.29.17'),
          der(
            0x04,
            seq(der(0x87, Buffer.from([127, 0, 0, 1])), der(0x82, Buffer.from('localhost'))),
          ),
        ),
        // basicConstraints, critical, not a CA: the key can vouch for nothing else.
        seq(oid('2.5.29.19'), der(0x01, Buffer.from([0xff])), der(0x04, seq())),
        // extKeyUsage: TLS server only.
        seq(oid('2.5.29.37'), der(0x04, seq(oid('1.3.6.1.5.5.7.3.1')))),
      ),
    ),
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const cert = seq(tbs, ecdsaSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = cert
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
  };
}

/** One DER element: tag, definite length, contents. */
function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const seq = (...items: Buffer[]) => der(0x30, ...items);
const set = (...items: Buffer[]) => der(0x31, ...items);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return der(0x06, Buffer.from(bytes));
}

/** UTCTime until 2049, GeneralizedTime after, as RFC 5280 requires. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return date.getUTCFullYear() < 2050
    ? der(0x17, Buffer.from(iso.slice(2)))
    : der(0x18, Buffer.from(iso));
}
