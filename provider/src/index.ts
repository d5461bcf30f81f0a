/**
 * The reference provider in one call: HTTPS API, Dovecot (IMAP + LMTP), MX and submission
 * relay, all bound to one loopback (or public) address, all stopped by `stop()`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:https';
import { createFileLogger } from '../../native-host/src/log/index.js';
import { startApiServer } from './api/index.js';
import { introspectionPassword } from './auth/index.js';
import { ensureCa } from './ca/index.js';
import type { Limits, ProviderContext, PublicEndpoints } from './context.js';
import { startDovecot, type DovecotInstance } from './dovecot/index.js';
import { LocalDelivery, createLmtp, startMx } from './mx/index.js';
import { DnsClient, parseResolverAddress } from './dns/index.js';
import {
  StsCache,
  relayToDomain,
  routeMessage,
  startRelay,
  type DnsDeliveryOptions,
  type OutboundConfig,
} from './relay/index.js';
import { Resolver, type ResolverMap } from './resolver/index.js';
import {
  isPostgresUrl,
  localSyncEvents,
  openStore,
  postgresSyncEvents,
  type ProviderStore,
  type SyncEvents,
  type UserRecord,
} from './store/index.js';

export type { ResolverMap, PeerProvider } from './resolver/index.js';
export type { Limits } from './context.js';
export type { DnsDeliveryOptions, Protection } from './relay/index.js';
export type { ProviderStore } from './store/index.js';
export { startDovecot, type DovecotInstance, type DovecotOptions } from './dovecot/index.js';

export interface ProviderOptions {
  domain: string;
  dataDir: string;
  /** Address every listener binds (default 127.0.0.1). */
  host?: string;
  /** Other providers by domain (tests and demos); overrides DNS for the domains it names. */
  resolver?: ResolverMap;
  /** Delivery to other domains by DNS (MX, DANE, MTA-STS) through a validating resolver. */
  dns?: DnsDeliveryOptions;
  /** Fixed ports; 0 or absent = chosen free. */
  ports?: { api?: number; mx?: number; submission?: number; imap?: number };
  /** Encrypt incoming mail (default true). Off only for the benchmark's baseline. */
  encryptIncoming?: boolean;
  allowRegistration?: boolean;
  name?: string;
  limits?: Partial<Limits>;
  /** Source of the current time (tests move it instead of sleeping). */
  clock?: () => number;
  /**
   * Where accounts, tokens, sync documents and held mail are kept: absent, SQLite in the
   * data directory; `postgres://user@host:port/db`, a PostgreSQL database several provider
   * processes can share.
   */
  database?: string;
  /**
   * The provider's stable secret (64 hex digits or more): fake SRP salts and the internal
   * introspection password come from it, so every process of one provider needs the same.
   * Absent: `<data>/secret`, made on first start.
   */
  secret?: string;
  /**
   * Where mail for users without a key waits (default `<data>/spool`). With several
   * processes: a folder on storage they all mount at the same path, since the database
   * records each file's path and any process may deliver it.
   */
  spoolDir?: string;
}

export interface RunningProvider {
  domain: string;
  host: string;
  /** `https://<host>:<port>`: connect here with servername = domain (the certificate carries
   * the domain, api.<domain> and the IP address). */
  apiUrl: string;
  caCertPem: string;
  caFingerprint: string;
  ports: {
    api: number;
    mx: number;
    submission: number;
    /** IMAP with implicit TLS (the provider's CA). */
    imap: number;
    /** IMAP with STARTTLS. */
    imapStarttls: number;
    lmtp: number;
  };
  dovecot: DovecotInstance;
  store: ProviderStore;
  /** Bounces held mail that is too old now (also runs hourly). */
  sweepHeldMail(now?: number): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_LIMITS: Limits = {
  loginFailuresFree: 5,
  clientFailuresFree: 20,
  loginDelayFirstMs: 1000,
  loginDelayMaxMs: 15 * 60_000,
  loginFailureMemoryMs: 24 * 3600_000,
  handshakesPerClientPerMinute: 20,
  pendingHandshakesPerClient: 8,
  pendingHandshakesMax: 10_000,
  handshakeTtlMs: 2 * 60_000,
  trustedProxies: [],
  tokenIdleMs: 60 * 60_000,
  maxMessageBytes: 25 * 1024 * 1024,
  holdMs: 5 * 24 * 3600_000,
  relayEnvelopeIdMs: 7 * 24 * 3600_000,
};

function loadSecret(dataDir: string, configured?: string): Buffer {
  if (configured !== undefined) {
    if (!/^([0-9a-f]{2}){32,}$/i.test(configured))
      throw new Error('the provider secret must be 64 or more hexadecimal digits');
    return Buffer.from(configured, 'hex');
  }
  const file = join(dataDir, 'secret');
  if (!existsSync(file))
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

export async function startProvider(options: ProviderOptions): Promise<RunningProvider> {
  const domain = options.domain.toLowerCase();
  const host = options.host ?? '127.0.0.1';
  const dataDir = options.dataDir;
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  const logger = createFileLogger(join(dataDir, 'provider.log'), 'info', { domain });
  const ca = await ensureCa(dataDir, domain, [host]);
  const store = await openStore(options.database, dataDir);
  let syncEvents: SyncEvents;
  try {
    syncEvents =
      options.database && isPostgresUrl(options.database)
        ? await postgresSyncEvents(options.database, store, (err) =>
            logger.warn('sync_events_connection', { error: err.message }),
          )
        : localSyncEvents();
  } catch (err) {
    await store.close();
    throw err;
  }
  const endpoints: PublicEndpoints = {
    host,
    apiPort: 0,
    imapPort: 0,
    submissionPort: 0,
    mxPort: 0,
  };
  let delivery: LocalDelivery | null = null;
  const dnsClient = options.dns
    ? new DnsClient(parseResolverAddress(options.dns.resolver), 5000)
    : null;
  const ctx: ProviderContext = {
    domain,
    name: options.name ?? domain,
    allowRegistration: options.allowRegistration ?? true,
    store,
    ca,
    resolver: new Resolver(
      options.resolver ?? {},
      5000,
      dnsClient
        ? {
            dns: dnsClient,
            httpsPort: options.dns?.httpsPort ?? 443,
            trustedCa: options.dns?.trustedCa ?? [],
          }
        : null,
    ),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    secret: loadSecret(dataDir, options.secret),
    endpoints: () => endpoints,
    syncEvents,
    log: logger,
    now: options.clock ?? Date.now,
    onKeyUploaded: (user: UserRecord) => {
      delivery
        ?.releaseFor(user)
        .catch((err) => logger.warn('release_failed', { error: (err as Error).message }));
    },
  };

  const stops: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => undefined);
    stops.length = 0;
  };
  // Stops run in reverse order: the store closes last, after every listener is gone.
  stops.push(() => store.close());
  stops.push(() => syncEvents.close());
  try {
    const api = await startApiServer(ctx, host, options.ports?.api ?? 0);
    endpoints.apiPort = api.port;
    stops.push(() => closeHttps(api.server));

    const dovecot = await startDovecot({
      dataDir,
      host,
      tls: { certPath: ca.serverCertPath, keyPath: ca.serverKeyPath },
      ports: options.ports?.imap ? { imaps: options.ports.imap } : {},
      auth: {
        kind: 'oauth2',
        introspectionUrl: `https://dovecot:${introspectionPassword(ctx)}@${host}:${api.port}/1/introspect`,
        caCertPath: ca.caCertPath,
      },
    });
    stops.push(() => dovecot.stop());
    endpoints.imapPort = dovecot.imapsPort ?? dovecot.imapPort;

    const lmtp = createLmtp({ host, port: dovecot.lmtpPort }, domain);
    stops.push(() => lmtp.close());
    const local = new LocalDelivery({
      ctx,
      lmtp,
      spoolDir: options.spoolDir ?? join(dataDir, 'spool'),
      encrypt: options.encryptIncoming ?? true,
    });
    delivery = local;
    const deliverLocal = async (raw: Buffer, sender: string, users: UserRecord[]) => {
      for (const user of users) await local.deliver(raw, sender, user);
    };
    const outbound = outboundConfig(ctx, dnsClient, options.dns);
    const relay = (target: string, from: string, to: string[], raw: Buffer) =>
      relayToDomain(outbound, target, from, to, raw);
    local.bounce = (sender, raw) => routeMessage({ ctx, deliverLocal, relay }, '', [sender], raw);

    // The chain includes the CA, so peers can match a DANE-TA record (`2 0 1` of the CA
    // certificate), which survives a new server key.
    const tls = { key: ca.serverKeyPem, cert: `${ca.serverCertPem.trim()}\n${ca.caCertPem}` };
    const mx = await startMx({
      ctx,
      host,
      port: options.ports?.mx ?? 0,
      tls,
      deliver: deliverLocal,
    });
    endpoints.mxPort = mx.port;
    stops.push(() => mx.close());
    const submission = await startRelay({
      ctx,
      host,
      port: options.ports?.submission ?? 0,
      tls,
      deliverLocal,
      relay,
      dnsDelivery: outbound.dns !== null,
    });
    endpoints.submissionPort = submission.port;
    stops.push(() => submission.close());

    const sweep = () =>
      Promise.all([local.sweep(), store.forgetExpired(ctx.now())]).catch((err) =>
        logger.warn('sweep_failed', { error: (err as Error).message }),
      );
    const timer = setInterval(sweep, 3600_000);
    timer.unref();
    stops.push(() => clearInterval(timer));
    void sweep();

    logger.info('provider_started', { ...endpoints });
    return {
      domain,
      host,
      apiUrl: `https://${host}:${api.port}`,
      caCertPem: ca.caCertPem,
      caFingerprint: ca.caFingerprint,
      ports: {
        api: api.port,
        mx: mx.port,
        submission: submission.port,
        imap: endpoints.imapPort,
        imapStarttls: dovecot.imapPort,
        lmtp: dovecot.lmtpPort,
      },
      dovecot,
      store,
      sweepHeldMail: (now) => local.sweep(now),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function outboundConfig(
  ctx: ProviderContext,
  client: DnsClient | null,
  dns: DnsDeliveryOptions | undefined,
): OutboundConfig {
  const timeoutMs = dns?.timeoutMs ?? 10_000;
  const trustedCa = dns?.trustedCa ?? [];
  return {
    resolver: ctx.resolver,
    dns: client,
    smtpPort: dns?.smtpPort ?? 25,
    sts: client
      ? new StsCache({
          dns: client,
          httpsPort: dns?.httpsPort ?? 443,
          trustedCa,
          timeoutMs,
          now: ctx.now,
        })
      : null,
    trustedCa,
    helo: `mx.${ctx.domain}`,
    log: ctx.log,
    timeoutMs,
  };
}

function closeHttps(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Event streams never end on their own.
    server.closeAllConnections();
  });
}
