/**
 * Accounts over SRP-6a (secure-remote-password): sign-up with salt and verifier, the
 * two-step login, logout, password and key changes, and token introspection for the
 * provider's own Dovecot and relay. The password never reaches this code.
 */
import { randomBytes } from 'node:crypto';
import {
  DEFAULT_SCRYPT,
  parsePasswordKdf,
  type PasswordKdf,
} from '../../../shared/src/password-kdf.js';
import * as srpClient from 'secure-remote-password/client.js';
import * as srp from 'secure-remote-password/server.js';
import {
  derived,
  introspectionPassword,
  issueToken,
  hashToken,
  safeEqual,
  userForToken,
} from '../auth/index.js';
import type { ProviderContext } from '../context.js';
import { ProviderError } from '../errors.js';
import { checkPublicKey, wkdHash } from '../keys/index.js';
import { LoginLimits, clientAddress, type Client } from '../limits/index.js';
import type { UserRecord } from '../store/index.js';
import { obj, str, type Request, type Router } from './http.js';

const LOGIN = /^[a-z][a-z0-9_.-]{0,62}[a-z0-9]$/;
const RESERVED = new Set([
  'postmaster',
  'abuse',
  'hostmaster',
  'webmaster',
  'root',
  'admin',
  'mailer-daemon',
  'noreply',
]);
const HEX = /^[0-9a-f]+$/i;

const invalidUserPass = () => ({ status: 422, json: { errors: { base: 'invalid_user_pass' } } });

function hex(value: string, field: string, maxLength: number): string {
  if (!HEX.test(value) || value.length > maxLength) {
    throw new ProviderError(
      'bad_request',
      `Field "${field}" must be hexadecimal (at most ${maxLength} digits)`,
      400,
    );
  }
  return value.toLowerCase();
}

/**
 * `password_kdf`: how the client derives SRP's x (shared/src/password-kdf.ts), stored beside
 * the salt and handed out in the handshake. Absent: the library's fast hash, as clients
 * before it sent; the host moves such accounts at login.
 */
function passwordKdf(fields: Record<string, unknown>, salt: string): PasswordKdf | null {
  if (fields['password_kdf'] === undefined || fields['password_kdf'] === null) return null;
  const parsed = parsePasswordKdf(fields['password_kdf']);
  if ('error' in parsed)
    throw new ProviderError('bad_request', `Field "password_kdf": ${parsed.error}`, 400);
  if (salt.length % 2 !== 0 || salt.length < 32)
    throw new ProviderError(
      'bad_request',
      'Field "password_salt" must be 16 bytes or more of hexadecimal with "password_kdf"',
      400,
    );
  return parsed.kdf;
}

/** What an unknown login's handshake says, so it looks like a current account's. */
const FAKE_KDF: PasswordKdf = { algorithm: 'scrypt', ...DEFAULT_SCRYPT };

export function checkLogin(login: string): void {
  if (!LOGIN.test(login)) {
    throw new ProviderError(
      'invalid_login',
      'The login must be 2 to 64 characters: lower-case letters, digits, "-", "_" or "."; start with a letter and end with a letter or digit',
      422,
    );
  }
  if (RESERVED.has(login))
    throw new ProviderError('invalid_login', `The login "${login}" is reserved`, 422);
}

/** `Authorization: Token token="..."` (LEAP) or `Bearer ...`. */
export function tokenFrom(req: Request): string {
  const header = String(req.headers.authorization ?? '');
  const leap = /^Token token="?([^"]+)"?$/i.exec(header);
  const bearer = /^Bearer (\S+)$/i.exec(header);
  return leap?.[1] ?? bearer?.[1] ?? '';
}

export async function requireUser(
  ctx: ProviderContext,
  req: Request,
): Promise<{ user: UserRecord; token: string }> {
  const token = tokenFrom(req);
  const user = token ? await userForToken(ctx, token) : null;
  if (!user)
    throw new ProviderError(
      'unauthorized',
      'Log in again: the session token is missing, unknown or expired',
      401,
    );
  return { user, token };
}

interface Handshake {
  login: string;
  secret: string;
  salt: string;
  verifier: string;
}

export function addAccountRoutes(router: Router, ctx: ProviderContext): void {
  const limits = new LoginLimits<Handshake>(ctx.limits, ctx.now, ctx.store);
  const handshakes = limits.pending;

  // A caller that already holds a session for this login (a device renewing its token) is
  // a client of its own; anyone else is counted by address.
  const clientOf = async (req: Request, login: string): Promise<Client> => {
    const token = tokenFrom(req);
    if (token && (await userForToken(ctx, token))?.login === login)
      return { key: `session ${hashToken(token)}`, kind: 'session' };
    const address = clientAddress(
      req.remoteAddress,
      req.headers['x-forwarded-for'],
      ctx.limits.trustedProxies,
    );
    return { key: address, kind: 'address' };
  };

  // Unknown logins get a salt and verifier derived from the provider secret, stable across
  // restarts, so the handshake looks the same as for a real account and the proof just fails.
  const fakeAccount = (login: string) => ({
    kdf: FAKE_KDF,
    salt: derived(ctx, 'fake-salt', login).toString('hex'),
    verifier: srpClient.deriveVerifier(derived(ctx, 'fake-x', login).toString('hex')),
  });

  router.add('POST', /^\/1\/users(?:\.json)?$/, async (req) => {
    if (!ctx.allowRegistration)
      throw new ProviderError('registration_closed', 'This provider does not accept sign-ups', 403);
    const user = obj(await req.body(), 'user');
    const login = str(user, 'login', 64).toLowerCase();
    checkLogin(login);
    const salt = hex(str(user, 'password_salt'), 'password_salt', 256);
    const verifier = hex(str(user, 'password_verifier'), 'password_verifier', 2048);
    const kdf = passwordKdf(user, salt);
    if ('password' in user) {
      throw new ProviderError('bad_request', 'Send a salt and verifier, never the password', 400);
    }
    if (await ctx.store.userByLogin(login))
      throw new ProviderError('login_taken', `The login "${login}" is already taken`, 422);
    const address = `${login}@${ctx.domain}`;
    const created = await ctx.store.createUser({
      id: randomBytes(16).toString('hex'),
      login,
      address,
      salt,
      verifier,
      kdf,
      wkdHash: wkdHash(login),
    });
    return {
      status: 201,
      json: { id: created.id, login: created.login, address: created.address },
    };
  });

  router.add('POST', /^\/1\/sessions(?:\.json)?$/, async (req) => {
    const body = await req.body();
    const login = str(body, 'login', 64).toLowerCase();
    const A = hex(str(body, 'A'), 'A', 1024);
    const client = await clientOf(req, login);
    await limits.checkStart(login, client);
    const account = (await ctx.store.userByLogin(login)) ?? fakeAccount(login);
    const ephemeral = srp.generateEphemeral(account.verifier);
    await handshakes.add(
      client.key,
      `${login}\n${A}`,
      {
        login,
        secret: ephemeral.secret,
        salt: account.salt,
        verifier: account.verifier,
      },
      ctx.now(),
    );
    return {
      json: {
        B: ephemeral.public,
        salt: account.salt,
        ...(account.kdf ? { kdf: account.kdf } : {}),
      },
    };
  });

  router.add('PUT', /^\/1\/sessions\/([^/]+?)(?:\.json)?$/, async (req) => {
    const login = (req.params[0] ?? '').toLowerCase();
    const body = await req.body();
    const proof = hex(str(body, 'client_auth'), 'client_auth', 256);
    const A = hex(str(body, 'A'), 'A', 1024);
    const client = await clientOf(req, login);
    await limits.checkProof(login, client);
    const handshake = await handshakes.take(`${login}\n${A}`, ctx.now());
    // Not a guess (no proof can be checked without the handshake), so not counted as one.
    if (!handshake) {
      throw new ProviderError(
        'handshake_unknown',
        'This login was not started, took too long, or was replaced by newer ones from the same address; start logging in again',
        409,
      );
    }
    const user = await ctx.store.userByLogin(login);
    let serverProof: string | null = null;
    try {
      serverProof = srp.deriveSession(
        handshake.secret,
        A,
        handshake.salt,
        login,
        handshake.verifier,
        proof,
      ).proof;
    } catch {
      serverProof = null;
    }
    if (!serverProof || !user) {
      await limits.failed(login, client);
      return invalidUserPass();
    }
    await limits.succeeded(login, client);
    return { json: { M2: serverProof, id: user.id, token: await issueToken(ctx, user.id) } };
  });

  router.add('DELETE', /^\/1\/logout(?:\.json)?$/, async (req) => {
    const { token } = await requireUser(ctx, req);
    await ctx.store.deleteToken(hashToken(token));
    return { status: 204, bytes: '', type: 'text/plain' };
  });

  router.add('PUT', /^\/1\/users\/([^/]+?)(?:\.json)?$/, async (req) => {
    const { user, token } = await requireUser(ctx, req);
    if (req.params[0] !== user.id)
      throw new ProviderError('forbidden', 'A session may change only its own account', 403);
    const changes = obj(await req.body(1024 * 1024), 'user');
    const wantsPassword =
      'password_salt' in changes || 'password_verifier' in changes || 'password_kdf' in changes;
    const wantsKey = 'public_key' in changes;
    if (!wantsPassword && !wantsKey) {
      throw new ProviderError(
        'bad_request',
        'Nothing to change: send password_salt + password_verifier (+ password_kdf) or public_key',
        400,
      );
    }
    // Validate everything first, so a bad field changes nothing.
    const password = wantsPassword ? passwordChange(changes, user) : null;
    const key = wantsKey
      ? await checkPublicKey(str(changes, 'public_key', 512 * 1024), user.address)
      : null;
    if (key) {
      const owner = await ctx.store.userByFingerprint(key.fingerprint);
      if (owner && owner.id !== user.id)
        throw new ProviderError('invalid_key', 'This key belongs to another account', 422);
    }
    if (password) {
      await ctx.store.setPassword(user.id, password.salt, password.verifier, password.kdf);
      // Other sessions were opened with the old password; only this one stays valid. A move
      // from the fast hash keeps the password, and the other devices move from the x they
      // hold: their sessions stay.
      if (!password.upgrade) await ctx.store.deleteTokensOf(user.id, hashToken(token));
    }
    if (key) {
      await ctx.store.setPublicKey(user.id, key.armored, key.fingerprint);
      ctx.onKeyUploaded({ ...user, publicKey: key.armored, keyFingerprint: key.fingerprint });
    }
    return {
      json: {
        id: user.id,
        login: user.login,
        address: user.address,
        key_fingerprint: key?.fingerprint ?? user.keyFingerprint,
      },
    };
  });

  router.add('POST', /^\/1\/introspect$/, async (req) => {
    if (!isLoopback(req.remoteAddress) || !internalCaller(ctx, req)) {
      throw new ProviderError('forbidden', 'Introspection is only for the provider itself', 403);
    }
    const token = String((await req.body())['token'] ?? '');
    const user = await userForToken(ctx, token);
    return {
      json: user ? { active: true, username: user.address, sub: user.id } : { active: false },
    };
  });
}

function passwordChange(changes: Record<string, unknown>, user: UserRecord) {
  const salt = hex(str(changes, 'password_salt'), 'password_salt', 256);
  const verifier = hex(str(changes, 'password_verifier'), 'password_verifier', 2048);
  const kdf = passwordKdf(changes, salt);
  // A move from the fast hash names the current salt as its prehash: the same password, so
  // the account's other sessions may stay. (This cannot be checked here; a session that lied
  // keeps nothing it did not have: each other device proves its x again at its next renewal.)
  const upgrade = user.kdf === null && kdf?.prehash?.salt === user.salt;
  return { salt, verifier, kdf, upgrade };
}

function internalCaller(ctx: ProviderContext, req: Request): boolean {
  const basic = /^Basic (.+)$/i.exec(String(req.headers.authorization ?? ''));
  if (!basic?.[1]) return false;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const password = decoded.slice(decoded.indexOf(':') + 1);
  return safeEqual(password, introspectionPassword(ctx));
}

export function isLoopback(address: string): boolean {
  return /^(::ffff:)?127\./.test(address) || address === '::1';
}
