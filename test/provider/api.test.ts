import { request } from 'node:https';
import { X509Certificate, createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wkdHash } from '../../provider/src/keys/index.js';
import {
  api,
  makeKey,
  newAccount,
  startTestProvider,
  uploadKey,
  type MailAccount,
  type TestProvider,
} from './helpers.js';

let p: TestProvider;
beforeAll(async () => {
  p = await startTestProvider('alpha.test', '127.0.0.2');
});
afterAll(async () => p?.cleanup());

describe('bootstrap', () => {
  it('publishes provider.json with the CA fingerprint a client can check', async () => {
    const res = await api(p, 'GET', '/provider.json');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ domain: 'alpha.test', api_version: '1', services: ['mx'] });
    expect(res.json.service.allow_registration).toBe(true);
    const ca = await api(p, 'GET', '/ca.crt');
    const der = new X509Certificate(ca.body.toString()).raw;
    expect(res.json.ca_cert_fingerprint).toBe(
      `SHA256: ${createHash('sha256').update(der).digest('hex')}`,
    );
    expect(res.json.ca_cert_fingerprint).toBe(p.caFingerprint);
  });

  it('lists its services with the ports they listen on', async () => {
    const configs = await api(p, 'GET', '/1/configs.json');
    expect(Object.keys(configs.json.services).sort()).toEqual(['imap', 'smtp', 'soledad']);
    expect((await api(p, 'GET', configs.json.services.smtp)).status).toBe(401);
    const { token } = await newAccount(p, 'configs-reader');
    const smtp = await api(p, 'GET', configs.json.services.smtp, { token });
    expect(Object.values(smtp.json.hosts)).toEqual([
      { hostname: 'smtp.alpha.test', ip_address: '127.0.0.2', port: p.ports.submission },
    ]);
    const imap = await api(p, 'GET', configs.json.services.imap, { token });
    expect(Object.values(imap.json.hosts)).toEqual([
      { hostname: 'imap.alpha.test', ip_address: '127.0.0.2', port: p.ports.imap },
    ]);
  });

  it('serves TLS that only its own CA validates, for the domain and api.<domain>', async () => {
    for (const servername of ['alpha.test', 'api.alpha.test']) {
      expect((await api({ ...p, domain: servername }, 'GET', '/provider.json')).status).toBe(200);
    }
    await expect(api({ ...p, domain: 'evil.test' }, 'GET', '/provider.json')).rejects.toThrow();
    // Without the provider's CA (system roots only) the certificate is refused.
    await expect(
      new Promise((resolve, reject) => {
        request(
          { host: p.host, port: p.ports.api, path: '/provider.json', servername: p.domain },
          resolve,
        )
          .on('error', reject)
          .end();
      }),
    ).rejects.toThrow();
  });
});

describe('keys: upload, nicknym, WKD', () => {
  let alice: MailAccount;
  let key: { publicKey: string; privateKey: string };
  beforeAll(async () => {
    alice = await newAccount(p, 'alice');
    key = await makeKey(alice.address);
  });

  it('refuses invalid keys with a clear error and stores nothing', async () => {
    const other = await makeKey('mallory@alpha.test');
    const cases: [string, RegExp][] = [
      ['not a key at all', /ASCII-armored/],
      [
        '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\ngarbage\n-----END PGP PUBLIC KEY BLOCK-----\n',
        /Not a readable/,
      ],
      [key.privateKey, /private key/],
      [other.publicKey, /no user ID for alice@alpha.test/],
    ];
    for (const [armored, message] of cases) {
      const res = await uploadKey(p, alice, armored);
      expect(res.status).toBe(422);
      expect(res.json.error.code).toBe('invalid_key');
      expect(res.json.error.message).toMatch(message);
    }
    expect((await api(p, 'GET', `/nicknym?address=${alice.address}`)).status).toBe(404);
    expect((await p.store.userById(alice.id))?.publicKey).toBeNull();
  });

  it('publishes an uploaded key through nicknym (address and fingerprint) and WKD', async () => {
    expect((await uploadKey(p, alice, key.publicKey)).status).toBe(200);
    const fingerprint = (await openpgp.readKey({ armoredKey: key.publicKey })).getFingerprint();

    const byAddress = await api(p, 'GET', '/nicknym?address=Alice%2Blists%40alpha.test');
    expect(byAddress.status).toBe(200);
    expect(byAddress.json.address).toBe('alice@alpha.test');
    expect((await openpgp.readKey({ armoredKey: byAddress.json.openpgp })).getFingerprint()).toBe(
      fingerprint,
    );
    expect(byAddress.json.openpgp).not.toContain('PRIVATE');

    const byFingerprint = await api(p, 'GET', `/nicknym?fingerprint=${fingerprint.toUpperCase()}`);
    expect(byFingerprint.json.address).toBe('alice@alpha.test');

    // "Joe.Doe" is WKD's own example (draft-koch-openpgp-webkey-service).
    expect(wkdHash('Joe.Doe')).toBe('iy9q119eutrkn8s1mk4r39qejnbu3n5q');
    for (const path of [
      `/.well-known/openpgpkey/hu/${wkdHash('alice')}`,
      `/.well-known/openpgpkey/alpha.test/hu/${wkdHash('alice')}`,
    ]) {
      const wkd = await api(p, 'GET', path);
      expect(wkd.status).toBe(200);
      expect((await openpgp.readKey({ binaryKey: wkd.body })).getFingerprint()).toBe(fingerprint);
    }
    expect((await api(p, 'GET', '/.well-known/openpgpkey/policy')).status).toBe(200);
  });

  it('refuses a key already published for another account', async () => {
    const first = await newAccount(p, 'twin-one');
    const second = await newAccount(p, 'twin-two');
    const shared = await openpgp.generateKey({
      type: 'ecc',
      curve: 'curve25519Legacy',
      userIDs: [{ email: first.address }, { email: second.address }],
    });
    expect((await uploadKey(p, first, shared.publicKey)).status).toBe(200);
    const res = await uploadKey(p, second, shared.publicKey);
    expect(res.status).toBe(422);
    expect(res.json.error.message).toMatch(/another account/);
    expect((await api(p, 'GET', `/nicknym?address=${second.address}`)).status).toBe(404);
  });

  it('answers 404 for unknown addresses and 400 for malformed queries', async () => {
    expect((await api(p, 'GET', '/nicknym?address=nobody@alpha.test')).status).toBe(404);
    expect((await api(p, 'GET', '/nicknym?address=someone@unknown.test')).status).toBe(404);
    expect((await api(p, 'GET', `/.well-known/openpgpkey/hu/${wkdHash('nobody')}`)).status).toBe(
      404,
    );
    const bad = await api(p, 'GET', '/nicknym?address=not-an-address');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('invalid_address');
    expect((await api(p, 'GET', '/nicknym?fingerprint=xyz')).status).toBe(400);
  });
});

describe('sync store', () => {
  let a: MailAccount;
  const doc = (id: string, ciphertext: string, hash = `h-${ciphertext}`, deleted = false) => ({
    id,
    deleted,
    ciphertext,
    hash,
  });
  const push = (account: MailAccount, rows: unknown[], collection = 'keys') =>
    api(p, 'POST', `/1/sync/${collection}/push`, { token: account.token, json: { rows } });
  const pull = (account: MailAccount, checkpoint: unknown, limit = 100, collection = 'keys') =>
    api(
      p,
      'GET',
      `/1/sync/${collection}/pull?limit=${limit}${checkpoint ? `&checkpoint=${encodeURIComponent(JSON.stringify(checkpoint))}` : ''}`,
      {
        token: account.token,
      },
    );

  beforeAll(async () => {
    a = await newAccount(p, 'syncer');
  });

  it('pushes, pulls in order after a checkpoint, and detects conflicts', async () => {
    const first = await push(a, [
      { assumedMasterState: null, newDocumentState: doc('d1', 'c1') },
      { assumedMasterState: null, newDocumentState: doc('d2', 'c2') },
    ]);
    expect(first.json).toEqual({ conflicts: [] });
    const all = await pull(a, null);
    expect(all.json.documents.map((d: { id: string }) => d.id)).toEqual(['d1', 'd2']);
    const [d1, d2] = all.json.documents;
    expect(d2.updatedAt).toBeGreaterThan(d1.updatedAt);
    expect(all.json.checkpoint).toEqual({ id: 'd2', updatedAt: d2.updatedAt });
    expect((await pull(a, all.json.checkpoint)).json).toEqual({
      documents: [],
      checkpoint: all.json.checkpoint,
    });
    // Paging: one at a time.
    const page = await pull(a, null, 1);
    expect(page.json.documents).toHaveLength(1);
    expect((await pull(a, page.json.checkpoint, 1)).json.documents[0].id).toBe('d2');

    // Update with the right assumed state: written; with a stale one: conflict, not written.
    const update = await push(a, [
      { assumedMasterState: doc('d1', 'c1'), newDocumentState: doc('d1', 'c1b') },
    ]);
    expect(update.json.conflicts).toEqual([]);
    const stale = await push(a, [
      { assumedMasterState: doc('d1', 'c1'), newDocumentState: doc('d1', 'c1-lost') },
      { assumedMasterState: null, newDocumentState: doc('d2', 'c2-lost') },
      { assumedMasterState: doc('d9', 'x'), newDocumentState: doc('d9', 'y') },
      { assumedMasterState: doc('d2', 'c2'), newDocumentState: doc('d2', 'c2', 'h-c2', true) },
    ]);
    expect(
      stale.json.conflicts.map((c: { id: string; ciphertext: string }) => [c.id, c.ciphertext]),
    ).toEqual([
      ['d1', 'c1b'],
      ['d2', 'c2'],
      ['d9', ''],
    ]);
    const after = await pull(a, all.json.checkpoint);
    expect(
      after.json.documents.map((d: { id: string; deleted: boolean; ciphertext: string }) => [
        d.id,
        d.ciphertext,
        d.deleted,
      ]),
    ).toEqual([
      ['d1', 'c1b', false],
      ['d2', 'c2', true],
    ]);
  });

  it('keeps users and collections apart', async () => {
    const b = await newAccount(p, 'other-syncer');
    expect((await pull(b, null)).json.documents).toEqual([]);
    expect((await pull(a, null, 100, 'settings')).json.documents).toEqual([]);
  });

  it('streams changes as server-sent events', async () => {
    const events: string[] = [];
    const received = new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: p.host,
          port: p.ports.api,
          path: '/1/sync/contacts/stream',
          ca: p.caCertPem,
          servername: p.domain,
          headers: { authorization: `Token token="${a.token}"` },
        },
        (res) => {
          expect(res.headers['content-type']).toBe('text/event-stream');
          res.on('data', (chunk: Buffer) => {
            events.push(chunk.toString());
            if (events.join('').includes('data: ')) {
              req.destroy();
              resolve();
            } else
              void push(
                a,
                [{ assumedMasterState: null, newDocumentState: doc('k1', 'ck1') }],
                'contacts',
              );
          });
        },
      );
      req.on('error', (err) => (events.join('').includes('data: ') ? resolve() : reject(err)));
      setTimeout(() => reject(new Error('no event within 10 s')), 10_000);
      req.end();
    });
    await received;
    const line = events
      .join('')
      .split('\n')
      .find((l) => l.startsWith('data: ')) as string;
    const event = JSON.parse(line.slice(6));
    expect(event.documents.map((d: { id: string }) => d.id)).toEqual(['k1']);
    expect(event.checkpoint.id).toBe('k1');
  });

  it('refuses bad rows, oversized documents and too many rows without writing any of them', async () => {
    const before = (await pull(a, null, 1000, 'limits')).json.documents.length;
    const huge = 'x'.repeat(1024 * 1024 + 1);
    const cases: [unknown[], number][] = [
      [
        [
          { assumedMasterState: null, newDocumentState: doc('ok', 'fine') },
          { assumedMasterState: null, newDocumentState: { id: 'bad' } },
        ],
        400,
      ],
      [
        [
          { assumedMasterState: null, newDocumentState: doc('ok', 'fine') },
          { assumedMasterState: null, newDocumentState: doc('big', huge, 'h-big') },
        ],
        413,
      ],
      [
        Array.from({ length: 1001 }, (_, i) => ({
          assumedMasterState: null,
          newDocumentState: doc(`n${i}`, 'c'),
        })),
        413,
      ],
    ];
    for (const [rows, status] of cases) {
      const res = await push(a, rows, 'limits');
      expect(res.status).toBe(status);
      expect(typeof res.json.error.message).toBe('string');
    }
    expect((await pull(a, null, 1000, 'limits')).json.documents).toHaveLength(before);
    expect((await api(p, 'GET', '/1/sync/Bad%20Name/pull', { token: a.token })).status).toBe(400);
    expect(
      (await api(p, 'GET', '/1/sync/keys/pull?checkpoint=%7Bnope', { token: a.token })).status,
    ).toBe(400);
    expect((await api(p, 'GET', '/1/sync/keys/pull')).status).toBe(401);
  });

  it('keeps an opaque recovery record', async () => {
    expect((await api(p, 'GET', '/1/recovery', { token: a.token })).status).toBe(404);
    const record = 'scrypt$opaque-wrapped-secret';
    expect((await api(p, 'PUT', '/1/recovery', { token: a.token, json: { record } })).status).toBe(
      200,
    );
    expect((await api(p, 'GET', '/1/recovery', { token: a.token })).json).toEqual({ record });
    const tooBig = await api(p, 'PUT', '/1/recovery', {
      token: a.token,
      json: { record: 'y'.repeat(70 * 1024) },
    });
    expect(tooBig.status).toBe(400);
    expect((await api(p, 'GET', '/1/recovery', { token: a.token })).json).toEqual({ record });
    // A first setup creates only (If-None-Match: *): it never replaces the record there is.
    const createOnly = await api(p, 'PUT', '/1/recovery', {
      token: a.token,
      json: { record: 'scrypt$another-device' },
      headers: { 'if-none-match': '*' },
    });
    expect(createOnly.status).toBe(412);
    expect((await api(p, 'GET', '/1/recovery', { token: a.token })).json).toEqual({ record });
  });
});

describe('malformed requests', () => {
  it('answers with a JSON error and a fitting status', async () => {
    const cases: [
      string,
      string,
      { raw?: string; headers?: Record<string, string> },
      number,
      string,
    ][] = [
      ['POST', '/1/users', { raw: '{"user":' }, 400, 'bad_request'],
      ['POST', '/1/users', { raw: '[1,2]' }, 400, 'bad_request'],
      ['POST', '/1/users', { raw: '{"user":{"login":"zed"}}' }, 400, 'bad_request'],
      [
        'POST',
        '/1/users',
        {
          raw: JSON.stringify({
            user: { login: 'zed', password_salt: 'xyz', password_verifier: 'ab' },
          }),
        },
        400,
        'bad_request',
      ],
      ['POST', '/1/sessions', { raw: '{"login":"zed","A":"not hex"}' }, 400, 'bad_request'],
      [
        'POST',
        '/1/users',
        { raw: JSON.stringify({ user: { login: 'zed', pad: 'x'.repeat(100_000) } }) },
        413,
        'too_large',
      ],
      ['GET', '/no/such/thing', {}, 404, 'not_found'],
      ['DELETE', '/provider.json', {}, 405, 'method_not_allowed'],
    ];
    for (const [method, path, options, status, code] of cases) {
      const res = await api(p, method, path, options);
      expect(res.status, `${method} ${path}`).toBe(status);
      expect(res.json.error.code).toBe(code);
      expect(res.json.error.message.length).toBeGreaterThan(5);
    }
    expect(await p.store.userByLogin('zed')).toBeNull();
  });

  it('accepts LEAP form-encoded sign-up', async () => {
    const res = await api(p, 'POST', '/1/users', {
      raw: 'user%5Blogin%5D=formuser&user%5Bpassword_salt%5D=abcd&user%5Bpassword_verifier%5D=0123',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(201);
    expect(res.json.address).toBe('formuser@alpha.test');
  });
});
