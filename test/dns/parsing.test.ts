/**
 * The pure parts of delivery by DNS: reading a validating resolver's answer (status and AD
 * bit), ordering MX records, DANE matching (RFC 7672) and MTA-STS policies (RFC 8461).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCa, type CertificateAuthority } from '../../provider/src/ca/index.js';
import { checkDane, parseAnswer, tlsaFor } from '../../provider/src/dns/index.js';
import {
  dotStuff,
  mxAllowed,
  orderMx,
  parseStsPolicy,
  parseStsRecord,
  type StsPolicy,
} from '../../provider/src/relay/index.js';

function answer(
  id: number,
  question: { name: string; type: 'MX' | 'A' | 'TLSA' },
  opts: { rcode?: number; ad?: boolean; answers?: dnsPacket.Answer[] },
): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id,
    flags:
      dnsPacket.RECURSION_DESIRED |
      dnsPacket.RECURSION_AVAILABLE |
      (opts.ad ? dnsPacket.AUTHENTIC_DATA : 0) |
      (opts.rcode ?? 0),
    questions: [{ ...question, class: 'IN' }],
    answers: opts.answers ?? [],
  });
}

describe('resolver answers', () => {
  const q = { name: 'example.test', type: 'MX' as const };
  const mx: dnsPacket.Answer = {
    type: 'MX',
    name: 'example.test',
    ttl: 60,
    data: { preference: 10, exchange: 'mx.example.test' },
  };

  it('reads records and whether the resolver validated them', () => {
    const secure = parseAnswer(answer(7, q, { ad: true, answers: [mx] }), 7, 'example.test', 'MX');
    expect(secure).toMatchObject({ status: 'ok', secure: true });
    expect(secure.records).toEqual([{ preference: 10, exchange: 'mx.example.test' }]);
    expect(parseAnswer(answer(7, q, { answers: [mx] }), 7, 'example.test', 'MX').secure).toBe(
      false,
    );
  });

  it('tells NXDOMAIN, NODATA and SERVFAIL apart', () => {
    expect(parseAnswer(answer(1, q, { rcode: 3, ad: true }), 1, 'example.test', 'MX').status).toBe(
      'nxdomain',
    );
    expect(parseAnswer(answer(1, q, { ad: true }), 1, 'example.test', 'MX').status).toBe('nodata');
    const fail = parseAnswer(answer(1, q, { rcode: 2, ad: true }), 1, 'example.test', 'MX');
    expect(fail).toMatchObject({ status: 'servfail', secure: false });
    expect(parseAnswer(answer(1, q, { rcode: 5 }), 1, 'example.test', 'MX').status).toBe('error');
  });

  it('ignores an answer to another query or question, and garbage', () => {
    expect(parseAnswer(answer(2, q, { answers: [mx] }), 3, 'example.test', 'MX').status).toBe(
      'error',
    );
    expect(parseAnswer(answer(2, q, { answers: [mx] }), 2, 'other.test', 'MX').status).toBe(
      'error',
    );
    expect(parseAnswer(answer(2, q, { answers: [mx] }), 2, 'example.test', 'A').status).toBe(
      'error',
    );
    expect(parseAnswer(Buffer.from('not dns'), 2, 'example.test', 'MX').status).toBe('error');
  });

  it('orders MX by preference and recognises a null MX', () => {
    const hosts = orderMx(
      [
        { preference: 20, exchange: 'b.example.test' },
        { preference: 10, exchange: 'A.example.test.' },
      ],
      true,
      'example.test',
    );
    expect(hosts).toEqual([
      { name: 'a.example.test', preference: 10, mxSecure: true },
      { name: 'b.example.test', preference: 20, mxSecure: true },
    ]);
    expect(orderMx([{ preference: 0, exchange: '' }], true, 'example.test')).toBe('null-mx');
  });
});

describe('DANE matching', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let other: CertificateAuthority;
  let leaf: X509Certificate;
  let anchor: X509Certificate;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dane-unit-'));
    ca = await ensureCa(join(dir, 'a'), 'alpha.test', ['127.0.0.2']);
    other = await ensureCa(join(dir, 'b'), 'mallory.test', ['127.0.0.9']);
    leaf = new X509Certificate(ca.serverCertPem);
    anchor = new X509Certificate(ca.caCertPem);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('DANE-EE matches the key or the whole certificate, with no name check', () => {
    for (const [selector, matchingType] of [
      [1, 1],
      [1, 2],
      [0, 0],
      [0, 1],
    ] as const) {
      const record = tlsaFor(ca.serverCertPem, 3, selector, matchingType);
      expect(checkDane([record], [leaf], 'any.name.test').ok).toBe(true);
    }
    const wrong = tlsaFor(other.serverCertPem);
    expect(checkDane([wrong], [leaf], 'mx.alpha.test')).toEqual({
      ok: false,
      reason: 'the certificate matches no TLSA record',
    });
  });

  it('DANE-TA needs the anchor in the chain, a valid signature and the MX name', () => {
    const record = {
      usage: 2,
      selector: 0,
      matchingType: 1,
      data: createHash('sha256').update(anchor.raw).digest(),
    };
    expect(checkDane([record], [leaf, anchor], 'mx.alpha.test').ok).toBe(true);
    expect(checkDane([record], [leaf], 'mx.alpha.test').ok).toBe(false);
    expect(checkDane([record], [leaf, anchor], 'mx.beta.test').ok).toBe(false);
    // The right anchor after a certificate it did not sign.
    const foreign = new X509Certificate(other.serverCertPem);
    expect(checkDane([record], [foreign, anchor], 'mx.alpha.test').ok).toBe(false);
  });

  it('PKIX usages and unknown matching types are unusable for SMTP', () => {
    const pkix = { ...tlsaFor(ca.serverCertPem), usage: 1 };
    const unknown = { ...tlsaFor(ca.serverCertPem), matchingType: 7 };
    expect(checkDane([pkix, unknown], [leaf], 'mx.alpha.test').ok).toBe(false);
  });
});

describe('MTA-STS', () => {
  it('reads the TXT record and the policy', () => {
    expect(parseStsRecord('v=STSv1; id=20261206T1')).toBe('20261206T1');
    expect(parseStsRecord('v=spf1 -all')).toBeNull();
    const policy = parseStsPolicy(
      'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: *.backup.example.test\r\nmax_age: 604800\r\n',
      'x',
    ) as StsPolicy;
    expect(policy).toEqual({
      id: 'x',
      mode: 'enforce',
      mx: ['mx1.example.test', '*.backup.example.test'],
      maxAgeSeconds: 604800,
    });
    expect(mxAllowed(policy, 'MX1.example.test.')).toBe(true);
    expect(mxAllowed(policy, 'a.backup.example.test')).toBe(true);
    expect(mxAllowed(policy, 'a.b.backup.example.test')).toBe(false);
    expect(mxAllowed(policy, 'mx2.example.test')).toBe(false);
  });

  it('refuses a policy without version, mode, max_age or mx', () => {
    expect(parseStsPolicy('mode: enforce\nmx: a\nmax_age: 1', 'x')).toMatch(/version/);
    expect(parseStsPolicy('version: STSv1\nmode: strict\nmx: a\nmax_age: 1', 'x')).toMatch(/mode/);
    expect(parseStsPolicy('version: STSv1\nmode: enforce\nmx: a', 'x')).toMatch(/max_age/);
    expect(parseStsPolicy('version: STSv1\nmode: enforce\nmax_age: 1', 'x')).toMatch(/mx/);
  });
});

it('dot-stuffs a message for DATA', () => {
  expect(dotStuff(Buffer.from('.a\r\nb\r\n..c')).toString()).toBe('..a\r\nb\r\n...c\r\n.\r\n');
});
