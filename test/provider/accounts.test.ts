import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { ImapFlow } from 'imapflow';
import * as srp from 'secure-remote-password/client.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allFiles,
  api,
  logIn,
  newAccount,
  sentRequests,
  signUp,
  startTestProvider,
  type TestProvider,
} from './helpers.js';

/** Sends one IMAP command over implicit TLS and returns everything up to its tagged reply. */
function imapExchange(p: TestProvider, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(
      { host: p.host, port: p.ports.imap, ca: p.caCertPem, servername: p.domain },
      () => {
        socket.write(`${command}\r\n`);
      },
    );
    const timer = setTimeout(
      () => socket.destroy(new Error(`no reply to IMAP command: ${text}`)),
      10_000,
    );
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (/^a1 (OK|NO|BAD)/m.test(text)) {
        clearTimeout(timer);
        socket.end('a2 LOGOUT\r\n');
        resolve(text);
      }
    });
    socket.on('error', reject);
  });
}

describe('accounts over SRP', () => {
  let p: TestProvider;
  beforeAll(async () => {
    p = await startTestProvider('alpha.test', '127.0.0.2');
  });
  afterAll(async () => p?.cleanup());

  it('signs up and logs in; the password never reaches the provider', async () => {
    const password = 'Tr0ub4dor&3-unique-password';
    const created = await signUp(p, 'carol', password);
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ login: 'carol', address: 'carol@alpha.test' });

    const session = await logIn(p, 'carol', password);
    expect(session.status).toBe(200);
    expect(session.serverProofError).toBeUndefined();
    expect(session.token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(session.id).toBe(created.json.id);

    // Every byte sent to the API (all requests go through the helper) lacks the password.
    expect(sentRequests.length).toBeGreaterThanOrEqual(3);
    expect(sentRequests.some((r) => r.includes(password))).toBe(false);
    // Nothing the provider keeps (database, WAL, logs, Dovecot files) contains the password
    // or the token in clear.
    for (const file of allFiles(p.dataDir)) {
      expect(file.includes(password)).toBe(false);
      expect(file.includes(session.token as string)).toBe(false);
    }
    // What the provider stores for the account is a salt and a verifier.
    const user = await p.store.userByLogin('carol');
    expect(user?.salt).toMatch(/^[0-9a-f]+$/);
    expect(user?.verifier).toMatch(/^[0-9a-f]{256,}$/);
  });

  it('refuses a sign-up that carries a password', async () => {
    const res = await api(p, 'POST', '/1/users', {
      json: {
        user: { login: 'dave', password: 'x', password_salt: 'ab', password_verifier: 'cd' },
      },
    });
    expect(res.status).toBe(400);
    expect(await p.store.userByLogin('dave')).toBeNull();
  });

  it('refuses a wrong password with LEAP 422 invalid_user_pass', async () => {
    await signUp(p, 'erin', 'right password');
    const session = await logIn(p, 'erin', 'wrong password');
    expect(session.status).toBe(422);
    expect(session.token).toBeUndefined();
    expect(session.responses[1]?.json).toEqual({ errors: { base: 'invalid_user_pass' } });
  });

  it('answers an unknown login like a known one (stable fake salt), then refuses', async () => {
    const first = await api(p, 'POST', '/1/sessions', {
      json: { login: 'nobody-here', A: srp.generateEphemeral().public },
    });
    const second = await api(p, 'POST', '/1/sessions', {
      json: { login: 'nobody-here', A: srp.generateEphemeral().public },
    });
    expect(first.status).toBe(200);
    expect(first.json.salt).toBe(second.json.salt);
    expect(first.json.salt).toHaveLength(srp.generateSalt().length);
    expect(first.json.B).not.toBe(second.json.B);
    const session = await logIn(p, 'nobody-here', 'anything');
    expect(session.status).toBe(422);
    expect(session.responses[1]?.json).toEqual({ errors: { base: 'invalid_user_pass' } });
  });

  it('lets the client detect a forged server proof', async () => {
    await signUp(p, 'frank', 'pw-frank');
    const ephemeral = srp.generateEphemeral();
    const hello = await api(p, 'POST', '/1/sessions', {
      json: { login: 'frank', A: ephemeral.public },
    });
    const session = srp.deriveSession(
      ephemeral.secret,
      hello.json.B,
      hello.json.salt,
      'frank',
      srp.derivePrivateKey(hello.json.salt, 'frank', 'pw-frank'),
    );
    const proof = await api(p, 'PUT', '/1/sessions/frank', {
      json: { client_auth: session.proof, A: ephemeral.public },
    });
    expect(proof.status).toBe(200);
    expect(() => srp.verifySession(ephemeral.public, session, proof.json.M2)).not.toThrow();
    // An impostor that does not know the verifier cannot compute M2; any other value fails.
    const forged = (proof.json.M2 as string).replace(/^./, (c) => (c === '0' ? '1' : '0'));
    expect(() => srp.verifySession(ephemeral.public, session, forged)).toThrow();
  });

  it('refuses a proof replayed after a successful login', async () => {
    await signUp(p, 'gina', 'pw-gina');
    const ephemeral = srp.generateEphemeral();
    const hello = await api(p, 'POST', '/1/sessions', {
      json: { login: 'gina', A: ephemeral.public },
    });
    const session = srp.deriveSession(
      ephemeral.secret,
      hello.json.B,
      hello.json.salt,
      'gina',
      srp.derivePrivateKey(hello.json.salt, 'gina', 'pw-gina'),
    );
    const body = { json: { client_auth: session.proof, A: ephemeral.public } };
    expect((await api(p, 'PUT', '/1/sessions/gina', body)).status).toBe(200);
    // The handshake was used up: the replay gets no token, only "start again".
    const replay = await api(p, 'PUT', '/1/sessions/gina', body);
    expect(replay.status).toBe(409);
    expect(replay.json.error.code).toBe('handshake_unknown');
    expect(replay.json.token).toBeUndefined();
  });

  it('validates logins as LEAP does and refuses duplicates', async () => {
    for (const login of ['a', '1abc', 'abc-', 'ab cd', 'UPPER_but_ok_no', 'postmaster']) {
      const res = await signUp(p, login, 'pw');
      if (login === 'UPPER_but_ok_no') continue; // lower-cased: a valid login
      expect(res.status, login).toBe(422);
      expect(res.json.error.code).toBe('invalid_login');
    }
    await signUp(p, 'hank', 'pw');
    const again = await signUp(p, 'hank', 'other');
    expect(again.status).toBe(422);
    expect(again.json.error.code).toBe('login_taken');
  });

  it('logs out (the token stops working) and changes the password', async () => {
    const account = await newAccount(p, 'ivan', 'old password');
    const second = await logIn(p, 'ivan', 'old password');
    const salt = srp.generateSalt();
    const verifier = srp.deriveVerifier(srp.derivePrivateKey(salt, 'ivan', 'new password'));
    const change = await api(p, 'PUT', `/1/users/${account.id}`, {
      token: account.token,
      json: { user: { password_salt: salt, password_verifier: verifier } },
    });
    expect(change.status).toBe(200);
    expect((await logIn(p, 'ivan', 'old password')).status).toBe(422);
    expect((await logIn(p, 'ivan', 'new password')).status).toBe(200);
    // Sessions opened with the old password end; the one that changed it stays.
    expect((await api(p, 'GET', '/1/recovery', { token: second.token })).status).toBe(401);
    expect((await api(p, 'GET', '/1/recovery', { token: account.token })).status).toBe(404);

    expect((await api(p, 'DELETE', '/1/logout', { token: account.token })).status).toBe(204);
    const after = await api(p, 'GET', '/1/recovery', { token: account.token });
    expect(after.status).toBe(401);
    expect(after.json.error.code).toBe('unauthorized');
  });

  it('changes nothing when one field of an account change is invalid', async () => {
    const account = await newAccount(p, 'iris', 'kept password');
    const salt = srp.generateSalt();
    const verifier = srp.deriveVerifier(srp.derivePrivateKey(salt, 'iris', 'new password'));
    const res = await api(p, 'PUT', `/1/users/${account.id}`, {
      token: account.token,
      json: { user: { password_salt: salt, password_verifier: verifier, public_key: 'not a key' } },
    });
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe('invalid_key');
    expect((await logIn(p, 'iris', 'kept password')).status).toBe(200);
    expect((await logIn(p, 'iris', 'new password')).status).toBe(422);
  });

  it('lets one session change only its own account', async () => {
    const a = await newAccount(p, 'judy');
    const b = await newAccount(p, 'kurt');
    const res = await api(p, 'PUT', `/1/users/${b.id}`, {
      token: a.token,
      json: { user: { password_salt: 'aa', password_verifier: 'bb' } },
    });
    expect(res.status).toBe(403);
    expect((await logIn(p, 'kurt', 'pw-kurt')).status).toBe(200);
  });

  it('introspects tokens only for the provider itself', async () => {
    const a = await newAccount(p, 'lena');
    const res = await api(p, 'POST', '/1/introspect', {
      raw: `token=${a.token}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(403);
    expect(res.body.toString()).not.toContain('lena');
  });

  it('logs in to Dovecot with the session token (OAUTHBEARER, XOAUTH2, PLAIN), not with a wrong one', async () => {
    const a = await newAccount(p, 'mia');
    const imap = new ImapFlow({
      host: p.host,
      port: p.ports.imap,
      secure: true,
      tls: { ca: p.caCertPem, servername: p.domain },
      auth: { user: a.address, accessToken: a.token },
      logger: false,
    });
    await imap.connect();
    const status = await imap.status('INBOX', { messages: true });
    expect(status && status.messages).toBe(0);
    await imap.logout();

    // imapflow always prefers OAUTHBEARER; XOAUTH2 is spoken by hand.
    const xoauth2 = Buffer.from(`user=${a.address}\x01auth=Bearer ${a.token}\x01\x01`).toString(
      'base64',
    );
    expect(await imapExchange(p, `a1 AUTHENTICATE XOAUTH2 ${xoauth2}`)).toMatch(/^a1 OK/m);
    const plain = Buffer.from(`\0${a.address}\0${a.token}`).toString('base64');
    expect(await imapExchange(p, `a1 AUTHENTICATE PLAIN ${plain}`)).toMatch(/^a1 OK/m);

    const log = readFileSync(p.dovecot.logPath, 'utf8');
    for (const method of ['OAUTHBEARER', 'XOAUTH2', 'PLAIN']) {
      expect(log).toContain(`Login: user=<mia@alpha.test>, method=${method}`);
    }

    const wrong = new ImapFlow({
      host: p.host,
      port: p.ports.imap,
      secure: true,
      tls: { ca: p.caCertPem, servername: p.domain },
      auth: { user: a.address, accessToken: 'not-a-token' },
      logger: false,
    });
    await expect(wrong.connect()).rejects.toThrow();
    // A valid token of one user does not open another user's mailbox.
    const other = await newAccount(p, 'noah');
    const crossed = new ImapFlow({
      host: p.host,
      port: p.ports.imap,
      secure: true,
      tls: { ca: p.caCertPem, servername: p.domain },
      auth: { user: other.address, accessToken: a.token },
      logger: false,
    });
    await expect(crossed.connect()).rejects.toThrow();
  });
});

describe('login limits and token expiry', () => {
  let p: TestProvider;
  // Moves the provider's clock instead of sleeping.
  let clockOffset = 0;
  beforeAll(async () => {
    p = await startTestProvider('limits.test', '127.0.0.1', {
      limits: { loginFailuresFree: 3, clientFailuresFree: 5, loginDelayFirstMs: 10 * 60_000 },
      clock: () => Date.now() + clockOffset,
    });
  });
  afterAll(async () => p?.cleanup());

  it('makes an address that keeps failing for an account wait, saying how long', async () => {
    await signUp(p, 'olga', 'right');
    for (let i = 0; i < 4; i++) expect((await logIn(p, 'olga', 'wrong')).status).toBe(422);
    const slowed = await logIn(p, 'olga', 'right');
    expect(slowed.status).toBe(429);
    expect(slowed.responses[0]?.json.error.code).toBe('rate_limited');
    expect(Number(slowed.responses[0]?.headers['retry-after'])).toBeGreaterThan(0);
    // Only this address waits; olga elsewhere does not (test/adversary/lockout.test.ts).
    expect((await logIn(p, 'olga', 'right', { from: '127.0.0.2' })).status).toBe(200);
  });

  it('makes an address that guesses across accounts wait', async () => {
    await signUp(p, 'pia', 'right');
    // 4 failures already come from the test above; 2 more pass the per-address 5 free ones.
    for (const login of ['x-one', 'x-two'])
      expect((await logIn(p, login, 'guess')).status).toBe(422);
    expect((await logIn(p, 'pia', 'right')).status).toBe(429);
  });

  it('expires a token after an hour without use, and each use restarts the hour', async () => {
    const minutes = 60_000;
    await signUp(p, 'quinn', 'pw-quinn');
    // The address slowed down by the tests above is let in again once its wait is over.
    clockOffset += 16 * minutes;
    const session = await logIn(p, 'quinn', 'pw-quinn');
    expect(session.status).toBe(200);
    const token = session.token as string;
    clockOffset += 40 * minutes;
    expect((await api(p, 'GET', '/1/recovery', { token })).status).toBe(404);
    clockOffset += 40 * minutes;
    expect((await api(p, 'GET', '/1/recovery', { token })).status).toBe(404);
    clockOffset += 61 * minutes;
    const expired = await api(p, 'GET', '/1/recovery', { token });
    expect(expired.status).toBe(401);
    expect(expired.json.error.code).toBe('unauthorized');
  });
});
