/**
 * The provider's own certificate authority and its TLS server certificate, created with the
 * `openssl` command on first start and kept in `<dataDir>/ca/`. Clients pin the CA by the
 * SHA-256 of its DER (`ca_cert_fingerprint` in provider.json).
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertificateAuthority {
  caCertPem: string;
  caCertPath: string;
  /** `SHA256: <hex of the DER>`, LEAP's format. */
  caFingerprint: string;
  serverCertPem: string;
  serverKeyPem: string;
  serverCertPath: string;
  serverKeyPath: string;
}

/** DNS names and IP addresses the server certificate must cover. */
export function serverNames(domain: string): string[] {
  return [
    domain,
    `api.${domain}`,
    `nicknym.${domain}`,
    `openpgpkey.${domain}`,
    `mx.${domain}`,
    `imap.${domain}`,
    `smtp.${domain}`,
    `mta-sts.${domain}`,
  ];
}

export function fingerprintOf(certPem: string): string {
  const der = new X509Certificate(certPem).raw;
  return `SHA256: ${createHash('sha256').update(der).digest('hex')}`;
}

export async function ensureCa(
  dataDir: string,
  domain: string,
  ips: string[],
): Promise<CertificateAuthority> {
  const dir = join(dataDir, 'ca');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKeyPath = join(dir, 'ca.key');
  const caCertPath = join(dir, 'ca.crt');
  const serverKeyPath = join(dir, 'server.key');
  const serverCertPath = join(dir, 'server.crt');
  const sanPath = join(dir, 'server.san');

  if (!existsSync(caCertPath) || !existsSync(caKeyPath)) {
    await run('openssl', [
      'ecparam',
      '-name',
      'prime256v1',
      '-genkey',
      '-noout',
      '-out',
      caKeyPath,
    ]);
    await run('openssl', [
      'req',
      '-x509',
      '-new',
      '-key',
      caKeyPath,
      '-sha256',
      '-days',
      '3650',
      '-out',
      caCertPath,
      '-subj',
      `/O=${domain}/CN=${domain} provider CA`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  }

  // The server certificate is re-issued whenever the names it must carry change (another
  // bind address), so a restart on a new address never serves a certificate that fails.
  const san = [...serverNames(domain).map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)].join(
    ',',
  );
  const current = existsSync(sanPath) ? readFileSync(sanPath, 'utf8') : '';
  if (current !== san || !existsSync(serverCertPath) || !existsSync(serverKeyPath)) {
    const csrPath = join(dir, 'server.csr');
    const extPath = join(dir, 'server.ext');
    // The key stays when only the names change: a published TLSA record (`3 1 1`, the
    // key's SPKI) then still matches the new certificate.
    if (!existsSync(serverKeyPath))
      await run('openssl', [
        'ecparam',
        '-name',
        'prime256v1',
        '-genkey',
        '-noout',
        '-out',
        serverKeyPath,
      ]);
    await run('openssl', [
      'req',
      '-new',
      '-key',
      serverKeyPath,
      '-out',
      csrPath,
      '-subj',
      `/CN=${domain}`,
    ]);
    writeFileSync(
      extPath,
      `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
    );
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      csrPath,
      '-CA',
      caCertPath,
      '-CAkey',
      caKeyPath,
      '-CAcreateserial',
      '-days',
      '825',
      '-sha256',
      '-extfile',
      extPath,
      '-out',
      serverCertPath,
    ]);
    writeFileSync(sanPath, san);
  }
  for (const key of [caKeyPath, serverKeyPath]) chmodSync(key, 0o600);

  const caCertPem = readFileSync(caCertPath, 'utf8');
  return {
    caCertPem,
    caCertPath,
    caFingerprint: fingerprintOf(caCertPem),
    serverCertPem: readFileSync(serverCertPath, 'utf8'),
    serverKeyPem: readFileSync(serverKeyPath, 'utf8'),
    serverCertPath,
    serverKeyPath,
  };
}
