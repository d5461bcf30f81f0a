/**
 * The real host (`startHost`, everything Thunderbird starts) in this process, or as a
 * process of its own, spoken to as the add-on speaks to it: framed JSON over its stdin and
 * stdout, through the same RPC peer. For tests that play someone against the host without
 * starting Thunderbird.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { ADDON_ID, RPC_PROTOCOL_VERSION } from '../../shared/src/constants.js';
import { RpcPeer } from '../../shared/src/rpc-peer.js';
import type { AddonEvents, AddonMethods, HostEvents, HostMethods } from '../../shared/src/rpc.js';
import { loadConfig, type HostConfig } from '../../native-host/src/config/index.js';
import { startHost, type RunningHost } from '../../native-host/src/host.js';
import { FrameDecoder, encodeFrame } from '../../native-host/src/messaging/index.js';

export type AddonPeer = RpcPeer<AddonMethods, HostMethods, HostEvents, AddonEvents>;

export interface AddonSide {
  host: RunningHost;
  /** Calls the host's methods as the add-on does. */
  addon: AddonPeer;
  /** Raw bytes onto the host's stdin, as a hostile or broken add-on could send them. */
  writeRaw(bytes: Buffer): void;
  /** Every message the host sent back, decoded. */
  received: unknown[];
  /** Closes the host's stdin (Thunderbird going away) and waits until the host stopped. */
  stop(): Promise<void>;
}

/** The add-on's end of a native-messaging channel: `toHost` is the host's stdin. */
function speakTo(toHost: Writable, fromHost: Readable) {
  const decoder = new FrameDecoder(64 * 1024 * 1024);
  const received: unknown[] = [];
  const addon: AddonPeer = new RpcPeer({
    send: (envelope) => toHost.write(encodeFrame(envelope)),
    idPrefix: 'a',
    timeoutMs: 120_000,
  });
  fromHost.on('data', (chunk: Buffer) => {
    for (const item of decoder.push(chunk)) {
      if (item.kind !== 'message') continue;
      received.push(item.value);
      addon.receive(item.value);
    }
  });
  return { addon, received };
}

/** The add-on's first call, as Thunderbird's background page makes it. */
export function sayHello(addon: AddonPeer, deviceKey: string) {
  return addon.call('host.hello', {
    addonVersion: 'test',
    thunderbirdVersion: '153.0',
    protocol: RPC_PROTOCOL_VERSION,
    deviceKey,
  });
}

/** Starts the host on `dataDir` without saying hello (a test that expects hello to fail). */
export async function startHostSilently(
  config: Partial<HostConfig> & { dataDir: string },
): Promise<AddonSide> {
  const input = new PassThrough();
  const output = new PassThrough();
  const host = await startHost(
    { ...loadConfig({ LEAPBIRD_DATA_DIR: config.dataDir }), ...config },
    { input, output },
  );
  const { addon, received } = speakTo(input, output);
  return {
    host,
    addon,
    writeRaw: (bytes) => input.write(bytes),
    received,
    stop: async () => {
      input.end();
      await host.stop('test done');
      addon.close();
    },
  };
}

/** Starts the host on `dataDir` and says hello with `deviceKey` (a fresh one if absent). */
export async function startHostAsAddon(
  config: Partial<HostConfig> & { dataDir: string },
  deviceKey = randomBytes(32).toString('base64'),
): Promise<AddonSide> {
  const side = await startHostSilently(config);
  await sayHello(side.addon, deviceKey);
  return side;
}

export interface HostProcess {
  child: ChildProcessWithoutNullStreams;
  addon: AddonPeer;
  /** Everything the host wrote to stderr. */
  stderr: () => string;
  /** Resolves when the process has ended. */
  exited: Promise<void>;
  /** Closes its stdin, as Thunderbird does, and waits for it to end. */
  stop(): Promise<void>;
}

const repo = resolve(import.meta.dirname, '..', '..');

/**
 * The host as its own process, started the way Thunderbird starts it (with a manifest path
 * and the add-on id): this repository's main.ts, or an installed `launcher`. `config` goes to
 * a file outside the data folder.
 */
export function spawnHost(
  config: Partial<Omit<HostConfig, 'dataDir'>> & { dataDir: string },
  options: { launcher?: string; env?: NodeJS.ProcessEnv } = {},
): HostProcess {
  const { dataDir, ...rest } = config;
  const configDir = mkdtempSync(join(tmpdir(), 'lb-host-config-'));
  const configFile = join(configDir, 'config.json');
  writeFileSync(configFile, JSON.stringify(rest));
  const thunderbirdArgs = ['/x/manifest.json', ADDON_ID];
  const [command, args] = options.launcher
    ? [options.launcher, thunderbirdArgs]
    : [
        process.execPath,
        ['--import', 'tsx', join(repo, 'native-host/src/main.ts'), ...thunderbirdArgs],
      ];
  const child = spawn(command, args, {
    cwd: repo,
    env: {
      ...(options.env ?? process.env),
      LEAPBIRD_DATA_DIR: dataDir,
      LEAPBIRD_CONFIG: configFile,
    },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((done) =>
    child.on('exit', () => {
      rmSync(configDir, { recursive: true, force: true });
      done();
    }),
  );
  const { addon } = speakTo(child.stdin, child.stdout);
  return {
    child,
    addon,
    stderr: () => stderr,
    exited,
    stop: async () => {
      child.stdin.end();
      await exited;
      addon.close();
    },
  };
}
