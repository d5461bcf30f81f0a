/**
 * One relay transaction to the provider's submission server: TLS always (implicit, or
 * STARTTLS required), the provider's own CA as the only trust anchor, AUTH with the
 * session token as password (LEAP) or the user's password (legacy provider). The outcome
 * says whether trying again later can help.
 */
import type { Readable } from 'node:stream';
import nodemailer, { type Transporter } from 'nodemailer';

export interface RelayEndpoint {
  host: string;
  port: number;
  /** Implicit TLS (true) or STARTTLS, which is then required (false). */
  secure: boolean;
  /** The name the certificate must carry (the provider's domain when connecting by IP). */
  servername?: string;
  /** PEM of the CA to trust instead of the system's (the provider's pinned CA). */
  ca?: string;
  user: string;
  /** LEAP: the session token, renewed by the provider session as needed. */
  accessToken?: () => Promise<string>;
  /** Legacy providers: the user's own password. */
  password?: () => Promise<string>;
}

/**
 * One relay transaction's envelope. `id` goes out as the RFC 3461 envelope id (ENVID): the
 * LEAP relay answers a transaction it already accepted with that id without sending it
 * again, so resending after a crash is safe. Other servers at most echo it in notices.
 */
export interface RelayEnvelope {
  from: string;
  to: string[];
  id?: string;
}

export type RelayOutcome =
  | { ok: true; rejected: { address: string; reason: string }[] }
  | { ok: false; permanent: boolean; reason: string };

const TIMEOUT_MS = 30_000;

/** A relay login that several messages may share (one connection, reused while it lasts). */
export interface RelayConnection {
  send(envelope: RelayEnvelope, content: Readable): Promise<RelayOutcome>;
  close(): void;
}

/**
 * Prepares a relay connection (it connects on the first send). Fails as an outcome when no
 * credentials can be had, e.g. the provider session cannot renew its token right now.
 */
export async function connectRelay(
  endpoint: RelayEndpoint,
): Promise<RelayConnection | Extract<RelayOutcome, { ok: false }>> {
  let secret: string;
  try {
    const source = endpoint.accessToken ?? endpoint.password;
    if (!source) return { ok: false, permanent: true, reason: 'No relay credentials configured.' };
    secret = await source();
  } catch (error) {
    return { ok: false, permanent: false, reason: `No session: ${(error as Error).message}` };
  }
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: 1,
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.secure,
    requireTLS: !endpoint.secure,
    tls: {
      minVersion: 'TLSv1.2',
      ...(endpoint.ca ? { ca: endpoint.ca } : {}),
      ...(endpoint.servername ? { servername: endpoint.servername } : {}),
    },
    auth: { user: endpoint.user, pass: secret },
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS * 2,
    logger: false,
  });
  return {
    send: (envelope, content) => send(transport, envelope, content),
    close: () => transport.close(),
  };
}

/** One message over a connection of its own. */
export async function relayMessage(
  endpoint: RelayEndpoint,
  envelope: RelayEnvelope,
  content: Readable,
): Promise<RelayOutcome> {
  const connection = await connectRelay(endpoint);
  if (!('send' in connection)) {
    content.destroy();
    return connection;
  }
  try {
    return await connection.send(envelope, content);
  } finally {
    connection.close();
  }
}

async function send(
  transport: Transporter,
  { id, ...envelope }: RelayEnvelope,
  content: Readable,
): Promise<RelayOutcome> {
  try {
    // nodemailer sends ENVID only to a server that announces DSN, and no NOTIFY: a foreign
    // server keeps sending its usual failure notices.
    const info = (await transport.sendMail({
      envelope,
      raw: content,
      ...(id ? { dsn: { envid: id } } : {}),
    })) as {
      rejected?: (string | { address: string })[];
      rejectedErrors?: { recipient?: string; response?: string }[];
    };
    const rejected = (info.rejected ?? []).map((r) => {
      const address = typeof r === 'string' ? r : r.address;
      const detail = (info.rejectedErrors ?? []).find((e) => e.recipient === address);
      return { address, reason: detail?.response ?? 'The recipient was refused.' };
    });
    return { ok: true, rejected };
  } catch (error) {
    content.destroy();
    const e = error as Error & {
      responseCode?: number;
      response?: string;
      code?: string;
      command?: string;
    };
    const code = e.responseCode ?? 0;
    // 530/535 may be an expired token that the session renews before the next attempt; a
    // refused STARTTLS may be someone on the path stripping it: both are worth another try.
    const tlsRefused = e.code === 'ETLS' || e.command === 'STARTTLS';
    const permanent = code >= 500 && code !== 535 && code !== 530 && !tlsRefused;
    return {
      ok: false,
      permanent,
      reason: tlsRefused
        ? `The outgoing mail server did not set up an encrypted connection (${e.response ?? e.message}), so LeapBird sent neither your password nor the message; it will try again later.`
        : (e.response ?? e.message),
    };
  }
}
