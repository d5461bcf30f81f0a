/**
 * Test helpers: a provider in a fresh temporary directory, an HTTPS client that trusts only
 * that provider's CA, and a minimal SRP client built on the same package as the server.
 */
import { request } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import * as srp from 'secure-remote-password/client.js';
import {
  startProvider,
  type ProviderOptions,
  type RunningProvider,
} from '../../provider/src/index.js';

export interface TestProvider extends RunningProvider {
  dataDir: string;
  cleanup(): Promise<void>;
}

export async function startTestProvider(
  domain: string,
  host = '127.0.0.1',
  options: Partial<ProviderOptions> = {},
): Promise<TestProvider> {
  const dataDir = mkdtempSync(join(tmpdir(), `provider-${domain}-`));
  const provider = await startProvider({ domain, dataDir, host, ...options });
  return {
    ...provider,
    dataDir,
    cleanup: async () => {
      await provider.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTPS request to the provider, trusting only its CA, servername = its domain. */
export function api(
  p: Pick<RunningProvider, 'host' | 'ports' | 'caCertPem' | 'domain'>,
  method: string,
  path: string,
  options: {
    json?: unknown;
    raw?: string | Buffer;
    token?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<ApiResponse> {
  const body =
    options.raw !== undefined
      ? options.raw
      : options.json !== undefined
        ? JSON.stringify(options.json)
        : undefined;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: p.host,
        port: p.ports.api,
        method,
        path,
        ca: p.caCertPem,
        servername: p.domain,
        timeout: 15_000,
        headers: {
          ...(body !== undefined
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
            : {}),
          ...(options.token ? { authorization: `Token token="${options.token}"` } : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          let json: unknown = undefined;
          try {
            json = JSON.parse(buf.toString('utf8'));
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export async function signUp(
  p: TestProvider,
  login: string,
  password: string,
): Promise<ApiResponse> {
  const salt = srp.generateSalt();
  const verifier = srp.deriveVerifier(srp.derivePrivateKey(salt, login, password));
  return api(p, 'POST', '/1/users', {
    json: { user: { login, password_salt: salt, password_verifier: verifier } },
  });
}

export interface LoginResult {
  status: number;
  token?: string;
  id?: string;
  /** Set when the server's proof M2 failed verification. */
  serverProofError?: Error;
  responses: ApiResponse[];
}

/** SRP login as a client does it: handshake, proof, then verification of the server's M2. */
export async function logIn(
  p: TestProvider,
  login: string,
  password: string,
): Promise<LoginResult> {
  const ephemeral = srp.generateEphemeral();
  const hello = await api(p, 'POST', '/1/sessions', { json: { login, A: ephemeral.public } });
  if (hello.status !== 200) return { status: hello.status, responses: [hello] };
  const { B, salt } = hello.json as { B: string; salt: string };
  const session = srp.deriveSession(
    ephemeral.secret,
    B,
    salt,
    login,
    srp.derivePrivateKey(salt, login, password),
  );
  const proof = await api(p, 'PUT', `/1/sessions/${login}`, {
    json: { client_auth: session.proof, A: ephemeral.public },
  });
  if (proof.status !== 200) return { status: proof.status, responses: [hello, proof] };
  const result: LoginResult = {
    status: 200,
    token: proof.json.token,
    id: proof.json.id,
    responses: [hello, proof],
  };
  try {
    srp.verifySession(ephemeral.public, session, proof.json.M2);
  } catch (err) {
    result.serverProofError = err as Error;
  }
  return result;
}

/** Sign-up + login; returns the session token and account id. */
export async function newAccount(p: TestProvider, login: string, password = `pw-${login}`) {
  const created = await signUp(p, login, password);
  if (created.status !== 201) throw new Error(`sign-up failed: ${created.body.toString()}`);
  const session = await logIn(p, login, password);
  if (!session.token || !session.id) throw new Error(`login failed: ${session.status}`);
  return { id: session.id, token: session.token, address: `${login}@${p.domain}` };
}

/** A v4 key GnuPG 2.2 can read (EdDSA + ECDH on Curve25519, legacy ids). */
export async function makeKey(address: string) {
  return openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ email: address }],
    format: 'armored',
  });
}

export async function uploadKey(
  p: TestProvider,
  account: { id: string; token: string },
  publicKey: string,
) {
  return api(p, 'PUT', `/1/users/${account.id}`, {
    token: account.token,
    json: { user: { public_key: publicKey } },
  });
}
