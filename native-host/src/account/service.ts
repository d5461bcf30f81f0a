/**
 * The accounts of this host and what the add-on asks of them: setting one up (sign up or
 * log in at a provider), resuming them when Thunderbird starts, key status, logging out.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type {
  AccountSettingsValue,
  AccountPin,
  ContactKeySummary,
  HostStatus,
  OwnKeySummary,
  Progress,
  ProviderSummary,
  RecipientKeyInfo,
  LegacySetup,
  SetupCredentials,
  SetupResult,
  ValidationLevelName,
} from '../../../shared/src/rpc.js';
import { RpcError } from '../../../shared/src/errors.js';
import { VERSION } from '../../../shared/src/constants.js';
import type { Logger } from '../log/index.js';
import { freePort, type Resolver } from '../net/index.js';
import {
  bootstrapProvider,
  checkLogin,
  ProviderClientError,
  ProviderSession,
  type LoginKey,
  type ProviderInfo,
} from '../provider/index.js';
import {
  generateStorageSecret,
  loadStorageSecret,
  openAccountStore,
  saveStorageSecret,
  unwrapSecretLocally,
  wrapSecretLocally,
  writeFileDurably,
} from '../store/index.js';
import { openAccountDocuments } from '../documents/index.js';
import { connectUpstream } from '../sync/index.js';
import { discoverServers, type DiscoveredServers } from './autoconfig.js';
import {
  AccountRegistry,
  hashLocalPassword,
  type AccountRecord,
  type AccountIdentity,
  type LegacyAccountRecord,
  type ServerAddress,
} from './registry.js';
import { LoginKeyMemory } from './login-keys.js';
import { indexProgressOf, syncProgressOf } from './progress.js';
import { storageSecretAtLogin } from './recovery.js';
import { ensureLocalTls, type LocalTls } from '../tls/index.js';
import { AccountRuntime, type UpstreamAccess } from './runtime.js';

export interface AccountServiceOptions {
  dataDir: string;
  logger: Logger;
  resolver?: Resolver;
  /** Providers whose CA fingerprint ships with LeapBird (domain → `SHA256: hex`). */
  knownProviders?: Record<string, string>;
  onStatus?: () => void;
  /** Progress of long work the add-on shows (the initial sync of an account). */
  onProgress?: (progress: Progress) => void;
}

const LOGIN_KEY_FILE = 'login-key.wrapped';
/** Provider check, SRP, storage secret, key and first sync. */
const SETUP_STEPS = 4;

export class AccountService {
  readonly registry: AccountRegistry;
  private readonly loginKeys: LoginKeyMemory;
  private deviceKey: Buffer | null = null;
  private readonly providers = new Map<string, ProviderInfo>();
  private readonly runtimes = new Map<string, AccountRuntime>();
  private readonly problems = new Map<
    string,
    { state: 'needs_login' | 'offline'; message: string }
  >();

  private localTls: Promise<LocalTls> | null = null;

  constructor(private readonly options: AccountServiceOptions) {
    this.registry = new AccountRegistry(options.dataDir);
    this.loginKeys = new LoginKeyMemory(options.dataDir);
  }

  /** The install's certificate for the loopback servers, one for every account. */
  private tls(): Promise<LocalTls> {
    this.localTls ??= ensureLocalTls(this.options.dataDir);
    return this.localTls;
  }

  /**
   * What Thunderbird must pin for each running account: its loopback ports and the install's
   * certificate. The add-on applies it at every start, so accounts made before the servers
   * used TLS move to it, and a renewed certificate replaces the old pin.
   */
  async pins(): Promise<AccountPin[]> {
    const tls = await this.tls();
    return this.registry
      .list()
      .filter((r) => this.runtimes.has(r.email))
      .map((r) => ({
        email: r.email,
        imapPort: r.imapPort,
        smtpPort: r.smtpPort,
        certificate: tls.certBase64,
      }));
  }

  /** The add-on's device key: wraps the storage secrets and login keys on this machine. */
  setDeviceKey(base64: string): void {
    const key = Buffer.from(base64, 'base64');
    if (key.length !== 32)
      throw new RpcError('invalid_params', 'The add-on sent a device key of the wrong size.');
    this.deviceKey = key;
  }

  async describeProvider(domain: string): Promise<ProviderSummary> {
    const info = await this.provider(domain, true);
    return {
      domain: info.domain,
      name: info.name,
      description: info.description,
      allowRegistration: info.allowRegistration,
      caFingerprint: info.caFingerprint,
    };
  }

  signUp(credentials: SetupCredentials): Promise<SetupResult> {
    return this.setUp(credentials, 'signUp');
  }

  logIn(credentials: SetupCredentials): Promise<SetupResult> {
    return this.setUp(credentials, 'logIn');
  }

  /** Starts every account this machine knows, logging in again with the kept login key. */
  async resumeAll(): Promise<void> {
    for (const record of this.registry.list()) {
      if (this.runtimes.has(record.email)) continue;
      try {
        await this.resume(record);
        this.problems.delete(record.email);
      } catch (error) {
        const needsLogin =
          error instanceof ProviderClientError &&
          ['wrong_password', 'session_expired'].includes(error.code);
        this.problems.set(record.email, {
          state: needsLogin ? 'needs_login' : 'offline',
          message: error instanceof Error ? error.message : String(error),
        });
        this.options.logger.warn('account.resume_failed', { email: record.email, error });
      }
    }
    this.options.onStatus?.();
  }

  status(): HostStatus {
    const accounts = this.registry.list().map((r) => ({
      email: r.email,
      state:
        this.runtimes.get(r.email)?.state ??
        this.problems.get(r.email)?.state ??
        ('starting' as const),
    }));
    // A failed resume first; otherwise a sync that keeps failing says why (e.g. a server that
    // stopped offering STARTTLS), rather than only "offline".
    const firstProblem =
      [...this.problems.values()][0] ??
      [...this.runtimes.values()]
        .map((r) => r.syncError && { state: r.syncError.code, message: r.syncError.message })
        .find(Boolean);
    return {
      state:
        accounts.length === 0
          ? 'connected'
          : (accounts.find((a) => a.state !== 'connected')?.state ?? 'connected'),
      hostVersion: VERSION,
      accounts,
      lastError: firstProblem ? { code: firstProblem.state, message: firstProblem.message } : null,
    };
  }

  async ownKey(email: string): Promise<OwnKeySummary> {
    const runtime = this.runtime(email);
    const own = (await runtime.keys.ownKeys()).find((k) => k.active);
    if (!own) throw new RpcError('not_found', `There is no key for ${email} yet.`);
    const renews = own.expires ? new Date(own.expires - 60 * 86_400_000).toISOString() : null;
    return {
      address: own.address,
      fingerprint: own.fingerprint,
      created: new Date(own.created).toISOString(),
      expires: own.expires ? new Date(own.expires).toISOString() : null,
      renews,
      published: own.publishedAt !== null,
    };
  }

  async contacts(email: string): Promise<ContactKeySummary[]> {
    const runtime = this.runtime(email);
    const records = await runtime.keyStore.listContacts();
    return records.map((r) => ({
      address: r.address,
      fingerprint: r.fingerprint,
      validation: r.validation as ValidationLevelName,
      source: r.source,
      expires: r.expires ? new Date(r.expires).toISOString() : null,
    }));
  }

  async verify(email: string, contact: string, fingerprint: string): Promise<ContactKeySummary> {
    const runtime = this.runtime(email);
    const result = await runtime.keys.verifyFingerprint(contact, fingerprint);
    if (!result.ok) throw new RpcError(result.error.code, result.error.message);
    const record = result.value;
    return {
      address: record.address,
      fingerprint: record.fingerprint,
      validation: record.validation as ValidationLevelName,
      source: record.source,
      expires: record.expires ? new Date(record.expires).toISOString() : null,
    };
  }

  async recipients(email: string, addresses: string[]): Promise<RecipientKeyInfo[]> {
    const runtime = this.runtime(email);
    const statuses = await runtime.keys.recipientStatus(addresses);
    return statuses.map((s) => ({
      address: s.address,
      status: s.status,
      validation: (s.validation as ValidationLevelName | null) ?? null,
      fingerprint: s.fingerprint,
      reason: s.reason,
    }));
  }

  async settings(email: string): Promise<AccountSettingsValue> {
    return this.runtime(email).syncedSettings.all();
  }

  /** Each named setting is checked before any is changed, so a bad one changes nothing. */
  async changeSettings(
    email: string,
    changes: Partial<AccountSettingsValue>,
  ): Promise<AccountSettingsValue> {
    const settings = this.runtime(email).syncedSettings;
    const current = await settings.all();
    const entries = Object.entries(changes ?? {}) as [keyof AccountSettingsValue, unknown][];
    for (const [name, value] of entries) {
      if (!Object.hasOwn(current, name) || typeof value !== typeof current[name]) {
        throw new RpcError(
          'invalid_params',
          `The setting ${JSON.stringify(name)} cannot be set to ${JSON.stringify(value)}; nothing was changed.`,
        );
      }
    }
    for (const [name, value] of entries) await settings.set(name, value as boolean);
    return settings.all();
  }

  async logOut(email: string, removeData: boolean): Promise<void> {
    const record = this.registry.find(email);
    const runtime = this.runtimes.get(email.toLowerCase());
    this.runtimes.delete(email.toLowerCase());
    await runtime?.stop();
    if (!record) return;
    rmSync(join(this.registry.accountDir(record), LOGIN_KEY_FILE), { force: true });
    if (removeData) {
      rmSync(this.registry.accountDir(record), { recursive: true, force: true });
      await this.loginKeys.forget(record.email);
    }
    await this.registry.remove(record.email);
    this.options.onStatus?.();
  }

  async stopAll(): Promise<void> {
    for (const runtime of this.runtimes.values()) await runtime.stop();
    this.runtimes.clear();
  }

  private runtime(email: string): AccountRuntime {
    const runtime = this.runtimes.get(email.toLowerCase());
    if (!runtime)
      throw new RpcError(
        'not_found',
        `${email} is not set up on this computer, or is not running.`,
      );
    return runtime;
  }

  private requireDeviceKey(): Buffer {
    if (!this.deviceKey)
      throw new RpcError('not_ready', 'The add-on has not introduced itself to the host yet.');
    return this.deviceKey;
  }

  private async provider(domain: string, fresh = false): Promise<ProviderInfo> {
    const key = domain.trim().toLowerCase();
    const cached = this.providers.get(key);
    if (cached && !fresh) return cached;
    const info = await bootstrapProvider(key, {
      ...(this.options.resolver ? { resolver: this.options.resolver } : {}),
      ...(this.options.knownProviders?.[key]
        ? { pinnedFingerprint: this.options.knownProviders[key] }
        : {}),
    });
    this.providers.set(key, info);
    return info;
  }

  private async setUp(
    credentials: SetupCredentials,
    mode: 'signUp' | 'logIn',
  ): Promise<SetupResult> {
    this.requireDeviceKey(); // before anything is created at the provider
    const domain = credentials.domain.trim().toLowerCase();
    const step = this.setupSteps(SETUP_STEPS);
    step(`Checking ${domain} and its certificate…`);
    const info = await this.provider(credentials.domain);
    const sessionOptions = this.sessionOptions(
      `${checkLogin(credentials.username)}@${info.domain}`,
    );
    step(
      mode === 'signUp'
        ? 'Creating your account (your password never leaves this computer)…'
        : 'Logging in (your password never leaves this computer)…',
    );
    const session =
      mode === 'signUp'
        ? await ProviderSession.signUp(
            info,
            credentials.username,
            credentials.password,
            sessionOptions,
          )
        : await ProviderSession.logIn(
            info,
            credentials.username,
            credentials.password,
            sessionOptions,
          );
    const email = session.address;
    const log = this.options.logger.child({ account: email });
    // What the key was derived under is kept once the setup succeeds (activate); a move from
    // the fast hash has already been kept (onLoginKey), as it changed the provider.
    if (session.upgradeError)
      log.warn('account.login_key_upgrade_failed', { error: session.upgradeError });

    // The storage secret: recovered from the provider's record (another device made it), or
    // new on the account's first setup; any doubt ends the login here, before anything changes.
    step('Securing the key that protects your mail on this computer…');
    const storageSecret = await storageSecretAtLogin(
      session,
      credentials.password,
      log,
      await this.localStorageSecret(email),
    ).catch(async (error: unknown) => {
      await session.logout(); // no session left behind at the provider either
      throw error;
    });

    step('Creating your encryption key and starting the first sync…');
    return this.activate({
      identity: {
        email,
        kind: 'leap',
        domain: info.domain,
        login: session.login,
        userId: session.userId,
        provider: {
          name: info.name,
          apiUri: info.apiUri,
          caCertPem: info.caCertPem,
          caFingerprint: info.caFingerprint,
        },
      },
      fullName: session.login,
      storageSecret,
      loginKey: Buffer.from(session.loginKey, 'hex'),
      upstream: (record) => this.leapAccess(record, session),
      session,
    });
  }

  /** The secret this computer already keeps for the account, when the device key opens it. */
  private async localStorageSecret(email: string): Promise<Buffer | null> {
    const existing = this.registry.find(email);
    if (!existing) return null;
    return loadStorageSecret(
      this.registry.accountDir(existing),
      email,
      this.requireDeviceKey(),
    ).catch(() => null);
  }

  /** Reports setup as numbered steps (the setup page shows the sentence while it waits). */
  private setupSteps(total: number): (message: string) => void {
    let done = 0;
    return (message) => this.options.onProgress?.({ task: 'setup', done: done++, total, message });
  }

  /** Servers for a legacy address, from the provider's autoconfig file; null when it has none. */
  discover(email: string): Promise<DiscoveredServers | null> {
    return discoverServers(email.trim().toLowerCase(), this.options.resolver);
  }

  /**
   * Any IMAP/SMTP provider: the password is checked against the IMAP server, then kept only
   * wrapped by the device key. There is no recovery record at such a provider: a new device
   * starts a fresh local store (the mail itself is still upstream, encrypted to the key).
   */
  async setUpLegacy(setup: LegacySetup): Promise<SetupResult> {
    this.requireDeviceKey();
    const email = setup.email.trim().toLowerCase();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email))
      throw new RpcError('invalid_params', `"${setup.email}" is not an email address.`);
    const existing = this.registry.find(email);
    if (existing?.kind === 'leap')
      throw new RpcError('invalid_params', `${email} is already set up with its LEAP provider.`);
    const identity = { email, kind: 'legacy' as const, imap: setup.imap, smtp: setup.smtp };
    const probe = this.legacyAccess(
      { ...identity, dir: '', imapPort: 0, smtpPort: 0, localPasswordHash: '', createdAt: '' },
      setup.password,
    );
    const step = this.setupSteps(2);
    step(`Checking your password with ${setup.imap.host}…`);
    try {
      const client = await connectUpstream(probe.imap);
      await client.logout().catch(() => client.close());
    } catch (error) {
      // Only a refused login is a wrong password; a server that cannot be reached, or that
      // would not encrypt the connection, keeps its own code and sentence.
      const code =
        error instanceof RpcError && error.code !== 'upstream_refused'
          ? error.code
          : 'wrong_password';
      throw new RpcError(code, error instanceof Error ? error.message : String(error));
    }
    step('Creating your encryption key and starting the first sync…');
    const storageSecret = existing
      ? ((await loadStorageSecret(
          this.registry.accountDir(existing),
          email,
          this.requireDeviceKey(),
        ).catch(() => null)) ?? generateStorageSecret())
      : generateStorageSecret();
    return this.activate({
      identity,
      fullName: email.split('@')[0] ?? email,
      storageSecret,
      loginKey: packPassword(setup.password),
      upstream: async (record) => this.legacyAccess(record as LegacyAccountRecord, setup.password),
    });
  }

  /** Keeps what a restart needs (wrapped), picks stable ports and starts the account. */
  private async activate(options: {
    identity: AccountIdentity;
    fullName: string;
    storageSecret: Buffer;
    loginKey: Buffer;
    upstream: (record: AccountRecord) => Promise<UpstreamAccess>;
    session?: ProviderSession;
  }): Promise<SetupResult> {
    const deviceKey = this.requireDeviceKey();
    const email = options.identity.email;
    const existing = this.registry.find(email);
    await this.runtimes.get(email)?.stop();
    this.runtimes.delete(email);
    const localPassword = randomBytes(24).toString('base64url');
    const record = {
      ...options.identity,
      dir:
        existing?.dir ??
        join('accounts', createHash('sha256').update(email).digest('hex').slice(0, 24)),
      imapPort: existing?.imapPort ?? (await freePort('127.0.0.1')),
      smtpPort: existing?.smtpPort ?? (await freePort('127.0.0.1')),
      localPasswordHash: hashLocalPassword(localPassword),
      createdAt: existing?.createdAt ?? new Date().toISOString(),
    } as AccountRecord;
    const dir = this.registry.accountDir(record);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await saveStorageSecret(dir, email, options.storageSecret, deviceKey);
    await writeFileDurably(
      join(dir, LOGIN_KEY_FILE),
      wrapSecretLocally(options.loginKey, deviceKey, `login:${email}`) + '\n',
    );
    await this.registry.put(record);
    if (options.session) await this.keepKnownKey(email, options.session.loginKeyInfo);

    await this.open(record, options.storageSecret, await options.upstream(record), options.session);
    const ownKey = await this.ownKey(email);
    this.options.logger.info('account.setup_done', { account: email, kind: record.kind });
    this.options.onStatus?.();
    return {
      account: {
        email,
        fullName: options.fullName,
        username: email,
        password: localPassword,
        imap: { host: '127.0.0.1', port: record.imapPort },
        smtp: { host: '127.0.0.1', port: record.smtpPort },
        certificate: (await this.tls()).certBase64,
      },
      ownKey,
    };
  }

  private async resume(record: AccountRecord): Promise<void> {
    const deviceKey = this.requireDeviceKey();
    const dir = this.registry.accountDir(record);
    const locked = () =>
      new ProviderClientError(
        'session_expired',
        `Log in to ${record.email} again to unlock it on this computer.`,
      );
    const loginKeyFile = join(dir, LOGIN_KEY_FILE);
    let storageSecret: Buffer | null;
    let loginKey: Buffer;
    try {
      // Another device key (a new Thunderbird profile) cannot unwrap these: ask for the password.
      storageSecret = await loadStorageSecret(dir, record.email, deviceKey);
      if (!storageSecret || !existsSync(loginKeyFile)) throw locked();
      loginKey = unwrapSecretLocally(
        readFileSync(loginKeyFile, 'utf8').trim(),
        deviceKey,
        `login:${record.email}`,
      );
    } catch (error) {
      throw error instanceof ProviderClientError ? error : locked();
    }
    if (record.kind === 'legacy') {
      await this.open(record, storageSecret, this.legacyAccess(record, unpackPassword(loginKey)));
      return;
    }
    const info = await this.provider(record.domain).catch(() => ({
      domain: record.domain,
      name: record.provider.name,
      description: '',
      apiUri: record.provider.apiUri,
      apiVersion: '1',
      caCertPem: record.provider.caCertPem,
      caFingerprint: record.provider.caFingerprint,
      allowRegistration: false,
      offersMail: true,
    }));
    if (info.caFingerprint !== record.provider.caFingerprint) {
      throw new ProviderClientError(
        'certificate_mismatch',
        `${record.domain} now presents a different certificate authority than when you set up ${record.email}. LeapBird will not connect.`,
      );
    }
    // Kept before the key list existed: the fast hash, salt unknown (srp-key.ts copes).
    const known = this.loginKeys.get(record.email);
    const key: LoginKey = {
      x: loginKey.toString('hex'),
      ...(known ? { salt: known.salt } : {}),
      kdf: known?.kdf ?? null,
    };
    const session = await ProviderSession.resume(
      info,
      record.login,
      key,
      this.sessionOptions(record.email),
    );
    await this.keptLoginKey(
      record.email,
      session,
      this.options.logger.child({ account: record.email }),
    );
    await this.open(record, storageSecret, await this.leapAccess(record, session), session);
  }

  /** Session options; for a LEAP account, its login key memory on this device. */
  private sessionOptions(email?: string) {
    return {
      ...(this.options.resolver ? { resolver: this.options.resolver } : {}),
      ...(email
        ? {
            memoryHard: this.loginKeys.memoryHard(email),
            onLoginKey: (key: LoginKey) => this.keepLoginKey(email, key),
          }
        : {}),
    };
  }

  /** After a login: what the key was derived under, and whether the move to scrypt failed. */
  private async keptLoginKey(email: string, session: ProviderSession, log: Logger): Promise<void> {
    await this.keepKnownKey(email, session.loginKeyInfo);
    if (session.upgradeError)
      log.warn('account.login_key_upgrade_failed', { error: session.upgradeError });
  }

  private async keepKnownKey(email: string, key: LoginKey): Promise<void> {
    if (key.salt !== undefined) await this.loginKeys.put(email, { salt: key.salt, kdf: key.kdf });
  }

  /** A new x (moved to scrypt, or a new password): remembered, and kept for the next start. */
  private async keepLoginKey(email: string, key: LoginKey): Promise<void> {
    await this.keepKnownKey(email, key);
    this.options.logger.info('account.login_key_changed', {
      account: email,
      memoryHard: key.kdf !== null,
    });
    const record = this.registry.find(email);
    const deviceKey = this.deviceKey;
    if (!record || !deviceKey) return; // setup writes it once the account is set up
    await writeFileDurably(
      join(this.registry.accountDir(record), LOGIN_KEY_FILE),
      wrapSecretLocally(Buffer.from(key.x, 'hex'), deviceKey, `login:${email}`) + '\n',
    );
  }

  private async leapAccess(
    record: AccountRecord,
    session: ProviderSession,
  ): Promise<UpstreamAccess> {
    const [imap, smtp] = await Promise.all([
      session.serviceEndpoint('imap'),
      session.serviceEndpoint('smtp'),
    ]);
    const accessToken = () => session.token();
    return {
      imap: { ...imap, secure: true, user: record.email, accessToken },
      relay: async () => ({ ...smtp, secure: true, user: record.email, accessToken }),
      ownProvider: { apiUri: session.provider.apiUri, caPem: session.provider.caCertPem },
      publish: async (armoredPublicKey) => {
        await session.requestJson('PUT', `/1/users/${encodeURIComponent(session.userId)}`, {
          user: { public_key: armoredPublicKey },
        });
      },
      legacy: false,
    };
  }

  /** Legacy servers are reached as named, with the system's CAs (or a resolver's, in tests). */
  private legacyAccess(record: LegacyAccountRecord, password: string): UpstreamAccess {
    const endpoint = (server: ServerAddress) => {
      const mapped = this.options.resolver?.(server.host);
      return {
        host: mapped ? new URL(mapped.origin).hostname : server.host,
        port: server.port,
        secure: server.security === 'tls',
        servername: server.host,
        ...(mapped?.ca ? { ca: mapped.ca } : {}),
      };
    };
    const secret = async () => password;
    return {
      imap: { ...endpoint(record.imap), user: record.email, password: secret },
      relay: async () => ({ ...endpoint(record.smtp), user: record.email, password: secret }),
      ownProvider: null,
      legacy: true,
    };
  }

  private async open(
    record: AccountRecord,
    storageSecret: Buffer,
    upstream: UpstreamAccess,
    session?: ProviderSession,
  ): Promise<AccountRuntime> {
    const accountDir = this.registry.accountDir(record);
    const store = await openAccountStore({ dir: accountDir, storageSecret });
    const documents = await openAccountDocuments({
      database: store.database.raw,
      storageSecret,
      name: record.email,
      ...(session ? { session } : {}),
      ...(this.options.resolver ? { resolver: this.options.resolver } : {}),
    });
    if (session) {
      // A second device must find the synced key before deciding to make one.
      documents.startReplication();
      await documents.awaitInSync(15_000);
    }
    const runtime = await AccountRuntime.start({
      record,
      accountDir,
      store,
      storageSecret,
      documents,
      upstream,
      tls: await this.tls(),
      ...(this.options.resolver ? { resolver: this.options.resolver } : {}),
      logger: this.options.logger.child({ account: record.email }),
      onProgress: (folders) => {
        this.options.onStatus?.();
        this.options.onProgress?.(syncProgressOf(record.email, folders));
      },
      onIndexProgress: (progress) =>
        this.options.onProgress?.(indexProgressOf(record.email, progress)),
    });
    this.runtimes.set(record.email, runtime);
    return runtime;
  }
}

/** The secret wrapper takes 32 bytes or more: a length, the password, then padding. */
function packPassword(password: string): Buffer {
  const text = Buffer.from(password, 'utf8');
  const packed = Buffer.alloc(Math.max(32, text.length + 2));
  packed.writeUInt16BE(text.length, 0);
  text.copy(packed, 2);
  return packed;
}

function unpackPassword(packed: Buffer): string {
  return packed.subarray(2, 2 + packed.readUInt16BE(0)).toString('utf8');
}
