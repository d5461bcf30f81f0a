/**
 * A logged-in session with a LEAP-style provider: SRP-6a sign-up and login (the password
 * never leaves this machine; the server's proof M2 is verified), the session token, and
 * requests to the API over the provider's pinned CA only.
 *
 * The token is renewed by logging in again before it is likely to have expired and
 * whenever the provider says it has, so incoming mail never stops because a token
 * expired (Bitmask's most reported failure). For that the session keeps SRP's private key
 * x in memory — enough to log in again, not the password itself, which is not needed
 * after login and is not kept. x is memory-hard (srp-key.ts); an account still on the
 * library's fast hash is moved to it right after it logs in.
 */
import srp from 'secure-remote-password/client.js';
import { isSaltHex, parsePasswordKdf } from '../../../shared/src/password-kdf.js';
import { httpsRequest, NetError, type HttpsResponse, type Resolver } from '../net/index.js';
import type { ProviderInfo } from './bootstrap.js';
import { ProviderClientError } from './errors.js';
import {
  keyForOffer,
  newLoginKey,
  upgradedLoginKey,
  type KeyOffer,
  type LoginKey,
  type NewLoginKey,
} from './srp-key.js';

export interface SessionOptions {
  resolver?: Resolver;
  /** Log in again after this long without a successful request (the provider's idle
   * expiry is an hour; LEAP's was too). */
  renewAfterMs?: number;
  timeoutMs?: number;
  now?: () => number;
  /** This device has seen the account use a memory-hard x: a handshake asking for the fast
   * hash is refused (a downgrade), not answered. */
  memoryHard?: boolean;
  /** Called when x changes after the session opened (moved from the fast hash, or moved by
   * another device), so the caller can keep the new one. */
  onLoginKey?: (key: LoginKey) => void | Promise<void>;
}

export interface ServiceEndpoint {
  /** Address to connect to. */
  host: string;
  port: number;
  /** Name the certificate must carry. */
  servername: string;
  /** The provider's CA: the only one trusted. */
  ca: string;
}

const LOGIN = /^[a-z][a-z0-9._-]{0,62}[a-z0-9]$/;

export function checkLogin(login: string): string {
  const normalised = login.trim().toLowerCase();
  if (!LOGIN.test(normalised)) {
    throw new ProviderClientError(
      'invalid_username',
      'A user name has 2 to 64 characters: lower-case letters, digits, ".", "-" or "_", starting with a letter and ending with a letter or digit.',
    );
  }
  return normalised;
}

export class ProviderSession {
  private tokenValue: string;
  private lastSuccess: number;
  private renewing: Promise<string> | null = null;
  /** Why moving the account from the fast hash failed at login, if it did (it is retried at
   * the next one). */
  upgradeError: string | null = null;

  private constructor(
    readonly provider: ProviderInfo,
    readonly login: string,
    readonly userId: string,
    private key: LoginKey,
    token: string,
    private readonly options: SessionOptions,
  ) {
    this.tokenValue = token;
    this.lastSuccess = this.now();
  }

  get address(): string {
    return `${this.login}@${this.provider.domain}`;
  }

  /** Creates the account (salt and verifier only are sent), then logs in. */
  static async signUp(
    provider: ProviderInfo,
    loginInput: string,
    password: string,
    options: SessionOptions = {},
  ): Promise<ProviderSession> {
    const login = checkLogin(loginInput);
    const closed = () =>
      new ProviderClientError(
        'registration_closed',
        `${provider.name} does not accept new accounts.`,
      );
    if (!provider.allowRegistration) throw closed();
    const key = await newLoginKey(login, password);
    const res = await call(provider, options, 'POST', '/1/users', {
      user: {
        login,
        password_salt: key.salt,
        password_verifier: key.verifier,
        password_kdf: key.kdf,
      },
    });
    if (res.status === 422 || res.status === 409) {
      const code = errorCode(res);
      if (code === 'login_taken' || /taken/i.test(res.body.toString())) {
        throw new ProviderClientError(
          'username_taken',
          `The user name "${login}" is already taken at ${provider.domain}. Choose another one.`,
        );
      }
      throw new ProviderClientError(
        'invalid_username',
        errorMessage(res) ?? `${provider.domain} did not accept the user name "${login}".`,
      );
    }
    if (res.status === 403) throw closed();
    expectOk(res, provider, 'create the account');
    // The x just derived answers the handshake: no second scrypt.
    return ProviderSession.open(
      provider,
      login,
      { key: { x: key.x, salt: key.salt, kdf: key.kdf } },
      options,
    );
  }

  static async logIn(
    provider: ProviderInfo,
    loginInput: string,
    password: string,
    options: SessionOptions = {},
  ): Promise<ProviderSession> {
    const login = checkLogin(loginInput);
    return ProviderSession.open(provider, login, { password }, options);
  }

  /**
   * Logs in again after a restart with SRP's x kept (wrapped) on this machine, so the user
   * does not have to type the password each time Thunderbird starts.
   */
  static resume(
    provider: ProviderInfo,
    login: string,
    key: LoginKey,
    options: SessionOptions = {},
  ): Promise<ProviderSession> {
    return ProviderSession.open(provider, checkLogin(login), { key }, options);
  }

  private static async open(
    provider: ProviderInfo,
    login: string,
    held: { password: string } | { key: LoginKey },
    options: SessionOptions,
  ): Promise<ProviderSession> {
    const result = await srpLogin(provider, login, held, options);
    const session = new ProviderSession(
      provider,
      login,
      result.userId,
      result.key,
      result.token,
      options,
    );
    if (result.key.kdf === null) {
      // Logged in with the fast hash: move the account now, over this session. A failure
      // leaves the login working as before; the next login tries again.
      try {
        await session.upgradeLoginKey();
      } catch (error) {
        session.upgradeError = error instanceof Error ? error.message : String(error);
      }
    } else if ('key' in held && held.key !== result.key) {
      await options.onLoginKey?.(result.key); // another device moved it: keep the new x
    }
    return session;
  }

  /** SRP's x, for keeping (wrapped) on this machine; it logs in but cannot open the recovery record. */
  get loginKey(): string {
    return this.key.x;
  }

  /** x with the salt and description it was derived under, for keeping beside it. */
  get loginKeyInfo(): LoginKey {
    return { ...this.key };
  }

  /**
   * Replaces the fast-hash verifier at the provider by a memory-hard one derived from the
   * current x. The provider keeps the account's other sessions: the password is the same,
   * and the other devices move to the new x on their next login from the x they keep.
   */
  async upgradeLoginKey(): Promise<void> {
    const current = this.key;
    if (current.kdf !== null || current.salt === undefined) return;
    await this.replaceLoginKey(await upgradedLoginKey({ ...current, salt: current.salt }));
  }

  /** The current token, renewed first when it is probably stale. */
  async token(options: { fresh?: boolean } = {}): Promise<string> {
    if (options.fresh || this.now() - this.lastSuccess > (this.options.renewAfterMs ?? 50 * 60_000))
      return this.renew();
    return this.tokenValue;
  }

  /** An authenticated API request; logs in again once if the provider says the token expired. */
  async request(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    json?: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpsResponse> {
    const send = async (token: string) =>
      call(this.provider, this.options, method, path, json, token, headers);
    let res = await send(await this.token());
    if (res.status === 401) res = await send(await this.renew());
    if (res.status === 401)
      throw new ProviderClientError(
        'session_expired',
        `${this.provider.domain} no longer accepts this session. Log in again.`,
      );
    if (res.status < 500) this.lastSuccess = this.now();
    return res;
  }

  async requestJson<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    json?: unknown,
  ): Promise<T> {
    const res = await this.request(method, path, json);
    expectOk(res, this.provider, `${method} ${path}`);
    return (res.body.length ? JSON.parse(res.body.toString('utf8')) : null) as T;
  }

  /** Where the provider's IMAP (implicit TLS) or submission relay is, from its service config. */
  async serviceEndpoint(service: 'imap' | 'smtp'): Promise<ServiceEndpoint> {
    const config = await this.requestJson<{
      hosts?: Record<string, { hostname?: string; ip_address?: string; port?: number }>;
    }>('GET', `/1/configs/${service}-service.json`);
    const host = Object.values(config?.hosts ?? {})[0];
    if (!host?.hostname || !host.port) {
      throw new ProviderClientError(
        'invalid_provider',
        `${this.provider.domain} does not say where its ${service.toUpperCase()} server is.`,
      );
    }
    const mapped = this.options.resolver?.(host.hostname);
    const address = mapped ? new URL(mapped.origin).hostname : (host.ip_address ?? host.hostname);
    return {
      host: address,
      port: host.port,
      servername: host.hostname,
      ca: this.provider.caCertPem,
    };
  }

  async changePassword(newPassword: string): Promise<void> {
    await this.replaceLoginKey(await newLoginKey(this.login, newPassword));
  }

  /** Stores a new salt, verifier and description at the provider, then uses the new x. */
  private async replaceLoginKey(next: NewLoginKey): Promise<void> {
    await this.requestJson('PUT', `/1/users/${encodeURIComponent(this.userId)}`, {
      user: {
        password_salt: next.salt,
        password_verifier: next.verifier,
        password_kdf: next.kdf,
      },
    });
    this.key = { x: next.x, salt: next.salt, kdf: next.kdf };
    await this.options.onLoginKey?.(this.loginKeyInfo);
  }

  async logout(): Promise<void> {
    await call(
      this.provider,
      this.options,
      'DELETE',
      '/1/logout',
      undefined,
      this.tokenValue,
    ).catch(() => undefined);
    this.key = { x: '', kdf: null };
  }

  private renew(): Promise<string> {
    this.renewing ??= (async () => {
      try {
        if (!this.key.x)
          throw new ProviderClientError('session_expired', 'You logged out; log in again.');
        const held = this.key;
        // A session that holds a memory-hard x never answers with a fast one. The token
        // still held goes along: a provider counts a device renewing its own session apart
        // from everyone else, so another's failed guesses do not slow it down.
        const { token, key } = await srpLogin(
          this.provider,
          this.login,
          { key: held },
          {
            ...this.options,
            memoryHard: this.options.memoryHard || held.kdf !== null,
          },
          this.tokenValue,
        );
        this.tokenValue = token;
        this.lastSuccess = this.now();
        if (key !== held) {
          this.key = key;
          await this.options.onLoginKey?.(this.loginKeyInfo);
        }
        return token;
      } finally {
        this.renewing = null;
      }
    })();
    return this.renewing;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }
}

/** SRP-6a handshake and proof; verifies the server's proof before trusting the token. */
async function srpLogin(
  provider: ProviderInfo,
  login: string,
  held: { password: string } | { key: LoginKey },
  options: SessionOptions,
  heldToken?: string,
): Promise<{ userId: string; token: string; key: LoginKey }> {
  const ephemeral = srp.generateEphemeral();
  const hello = await call(
    provider,
    options,
    'POST',
    '/1/sessions',
    { login, A: ephemeral.public },
    heldToken,
  );
  if (hello.status === 429) throw rateLimited(provider, hello);
  expectOk(hello, provider, 'start logging in');
  const { B, salt, kdf } = parseJson<{ B?: string; salt?: string; kdf?: unknown }>(hello, provider);
  if (typeof B !== 'string' || typeof salt !== 'string')
    throw serverError(provider, 'its login answer lacks B or salt');
  const key = await keyForOffer(offerOf(provider, salt, kdf), held, {
    login,
    domain: provider.domain,
    memoryHard: options.memoryHard ?? false,
  });
  let session: { key: string; proof: string };
  try {
    session = srp.deriveSession(ephemeral.secret, B, salt, login, key.x);
  } catch {
    throw new ProviderClientError(
      'server_proof_invalid',
      `${provider.domain} sent an invalid login challenge. LeapBird did not continue.`,
    );
  }
  const proof = await call(
    provider,
    options,
    'PUT',
    `/1/sessions/${encodeURIComponent(login)}`,
    { client_auth: session.proof, A: ephemeral.public },
    heldToken,
  );
  if (proof.status === 422)
    throw new ProviderClientError('wrong_password', 'The user name or password is wrong.');
  if (proof.status === 429) throw rateLimited(provider, proof);
  expectOk(proof, provider, 'log in');
  const { M2, id, token } = parseJson<{ M2?: string; id?: string; token?: string }>(
    proof,
    provider,
  );
  try {
    srp.verifySession(ephemeral.public, session, String(M2));
  } catch {
    // The server does not know our verifier: it is not the provider we signed up with.
    throw new ProviderClientError(
      'server_proof_invalid',
      `${provider.domain} could not prove that it knows your account. It may be an impostor, so LeapBird did not log in.`,
    );
  }
  if (typeof token !== 'string' || !token || typeof id !== 'string')
    throw serverError(provider, 'its login answer lacks a token');
  return { userId: id, token, key };
}

/** The handshake's salt and password key description; absent or null means the fast hash. */
function offerOf(provider: ProviderInfo, salt: string, kdf: unknown): KeyOffer {
  if (kdf === undefined || kdf === null) return { salt, kdf: null };
  const parsed = parsePasswordKdf(kdf);
  if ('error' in parsed) throw serverError(provider, `in its login answer, ${parsed.error}`);
  if (!isSaltHex(salt))
    throw serverError(provider, 'its login answer has a salt LeapBird cannot use');
  return { salt, kdf: parsed.kdf };
}

async function call(
  provider: ProviderInfo,
  options: SessionOptions,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  json?: unknown,
  token?: string,
  headers: Record<string, string> = {},
): Promise<HttpsResponse> {
  try {
    return await httpsRequest({
      url: `${provider.apiUri}${path}`,
      method,
      json,
      resolver: options.resolver,
      ca: provider.caCertPem,
      headers: { ...headers, ...(token ? { authorization: `Token token="${token}"` } : {}) },
      timeoutMs: options.timeoutMs ?? 20_000,
    });
  } catch (error) {
    if (error instanceof NetError) {
      const code = error.code === 'certificate_mismatch' ? 'certificate_mismatch' : 'unreachable';
      const message =
        code === 'certificate_mismatch'
          ? `${provider.domain} presented a certificate its pinned certificate authority did not sign. Someone may be intercepting the connection, so LeapBird refused it.`
          : `${provider.domain} could not be reached. Check the network connection; LeapBird keeps working offline and retries.`;
      throw new ProviderClientError(code, message, error.detail ?? error.message);
    }
    throw error;
  }
}

function parseJson<T>(res: HttpsResponse, provider: ProviderInfo): T {
  try {
    return JSON.parse(res.body.toString('utf8')) as T;
  } catch {
    throw serverError(provider, 'it answered with something that is not JSON');
  }
}

function errorCode(res: HttpsResponse): string | undefined {
  try {
    const json = JSON.parse(res.body.toString('utf8')) as { error?: { code?: string } };
    return json.error?.code;
  } catch {
    return undefined;
  }
}

function errorMessage(res: HttpsResponse): string | undefined {
  try {
    const json = JSON.parse(res.body.toString('utf8')) as { error?: { message?: string } };
    return json.error?.message;
  } catch {
    return undefined;
  }
}

function expectOk(res: HttpsResponse, provider: ProviderInfo, what: string): void {
  if (res.status >= 200 && res.status < 300) return;
  if (res.status === 429) throw rateLimited(provider, res);
  throw serverError(
    provider,
    `it could not ${what} (HTTP ${res.status}${errorMessage(res) ? `: ${errorMessage(res)}` : ''})`,
  );
}

function serverError(provider: ProviderInfo, why: string): ProviderClientError {
  return new ProviderClientError('server_error', `${provider.domain} had a problem: ${why}.`);
}

/** The provider's 429, in words: how long to wait and until when (local time), from its
 * Retry-After (seconds or an HTTP date); "a few minutes" when it does not say. */
function rateLimited(provider: ProviderInfo, res: HttpsResponse): ProviderClientError {
  const header = res.headers['retry-after'];
  const value = Array.isArray(header) ? header[0] : header;
  const seconds = /^\d+$/.test(value ?? '')
    ? Number(value)
    : Math.ceil((Date.parse(value ?? '') - Date.now()) / 1000);
  const why = `${provider.domain} refuses logins from this network for now: too many attempts (failed passwords or logins started).`;
  if (!Number.isFinite(seconds) || seconds <= 0)
    return new ProviderClientError('rate_limited', `${why} Wait a few minutes and try again.`);
  const amount =
    seconds < 90
      ? `${seconds} second${seconds === 1 ? '' : 's'}`
      : `${Math.ceil(seconds / 60)} minute${Math.ceil(seconds / 60) === 1 ? '' : 's'}`;
  const until = new Date(Date.now() + seconds * 1000).toLocaleTimeString('en-GB', {
    hour: '2-digit',
    minute: '2-digit',
    second: seconds < 90 ? '2-digit' : undefined,
  });
  return new ProviderClientError(
    'rate_limited',
    `${why} Wait ${amount} and try again after ${until}.`,
    errorMessage(res),
  );
}
