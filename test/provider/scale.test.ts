/**
 * Two provider processes on one PostgreSQL database, as behind a load balancer: any request
 * may land on either. Nothing a client relies on may live in one process only: a login
 * begun on one completes on the other, failed logins count on both, a document pushed
 * through one reaches a live stream held by the other, and when one stops the other serves
 * everything. (PostgreSQL only: the sqlite project leaves this file out.)
 */
import type { ClientRequest } from 'node:http';
import { request } from 'node:https';
import { randomBytes } from 'node:crypto';
import * as srp from 'secure-remote-password/client.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabase } from '../helpers/test-store.js';
import { waitFor } from '../helpers/wait.js';
import { api, logIn, newAccount, signUp, startTestProvider, type TestProvider } from './helpers.js';

const doc = (id: string, hash: string) => ({ id, deleted: false, ciphertext: `c-${hash}`, hash });

/** Handshake on `first`, proof on `second`. */
async function splitLogin(
  first: TestProvider,
  second: TestProvider,
  login: string,
  password: string,
) {
  const ephemeral = srp.generateEphemeral();
  const hello = await api(first, 'POST', '/1/sessions', { json: { login, A: ephemeral.public } });
  expect(hello.status).toBe(200);
  const { B, salt } = hello.json as { B: string; salt: string };
  const session = srp.deriveSession(
    ephemeral.secret,
    B,
    salt,
    login,
    srp.derivePrivateKey(salt, login, password),
  );
  const proof = () =>
    api(second, 'PUT', `/1/sessions/${login}`, {
      json: { client_auth: session.proof, A: ephemeral.public },
    });
  const answer = await proof();
  return { answer, again: proof, session, A: ephemeral.public };
}

/** An open change stream; `events` fills with each `data:` line's JSON. */
function openStream(p: TestProvider, token: string, collection: string) {
  const events: { documents: { id: string; updatedAt: number }[] }[] = [];
  let req: ClientRequest;
  const connected = new Promise<void>((resolve, reject) => {
    req = request(
      {
        host: p.host,
        port: p.ports.api,
        path: `/1/sync/${collection}/stream`,
        ca: p.caCertPem,
        servername: p.domain,
        headers: { authorization: `Token token="${token}"` },
      },
      (res) => {
        let buffer = '';
        res.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          if (buffer.includes(': connected')) resolve();
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (block.startsWith('data: ')) events.push(JSON.parse(block.slice(6)));
          }
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
  return { events, connected, close: () => req.destroy() };
}

describe('two provider processes on one PostgreSQL database', () => {
  let a: TestProvider;
  let b: TestProvider;

  beforeAll(async () => {
    const database = await testDatabase();
    // One provider: the same database and the same secret, each process its own data folder
    // (CA, Dovecot) as on its own machine.
    const shared = {
      database,
      secret: randomBytes(32).toString('hex'),
      limits: { loginFailuresFree: 2, clientFailuresFree: 100 },
    };
    a = await startTestProvider('alpha.test', '127.0.0.1', shared);
    b = await startTestProvider('alpha.test', '127.0.0.1', shared);
  });

  afterAll(async () => {
    await a?.cleanup();
    await b?.cleanup();
  });

  it('completes a login begun on one process on the other, once, and its token works on both', async () => {
    expect((await signUp(a, 'dana', 'pw-dana')).status).toBe(201);
    const { answer, again, session, A } = await splitLogin(a, b, 'dana', 'pw-dana');
    expect(answer.status).toBe(200);
    srp.verifySession(A, session, answer.json.M2); // the other process knew the secret
    // Used once, wherever the second try goes.
    expect((await again()).status).toBe(409);
    for (const p of [a, b])
      expect(
        (await api(p, 'GET', '/1/configs/smtp-service.json', { token: answer.json.token })).status,
      ).toBe(200);
  });

  it('tells an unknown login the same salt on every process', async () => {
    const salts = await Promise.all(
      [a, b].map(async (p) => {
        const hello = await api(p, 'POST', '/1/sessions', {
          json: { login: 'nobody-here', A: srp.generateEphemeral().public },
        });
        return hello.json.salt as string;
      }),
    );
    expect(salts[0]).toBe(salts[1]);
  });

  it('counts failed logins on both processes together', async () => {
    expect((await signUp(b, 'erik', 'pw-erik')).status).toBe(201);
    // Two free failures, the third earns a delay: spread over both processes.
    for (const p of [a, b, a]) expect((await logIn(p, 'erik', 'wrong password')).status).toBe(422);
    const next = await logIn(b, 'erik', 'pw-erik');
    expect(next.status).toBe(429);
    expect(next.responses[0]!.json.error.code).toBe('rate_limited');
  });

  it('delivers a document pushed through one process to a live stream held by the other', async () => {
    const account = await newAccount(a, 'fay');
    const stream = openStream(b, account.token, 'contacts');
    try {
      await stream.connected;
      const push = await api(a, 'POST', '/1/sync/contacts/push', {
        token: account.token,
        json: {
          rows: [
            { assumedMasterState: null, newDocumentState: doc('c1', 'h1') },
            { assumedMasterState: null, newDocumentState: doc('c2', 'h2') },
          ],
        },
      });
      expect(push.json.conflicts).toEqual([]);
      const seen = await waitFor('the change on the other process', () =>
        stream.events.length > 0 ? stream.events : undefined,
      );
      expect(seen.flatMap((e) => e.documents.map((d) => d.id))).toEqual(['c1', 'c2']);
    } finally {
      stream.close();
    }
  });

  it('keeps serving everything through one process when the other stops', async () => {
    const account = await newAccount(a, 'gus');
    const rows = Array.from({ length: 20 }, (_, i) => ({
      assumedMasterState: null,
      newDocumentState: doc(`d${i}`, `h${i}`),
    }));
    // Pushes through both, at once: one clock, nothing lost.
    const pushes = await Promise.all(
      rows.map((row, i) =>
        api(i % 2 ? a : b, 'POST', '/1/sync/notes/push', {
          token: account.token,
          json: { rows: [row] },
        }),
      ),
    );
    expect(pushes.map((p) => p.status)).toEqual(rows.map(() => 200));
    await a.stop();
    const pulled = await api(b, 'GET', '/1/sync/notes/pull?limit=100', { token: account.token });
    const times = pulled.json.documents.map((d: { updatedAt: number }) => d.updatedAt);
    expect(pulled.json.documents).toHaveLength(20);
    expect(new Set(times).size).toBe(20);
    // The session made on the stopped process is good on the other (404: no record yet, not
    // 401), and a new login works there.
    expect((await api(b, 'GET', '/1/recovery', { token: account.token })).status).toBe(404);
    expect((await logIn(b, 'gus', 'pw-gus')).status).toBe(200);
  });
});
