/**
 * The provider's side of the memory-hard SRP key: it keeps the client's description of how
 * x is derived beside the salt, hands it out in the handshake (for unknown logins too, so
 * they look like current accounts), refuses a description it cannot vouch for, lets a move
 * from the fast hash keep the account's other sessions, and reads a database made before
 * the description existed. The provider never derives x: the verifiers here are arbitrary.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import * as srp from 'secure-remote-password/client.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../provider/src/store/index.js';
import { api, logIn, newAccount, startTestProvider, type TestProvider } from './helpers.js';

const KDF = { algorithm: 'scrypt', N: 2 ** 17, r: 8, p: 1 };
const verifier = () => srp.deriveVerifier(srp.generateSalt());
const hello = (p: TestProvider, login: string) =>
  api(p, 'POST', '/1/sessions', { json: { login, A: srp.generateEphemeral().public } });

describe('the password key description at the provider', () => {
  let p: TestProvider;
  beforeAll(async () => {
    p = await startTestProvider('alpha.test');
  });
  afterAll(async () => p?.cleanup());

  it('keeps it beside the salt and hands it out in the handshake', async () => {
    const salt = srp.generateSalt();
    const created = await api(p, 'POST', '/1/users', {
      json: {
        user: {
          login: 'kara',
          password_salt: salt,
          password_verifier: verifier(),
          password_kdf: { ...KDF, comment: 'unknown fields are not kept' },
        },
      },
    });
    expect(created.status).toBe(201);
    expect((await p.store.userByLogin('kara'))?.kdf).toEqual(KDF);
    expect((await hello(p, 'kara')).json).toMatchObject({ salt, kdf: KDF });
  });

  it('hands an unknown login a description too, as for a current account', async () => {
    const answer = await hello(p, 'nobody-here');
    expect(answer.status).toBe(200);
    expect(answer.json.kdf).toEqual(KDF);
  });

  it('refuses a description it does not know or that is out of range, and stores nothing', async () => {
    const bad: [unknown, RegExp][] = [
      [{ ...KDF, algorithm: 'md5' }, /algorithm "md5" is not known/],
      [{ ...KDF, N: 1000 }, /out of the allowed range/],
      [{ ...KDF, N: 2 ** 24 }, /out of the allowed range/],
      [{ ...KDF, prehash: { algorithm: 'srp-sha256', salt: 'xyz' } }, /prehash salt/],
      ['scrypt', /not an object/],
    ];
    for (const [kdf, message] of bad) {
      const res = await api(p, 'POST', '/1/users', {
        json: {
          user: {
            login: 'lena',
            password_salt: srp.generateSalt(),
            password_verifier: verifier(),
            password_kdf: kdf,
          },
        },
      });
      expect(res.status).toBe(400);
      expect(res.json.error.message).toMatch(message);
    }
    expect(await p.store.userByLogin('lena')).toBeNull();
  });

  it('keeps the other sessions when an account moves from the fast hash, not on a new password', async () => {
    const account = await newAccount(p, 'mona', 'the password');
    const other = await logIn(p, 'mona', 'the password');
    const legacySalt = (await p.store.userByLogin('mona'))!.salt;
    expect((await p.store.userByLogin('mona'))!.kdf).toBeNull();
    const move = {
      password_salt: srp.generateSalt(),
      password_verifier: verifier(),
      password_kdf: { ...KDF, prehash: { algorithm: 'srp-sha256', salt: legacySalt } },
    };
    const moved = await api(p, 'PUT', `/1/users/${account.id}`, {
      token: account.token,
      json: { user: move },
    });
    expect(moved.status).toBe(200);
    expect(await p.store.userByLogin('mona')).toMatchObject({
      salt: move.password_salt,
      kdf: move.password_kdf,
    });
    expect((await api(p, 'GET', '/1/recovery', { token: other.token })).status).toBe(404);

    // A new password (a description without the current salt as prehash) ends them.
    const changed = await api(p, 'PUT', `/1/users/${account.id}`, {
      token: account.token,
      json: {
        user: {
          password_salt: srp.generateSalt(),
          password_verifier: verifier(),
          password_kdf: KDF,
        },
      },
    });
    expect(changed.status).toBe(200);
    expect((await p.store.userByLogin('mona'))?.kdf).toEqual(KDF);
    expect((await api(p, 'GET', '/1/recovery', { token: other.token })).status).toBe(401);
    expect((await api(p, 'GET', '/1/recovery', { token: account.token })).status).toBe(404);
  });
});

describe("the provider's store from before the description", () => {
  it('reads its accounts as the fast hash and stores a description for them later', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'provider-old-'));
    try {
      const file = join(dir, 'provider.sqlite');
      const old = new Database(file);
      // The users table as the first release made it.
      old.exec(`CREATE TABLE users (
        id TEXT PRIMARY KEY, login TEXT NOT NULL UNIQUE, address TEXT NOT NULL UNIQUE,
        wkd_hash TEXT NOT NULL, salt TEXT NOT NULL, verifier TEXT NOT NULL, public_key TEXT,
        key_fingerprint TEXT UNIQUE, created_at INTEGER NOT NULL,
        sync_clock INTEGER NOT NULL DEFAULT 0)`);
      old
        .prepare('INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, 0)')
        .run('u1', 'nora', 'nora@alpha.test', 'h', 'aa'.repeat(32), 'bb', 1);
      old.close();

      const store = openSqliteStore(file);
      try {
        expect(await store.userByLogin('nora')).toMatchObject({ salt: 'aa'.repeat(32), kdf: null });
        await store.setPassword('u1', 'cc'.repeat(32), 'dd', {
          algorithm: 'scrypt',
          N: 2 ** 17,
          r: 8,
          p: 1,
        });
        expect((await store.userByLogin('nora'))?.kdf).toEqual(KDF);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
