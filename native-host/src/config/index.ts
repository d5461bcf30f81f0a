/**
 * The host's configuration: one typed object with defaults, overridden by a JSON file
 * (`<dataDir>/config.json` or LEAPBIRD_CONFIG) and then by environment variables.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { LogLevel } from '../log/index.js';

export interface HostConfig {
  /** Where the host keeps everything: databases, blobs, logs. Created 0700. */
  dataDir: string;
  logLevel: LogLevel;
  /** Largest message accepted from the add-on (Thunderbird itself allows 4 GiB). */
  maxIncomingMessageBytes: number;
  /**
   * Path of a Unix socket (mode 0600, inside dataDir) through which a local driver (the
   * end-to-end tests, the demo) can ask the add-on to act. Off unless set.
   */
  controlSocket: string | null;
  /**
   * Where provider names lead (tests and demos on loopback; production uses DNS):
   * host name → `{ "origin": "https://127.0.0.2:4430", "ca"?: PEM }`.
   */
  resolver: Record<string, { origin: string; ca?: string }> | null;
  /** Providers whose CA fingerprint is known in advance (domain → `SHA256: hex`). */
  knownProviders: Record<string, string>;
}

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LEAPBIRD_DATA_DIR) return env.LEAPBIRD_DATA_DIR;
  const xdg = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  return join(xdg, 'leapbird');
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): HostConfig {
  const dataDir = defaultDataDir(env);
  const defaults: HostConfig = {
    dataDir,
    logLevel: 'info',
    maxIncomingMessageBytes: 256 * 1024 * 1024,
    controlSocket: null,
    resolver: null,
    knownProviders: {},
  };
  const file = env.LEAPBIRD_CONFIG || join(dataDir, 'config.json');
  const fromFile = existsSync(file) ? parseConfigFile(file) : {};
  const fromEnv: Partial<HostConfig> = {};
  if (env.LEAPBIRD_LOG_LEVEL) fromEnv.logLevel = parseLogLevel(env.LEAPBIRD_LOG_LEVEL);
  if (env.LEAPBIRD_CONTROL_SOCKET) fromEnv.controlSocket = env.LEAPBIRD_CONTROL_SOCKET;
  return { ...defaults, ...fromFile, ...fromEnv, dataDir };
}

function parseConfigFile(file: string): Partial<HostConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(
      `The configuration file ${file} is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`The configuration file ${file} must hold a JSON object.`);
  }
  const config = parsed as Partial<HostConfig>;
  if (config.logLevel !== undefined) config.logLevel = parseLogLevel(config.logLevel);
  return config;
}

function parseLogLevel(value: string): LogLevel {
  if (value === 'debug' || value === 'info' || value === 'warn' || value === 'error') return value;
  throw new Error(`Unknown log level "${value}"; use debug, info, warn or error.`);
}

/**
 * The sockets a standalone host (`leapbird-host serve`) listens on, in its data folder
 * (0700; the sockets themselves 0600): `control` for the terminal commands (one JSON
 * request per line), `addon` for a Thunderbird-started host relaying the add-on to it.
 */
export function socketPaths(dataDir: string): { control: string; addon: string } {
  return { control: join(dataDir, 'control.sock'), addon: join(dataDir, 'addon.sock') };
}
