/**
 * The real host (`startHost`, everything Thunderbird starts) in this process, spoken to as
 * the add-on speaks to it: framed JSON over its stdin and stdout, through the same RPC peer.
 * For tests that play someone against the host without starting Thunderbird.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { RPC_PROTOCOL_VERSION } from '../../shared/src/constants.js';
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

/** Starts the host on `dataDir` and says hello with `deviceKey` (a fresh one if absent). */
export async function startHostAsAddon(
  config: Partial<HostConfig> & { dataDir: string },
  deviceKey = randomBytes(32).toString('base64'),
): Promise<AddonSide> {
  const input = new PassThrough();
  const output = new PassThrough();
  const host = await startHost(
    { ...loadConfig({ LEAPBIRD_DATA_DIR: config.dataDir }), ...config },
    { input, output },
  );
  const { addon, received } = await speakAsAddon(input, output, deviceKey);
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

/**
 * The add-on's side of the native-messaging channel over any pair of streams: framed JSON,
 * the RPC peer, and the hello with `deviceKey`.
 */
async function speakAsAddon(
  input: Writable,
  output: Readable,
  deviceKey: string,
): Promise<{ addon: AddonPeer; received: unknown[] }> {
  const decoder = new FrameDecoder(64 * 1024 * 1024);
  const received: unknown[] = [];
  const addon: AddonPeer = new RpcPeer({
    send: (envelope) => input.write(encodeFrame(envelope)),
    idPrefix: 'a',
    timeoutMs: 120_000,
  });
  output.on('data', (chunk: Buffer) => {
    for (const item of decoder.push(chunk)) {
      if (item.kind !== 'message') continue;
      received.push(item.value);
      addon.receive(item.value);
    }
  });
  await addon.call('host.hello', {
    addonVersion: 'test',
    thunderbirdVersion: '153.0',
    protocol: RPC_PROTOCOL_VERSION,
    deviceKey,
  });
  return { addon, received };
}

/**
 * Starts an installed host program (a launcher, as Thunderbird would) as a child process
 * and speaks to it as the add-on does; `stop` closes its stdin and waits for it to exit.
 */
export async function spawnHostAsAddon(
  launcher: string,
  env: NodeJS.ProcessEnv,
  deviceKey = randomBytes(32).toString('base64'),
): Promise<{ addon: AddonPeer; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(launcher, ['manifest.json', 'leapbird@leapbird.org'], {
    env,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { addon } = await speakAsAddon(child.stdin!, child.stdout!, deviceKey);
  return {
    addon,
    child,
    stop: async () => {
      child.stdin!.end();
      await exited;
      addon.close();
    },
  };
}
