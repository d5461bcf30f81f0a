/**
 * The host, as Thunderbird runs it (the RPC peer on stdio) or standalone (`leapbird-host
 * serve`: no Thunderbird; the add-on, when it comes, is relayed in over a socket): the
 * handlers for the add-on's calls, the terminal commands' socket, and (when configured) the
 * control socket for a local driver. Feature modules attach their handlers here.
 *
 * One lock, one host: a host Thunderbird starts while a standalone host holds the data
 * folder does not refuse, it relays Thunderbird's native-messaging bytes to that host, so
 * the add-on talks to the one host that has the data and shows the same state either way.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  HOST_TO_ADDON_MAX_BYTES,
  RPC_PROTOCOL_VERSION,
  VERSION,
} from '../../shared/src/constants.js';
import { RpcError } from '../../shared/src/errors.js';
import { RpcPeer } from '../../shared/src/rpc-peer.js';
import type {
  AddonEvents,
  AddonMethods,
  HostEvents,
  HostMethods,
  HostStatus,
} from '../../shared/src/rpc.js';
import { socketPaths, type HostConfig } from './config/index.js';
import { AccountService } from './account/index.js';
import { parseAddress } from './cli/address.js';
import { acquireDataLock, lockStillHeld } from './lock/index.js';
import { createFileLogger, createLineLogger, type Logger } from './log/index.js';
import { openControlSocket, openStdioChannel } from './messaging/index.js';
import { mapResolver } from './net/index.js';

export type HostPeer = RpcPeer<HostMethods, AddonMethods, AddonEvents, HostEvents>;

export interface RunningHost {
  /** The add-on started this host: its peer on stdio; null standalone or relaying. */
  peer: HostPeer | null;
  logger: Logger;
  /** Resolves when the add-on has said hello. */
  addonReady: Promise<void>;
  /** Why this host serves nothing (another host holds its data folder), or null. */
  refused: string | null;
  /** The standalone host's socket this one relays the add-on to, or null. */
  relayedTo: string | null;
  stop(reason: string): Promise<void>;
  /** Resolves once the host has stopped, whether asked to or on its own. */
  ended: Promise<void>;
}

type Io = { input: Readable; output: Writable };

/**
 * Every method the add-on may call, so that a host that refuses its data folder can answer
 * each with the same sentence (the compiler checks that none is missing).
 */
const HOST_METHODS: Record<keyof HostMethods & string, true> = {
  'host.hello': true,
  'host.ping': true,
  'host.status': true,
  'setup.provider': true,
  'setup.signUp': true,
  'setup.logIn': true,
  'setup.legacy': true,
  'setup.discover': true,
  'account.logOut': true,
  'keys.own': true,
  'keys.contacts': true,
  'keys.verify': true,
  'keys.recipients': true,
  'settings.get': true,
  'settings.set': true,
};

/** The add-on's RPC peer over the native-messaging stdio channel. */
function openAddonPeer(config: HostConfig, io: Io, logger: Logger, onClose: () => void): HostPeer {
  const channel = openStdioChannel({
    input: io.input,
    output: io.output,
    maxIncomingBytes: config.maxIncomingMessageBytes,
    onMessage: (message) => peer.receive(message),
    onFramingError: (error) =>
      logger.warn('messaging.framing_error', { code: error.code, message: error.message }),
    onClose: ({ truncatedBytes }) => {
      logger.info('messaging.closed', { truncatedBytes });
      onClose();
    },
  });
  const peer: HostPeer = new RpcPeer({
    send: (envelope) => channel.send(envelope),
    maxMessageBytes: HOST_TO_ADDON_MAX_BYTES,
    maxIncomingBytes: config.maxIncomingMessageBytes,
    idPrefix: 'h',
    timeoutMs: 60_000,
    onProtocolError: (error) =>
      logger.warn('rpc.protocol_error', { code: error.code, message: error.message }),
  });
  return peer;
}

/** How often a refused host looks whether the other one has gone. */
const FREED_POLL_MS = 2_000;

/**
 * Another host holds the data folder: this one stays connected so the add-on can show why,
 * answers every call with that sentence, and touches nothing (its log goes to stderr,
 * which Thunderbird keeps in its error console). Once the other host has gone (a profile
 * closed, or an old host finishing its stop while Thunderbird reconnects) it ends, so the
 * add-on reconnects and gets a host that takes the folder.
 */
function refusingHost(config: HostConfig, io: Io, message: string): RunningHost {
  const logger = createLineLogger((line) => process.stderr.write(line), config.logLevel, {
    pid: process.pid,
  });
  logger.warn('host.data_in_use', { dataDir: config.dataDir, message });
  let markReady: () => void = () => {};
  const addonReady = new Promise<void>((resolve) => (markReady = resolve));
  let markEnded: () => void = () => {};
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  const watch = setInterval(() => {
    if (lockStillHeld(config.dataDir)) return;
    logger.info('host.data_freed', { dataDir: config.dataDir });
    void stop();
  }, FREED_POLL_MS);
  watch.unref(); // stdin keeps a real host alive; this must not keep anything else alive
  const stop = () => {
    clearInterval(watch);
    peer.close();
    markEnded();
    return Promise.resolve();
  };
  const peer = openAddonPeer(config, io, logger, () => void stop());
  for (const method of Object.keys(HOST_METHODS) as (keyof HostMethods & string)[]) {
    peer.handle(method, () => {
      if (method === 'host.hello') markReady();
      throw new RpcError('data_in_use', message);
    });
  }
  return { peer, logger, addonReady, refused: message, relayedTo: null, stop, ended };
}

/** The standalone host's add-on socket, when one answers there; null otherwise. */
function connectStandalone(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', () => resolve(null));
  });
}

/**
 * A standalone host holds the data folder: this process only carries bytes between
 * Thunderbird and it, parsing nothing and touching nothing. When either side goes, it
 * ends, and the add-on reconnects as it does after any host stops.
 */
function relayHost(config: HostConfig, io: Io, socket: Socket, path: string): RunningHost {
  const logger = createLineLogger((line) => process.stderr.write(line), config.logLevel, {
    pid: process.pid,
  });
  logger.info('host.relay_to_standalone', { socket: path });
  let markEnded: () => void = () => {};
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  io.input.pipe(socket);
  socket.pipe(io.output, { end: false });
  const stop = () => {
    socket.destroy();
    markEnded();
    return Promise.resolve();
  };
  socket.on('error', () => void stop());
  socket.on('close', () => void stop());
  io.input.on('end', () => socket.end());
  return {
    peer: null,
    logger,
    addonReady: Promise.resolve(),
    refused: null,
    relayedTo: path,
    stop,
    ended,
  };
}

export async function startHost(
  config: HostConfig,
  io: Io = { input: process.stdin, output: process.stdout },
): Promise<RunningHost> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  // Before anything reads or writes the data folder, the log included.
  const locked = await acquireDataLock(config.dataDir);
  if (!locked.acquired) {
    const path = socketPaths(config.dataDir).addon;
    const standalone = await connectStandalone(path);
    if (standalone) return relayHost(config, io, standalone, path);
    return refusingHost(config, io, locked.message);
  }
  try {
    return await startLocked(config, { io }, locked.lock.release, locked.tookOver);
  } catch (error) {
    locked.lock.release();
    throw error;
  }
}

/** Why a standalone host could not start, in a sentence for the terminal. */
export class HostStartError extends Error {
  override name = 'HostStartError';
}

/**
 * `leapbird-host serve`: the host without Thunderbird. Accounts stay locked until a
 * terminal login (or an add-on's device key) opens them; the terminal commands and the
 * add-on reach it through sockets in the data folder.
 */
export async function startStandaloneHost(config: HostConfig): Promise<RunningHost> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const locked = await acquireDataLock(config.dataDir);
  if (!locked.acquired) {
    throw new HostStartError(
      locked.message.replace(/ This one does not open.*$/, '') +
        ' Only one host may use it; stop the other one first (or use it: "leapbird-host status").',
    );
  }
  try {
    return await startLocked(config, null, locked.lock.release, locked.tookOver);
  } catch (error) {
    locked.lock.release();
    throw error;
  }
}

async function startLocked(
  config: HostConfig,
  /** Thunderbird's stdio; null for a standalone host. */
  thunderbird: { io: Io } | null,
  unlock: () => void,
  tookOver: string | null,
): Promise<RunningHost> {
  const logger = createFileLogger(join(config.dataDir, 'logs', 'host.log'), config.logLevel, {
    pid: process.pid,
  });
  logger.info('host.start', {
    version: VERSION,
    argv: process.argv.slice(2),
    runtime: { path: process.execPath, version: process.version },
  });
  // A host that crashed leaves its lock; nothing was lost, this one carries on.
  if (tookOver) logger.warn('host.lock_taken_over', { why: tookOver });

  let markReady: () => void = () => {};
  const addonReady = new Promise<void>((resolve) => (markReady = resolve));
  let stopping: Promise<void> | null = null;
  const servers: Server[] = [];
  let markEnded: () => void = () => {};
  const ended = new Promise<void>((resolve) => (markEnded = resolve));
  /** The add-ons connected now: one on stdio, or any number relayed to a standalone host. */
  const peers = new Set<HostPeer>();
  /** Relayed add-ons' connections, dropped at stop so that Thunderbird's side ends too. */
  const addonSockets = new Set<Socket>();
  let latestPeer: HostPeer | null = null;

  const accounts = new AccountService({
    dataDir: config.dataDir,
    logger,
    ...(config.resolver ? { resolver: mapResolver(config.resolver) } : {}),
    knownProviders: config.knownProviders,
    onStatus: () => {
      for (const peer of peers) peer.emit('status', status());
    },
    onProgress: (progress) => {
      for (const peer of peers) peer.emit('progress', progress);
    },
  });
  const status = (): HostStatus => accounts.status();

  function attachAddon(io: Io, onClose: () => void): HostPeer {
    const peer = openAddonPeer(config, io, logger, () => {
      peers.delete(peer);
      if (latestPeer === peer) latestPeer = null;
      peer.close();
      onClose();
    });
    peers.add(peer);
    latestPeer = peer;
    handleAddon(peer);
    return peer;
  }

  /** Every call the add-on may make, answered on its own peer. */
  function handleAddon(peer: HostPeer): void {
    peer.handle('host.hello', (params) => {
      if (params?.protocol !== RPC_PROTOCOL_VERSION) {
        throw new RpcError(
          'not_supported',
          `The add-on speaks protocol ${String(params?.protocol)} but this host speaks ${RPC_PROTOCOL_VERSION}; update both to the same version.`,
        );
      }
      logger.info('addon.hello', {
        addonVersion: params.addonVersion,
        thunderbirdVersion: params.thunderbirdVersion,
      });
      if (params.deviceKey) {
        accounts.setDeviceKey(params.deviceKey);
        // In the background: a failure here is logged, the accounts say their own state.
        void accounts
          .resumeAll()
          .then(pinAccounts)
          .catch((error: unknown) => logger.error('account.resume_or_pin_failed', { error }));
      }
      markReady();
      peer.emit('status', status());
      return { hostVersion: VERSION, protocol: RPC_PROTOCOL_VERSION };
    });
    /** Running accounts' servers speak TLS: Thunderbird must trust their certificate, and only it. */
    async function pinAccounts(): Promise<void> {
      for (const pin of await accounts.pins()) {
        try {
          await peer.call('accounts.pin', pin);
        } catch (error) {
          logger.warn('account.pin_failed', { account: pin.email, error });
        }
      }
    }
    peer.handle('host.ping', (params) => {
      logger.info('rpc.ping', { nonce: params.nonce });
      return { nonce: params.nonce, hostTime: new Date().toISOString() };
    });
    peer.handle('host.status', () => status());
    peer.handle('setup.provider', ({ domain }) => accounts.describeProvider(domain));
    peer.handle('setup.signUp', (credentials) => accounts.signUp(credentials));
    peer.handle('setup.logIn', (credentials) => accounts.logIn(credentials));
    peer.handle('setup.legacy', (setup) => accounts.setUpLegacy(setup));
    peer.handle('setup.discover', ({ email }) => accounts.discover(email));
    peer.handle('account.logOut', async ({ email, removeData }) => {
      await accounts.logOut(email, removeData);
      return { loggedOut: true as const };
    });
    peer.handle('keys.own', ({ email }) => accounts.ownKey(email));
    peer.handle('keys.contacts', ({ email }) => accounts.contacts(email));
    peer.handle('keys.verify', ({ email, contact, fingerprint }) =>
      accounts.verify(email, contact, fingerprint),
    );
    peer.handle('keys.recipients', ({ email, recipients }) =>
      accounts.recipients(email, recipients),
    );
    peer.handle('settings.get', ({ email }) => accounts.settings(email));
    peer.handle('settings.set', ({ email, settings }) => accounts.changeSettings(email, settings));
    peer.on('log', (entry) => {
      const level = entry.level === 'error' || entry.level === 'warn' ? entry.level : 'info';
      logger[level](`addon.${entry.message}`, entry.data ?? {});
    });
  }

  const peer = thunderbird ? attachAddon(thunderbird.io, () => void stop('stdin closed')) : null;

  if (!thunderbird) {
    const paths = socketPaths(config.dataDir);
    // A standalone host has no add-on to give it the device key: a terminal login unlocks.
    accounts.lockUntilLogin((email) => `Locked: unlock it with "leapbird-host login ${email}".`);
    servers.push(
      await openControlSocket(paths.control, async (method, params) => {
        logger.info('control.request', { method });
        return terminalCommand(method, params as Record<string, unknown>);
      }),
    );
    servers.push(
      await listenForAddons(paths.addon, (socket) => {
        addonSockets.add(socket);
        attachAddon({ input: socket, output: socket }, () => addonSockets.delete(socket));
      }),
    );
    logger.info('standalone.listening', { control: paths.control, addon: paths.addon });
  }

  /** What `leapbird-host status | login | credentials` ask a running standalone host. */
  async function terminalCommand(
    method: string,
    params: Record<string, unknown>,
  ): Promise<unknown> {
    if (method === 'standalone.status') {
      return {
        pid: process.pid,
        dataDir: config.dataDir,
        log: join(config.dataDir, 'logs', 'host.log'),
        addons: peers.size,
        accounts: accounts.describe(),
      };
    }
    if (method === 'standalone.login') {
      const address = parseAddress(String(params.address ?? ''));
      if (!address.ok) throw new RpcError('invalid_params', address.message);
      if (typeof params.password !== 'string' || params.password === '')
        throw new RpcError('invalid_params', 'A password is needed.');
      const result = await accounts.logInFromTerminal(
        { domain: address.domain, username: address.login, password: params.password },
        params.signUp === true,
      );
      return accounts.describe().find((a) => a.email === result.account.email) ?? null;
    }
    if (method === 'standalone.credentials')
      return accounts.credentials(String(params.address ?? '').toLowerCase());
    if (method === 'host.status') return status();
    throw new RpcError('not_supported', `Unknown command ${JSON.stringify(method)}.`);
  }

  if (config.controlSocket) {
    const control = await openControlSocket(config.controlSocket, async (method, params) => {
      logger.info('control.request', { method });
      if (method === 'host.waitForAddon') {
        await addonReady;
        return { ready: true };
      }
      if (method === 'host.status') return status();
      if (method.startsWith('standalone.'))
        return terminalCommand(method, params as Record<string, unknown>);
      if (!latestPeer) throw new RpcError('not_ready', 'No add-on is connected.');
      return latestPeer.call(method as keyof AddonMethods & string, params as never, {
        timeoutMs: 120_000,
      });
    });
    servers.push(control);
    logger.info('control.listening', { path: config.controlSocket });
  }

  async function stop(reason: string): Promise<void> {
    if (stopping) return stopping;
    stopping = (async () => {
      logger.info('host.stop', { reason });
      for (const each of peers) each.close();
      await accounts
        .stopAll()
        .catch((error: unknown) => logger.warn('host.stop_accounts_failed', { error }));
      // Not waiting for their connections: a relayed add-on's stays open until it is dropped.
      for (const server of servers) server.close();
      for (const socket of addonSockets) socket.destroy();
      unlock();
      markEnded();
    })();
    return stopping;
  }

  return { peer, logger, addonReady, refused: null, relayedTo: null, stop, ended };
}

/** The socket relayed add-ons arrive on (mode 0600 in the 0700 data folder). */
async function listenForAddons(path: string, onAddon: (socket: Socket) => void): Promise<Server> {
  rmSync(path, { force: true }); // left by a host that crashed: the lock proved it gone
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    onAddon(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}
