/**
 * The local IMAP server Thunderbird connects to. Loopback only: it serves decrypted mail, so
 * it refuses any other address rather than trusting a caller to pick a safe one.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { silentLogger, type Logger } from '../log/index.js';
import type { MailboxBackend } from './backend.js';
import { RecentMessages } from './recent.js';
import { ImapSession, type SessionLimits } from './session.js';

export interface ImapServerLimits extends SessionLimits {
  maxConnections: number;
  /**
   * Connections not yet logged in. Any local user can open them, so when they are this many
   * the one that has waited longest gets BYE: with the pre-auth input limits this bounds what
   * strangers can make the server hold (about maxUnauthenticated × preAuthMaxCommandSize).
   */
  maxUnauthenticated: number;
  /** A TLS handshake not finished by then is dropped (a loopback handshake takes milliseconds). */
  handshakeTimeoutMs: number;
  /** Wait before answering a failed login; doubles with each failure on the same connection. */
  authFailureDelayMs: number;
  /** Failed logins across all connections per minute after which every login attempt waits too. */
  globalAuthFailuresPerMinute: number;
}

export const DEFAULT_IMAP_LIMITS: ImapServerLimits = {
  maxLineLength: 64 * 1024,
  maxLiteralSize: 64 * 1024,
  maxAppendSize: 64 * 1024 * 1024,
  // LOGIN's two strings or AUTHENTICATE PLAIN's response, with room for long passwords.
  preAuthMaxLineLength: 8 * 1024,
  preAuthMaxLiteralSize: 8 * 1024,
  preAuthMaxCommandSize: 16 * 1024,
  idleTimeoutMs: 30 * 60 * 1000,
  preAuthTimeoutMs: 60 * 1000,
  maxAuthFailures: 5,
  maxConnections: 100,
  maxUnauthenticated: 20,
  handshakeTimeoutMs: 10_000,
  authFailureDelayMs: 500,
  globalAuthFailuresPerMinute: 20,
};

export interface ImapServerOptions {
  backend: MailboxBackend;
  /** Returns the account id for valid credentials, null otherwise. */
  authenticate(user: string, password: string): Promise<string | null>;
  /** Only 127.0.0.1 is accepted. */
  host?: string;
  /** 0 (the default) lets the system pick a free port. */
  port?: number;
  logger?: Logger;
  limits?: Partial<ImapServerLimits>;
  /**
   * Implicit TLS with the install's own certificate: what Thunderbird is told to expect, so
   * whoever binds the port while the host is down cannot pose as it (see tls/). Without it
   * the server speaks plain IMAP, for tests of the protocol alone.
   */
  tls?: { key: string; cert: string };
}

export interface ImapServer {
  port: number;
  /** Number of open client connections. */
  connections(): number;
  close(): Promise<void>;
}

export class ImapServerError extends Error {
  constructor(
    readonly code: 'not_loopback' | 'listen_failed',
    message: string,
  ) {
    super(message);
    this.name = 'ImapServerError';
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startImapServer(options: ImapServerOptions): Promise<ImapServer> {
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') {
    throw new ImapServerError(
      'not_loopback',
      `The IMAP server listens on 127.0.0.1 only, not on ${host}.`,
    );
  }
  const limits: ImapServerLimits = { ...DEFAULT_IMAP_LIMITS, ...options.limits };
  const logger = options.logger ?? silentLogger;
  const sessions = new Set<ImapSession>();
  const recentFailures: number[] = [];
  const recent = new RecentMessages();

  const login = async (
    user: string,
    password: string,
    session: ImapSession,
  ): Promise<string | null> => {
    const now = Date.now();
    while (recentFailures.length && recentFailures[0]! < now - 60_000) recentFailures.shift();
    const underAttack = recentFailures.length >= limits.globalAuthFailuresPerMinute;
    // Under a guessing attack every attempt is slowed, so success cannot be told apart quickly.
    if (underAttack) await sleep(limits.authFailureDelayMs * 4);
    const accountId = await options.authenticate(user, password);
    if (accountId !== null) return accountId;
    recentFailures.push(Date.now());
    if (recentFailures.length > 10_000) recentFailures.shift();
    logger.warn('imap.login_failed', { failures: session.authFailures + 1 });
    await sleep(Math.min(limits.authFailureDelayMs * 2 ** session.authFailures, 10_000));
    return null;
  };

  const serve = (socket: Socket) => {
    // Sessions stay in the set until their socket has closed; closed ones no longer count.
    const open = [...sessions].filter((s) => !s.isClosed);
    const waiting = open.filter((s) => s.state === 'not-authenticated');
    if (waiting.length >= limits.maxUnauthenticated) {
      waiting[0]!.bye('Too many connections waiting to log in; this one waited longest');
      open.splice(open.indexOf(waiting[0]!), 1);
      logger.warn('imap.unauthenticated_evicted', { waiting: waiting.length });
    }
    if (open.length >= limits.maxConnections) {
      socket.end('* BYE Too many connections\r\n');
      return;
    }
    const session = new ImapSession(socket, {
      backend: options.backend,
      login,
      logger: logger.child({ component: 'imap' }),
      limits,
      recent,
    });
    sessions.add(session);
    socket.on('close', () => sessions.delete(session));
    session.start();
  };
  const server: Server = options.tls
    ? createTlsServer(
        { ...options.tls, minVersion: 'TLSv1.2', handshakeTimeout: limits.handshakeTimeoutMs },
        serve,
      )
    : createServer(serve);
  if (options.tls) {
    // A failed handshake (a client that does not trust us, or speaks plain IMAP) ends quietly.
    server.on('tlsClientError', (error: Error) =>
      logger.warn('imap.tls_failed', { message: error.message }),
    );
  }
  server.maxConnections = limits.maxConnections + 10;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new ImapServerError('listen_failed', `Cannot listen on ${host}: ${error.message}`)),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  logger.info('imap.listening', { port });

  return {
    port,
    connections: () => sessions.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sessions) s.close();
        recent.close();
        server.close(() => resolve());
      }),
  };
}
