/**
 * `npm run provider -- records`: what an operator copies into the zone and the MTA-STS
 * policy file, for the certificate in the data directory (and the next one before a
 * rollover). That these records make DANE work is shown in delivery.test.ts, whose alpha.test
 * zone is built from the same function.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureCa, type CertificateAuthority } from '../../provider/src/ca/index.js';
import { tlsaFor } from '../../provider/src/dns/index.js';

const run = promisify(execFile);
const MAIN = join(import.meta.dirname, '../../provider/src/main.ts');
let dir: string;
let current: CertificateAuthority;
let next: CertificateAuthority;

function records(...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', MAIN, 'records', ...args], { timeout: 30_000 });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'publish-'));
  current = await ensureCa(join(dir, 'data'), 'example.test', ['192.0.2.10']);
  next = await ensureCa(join(dir, 'next'), 'example.test', ['192.0.2.10']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('prints the records for the current and the next key, and the MTA-STS policy', async () => {
  const { stdout } = await records(
    '--domain',
    'example.test',
    '--data',
    join(dir, 'data'),
    '--ip',
    '192.0.2.10',
    '--next-cert',
    next.serverCertPath,
    '--sts-mode',
    'enforce',
  );
  const hex = (pem: string) => tlsaFor(pem).data.toString('hex');
  for (const pem of [current.serverCertPem, next.serverCertPem]) {
    expect(stdout).toContain(`_25._tcp.mx.example.test. IN TLSA 3 1 1 ${hex(pem)}`);
    expect(stdout).toContain(`_443._tcp.api.example.test. IN TLSA 3 1 1 ${hex(pem)}`);
  }
  const ta = tlsaFor(current.caCertPem, 2, 0, 1).data.toString('hex');
  expect(stdout).toContain(`_25._tcp.mx.example.test. IN TLSA 2 0 1 ${ta}`);
  expect(stdout).toContain('example.test. IN MX 10 mx.example.test.');
  expect(stdout).toContain('mx.example.test. IN A 192.0.2.10');
  expect(stdout).toContain('_leap.example.test. IN TXT "v=LEAP1; api=api.example.test"');
  expect(stdout).toMatch(/_mta-sts\.example\.test\. IN TXT "v=STSv1; id=[0-9a-f]{20}"/);
  expect(stdout).toMatch(/version: STSv1\nmode: enforce\nmx: mx\.example\.test\nmax_age: \d+/);
});

it('says what is wrong, without a stack trace', async () => {
  const failed = await records('--domain', 'example.test', '--data', join(dir, 'none')).catch(
    (err: { code: number; stderr: string }) => err,
  );
  expect(failed).toMatchObject({ code: 1 });
  expect((failed as { stderr: string }).stderr).toMatch(/server\.crt does not exist/);
  expect((failed as { stderr: string }).stderr).not.toMatch(/\n\s+at /);
});
