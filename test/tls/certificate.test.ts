/**
 * The install's loopback certificate is DER built by hand: whatever random serial it gets,
 * OpenSSL (and so Thunderbird's NSS, which is as strict) must read it. A serial whose first
 * byte came out zero used to make it unreadable, so 1 install in 256 could not start its
 * servers.
 */
import { X509Certificate } from 'node:crypto';
import { expect, it } from 'vitest';
import { createSelfSigned } from '../../native-host/src/tls/index.js';

it('is readable for the serials that used to break it, and for random ones', () => {
  const hostile = [Buffer.alloc(16), Buffer.from('00'.repeat(1) + '7f'.repeat(15), 'hex')];
  hostile.push(Buffer.from('80' + '00'.repeat(15), 'hex'), Buffer.from('ff'.repeat(16), 'hex'));
  for (const serial of hostile) {
    const cert = new X509Certificate(createSelfSigned(new Date(), serial).certPem);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(BigInt(`0x${cert.serialNumber}`) > 0n).toBe(true);
  }
  for (let i = 0; i < 300; i++) {
    expect(() => new X509Certificate(createSelfSigned().certPem)).not.toThrow();
  }
});
