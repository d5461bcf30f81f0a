/**
 * The terminal commands of `leapbird-host`, for using LeapBird without Thunderbird:
 *   serve                 run the host (local IMAP/SMTP, sync) until SIGTERM or Ctrl-C
 *   login ADDRESS         set up or unlock an account (password typed without echo, or
 *                         --password-stdin; --sign-up makes a new account at the provider)
 *   status                accounts, their state, servers and sync
 *   credentials ADDRESS   what another mail client needs (--json for scripts)
 * Every failure is one sentence on stderr and a non-zero exit, never a stack trace.
 */
import { join } from 'node:path';
import type { ClientCredentials } from '../account/index.js';
import { loadConfig, socketPaths, type HostConfig } from '../config/index.js';
import { lockStillHeld } from '../lock/index.js';
import { parseAddress } from './address.js';
import { askHost, CommandError } from './control-client.js';
import { formatCredentials, formatStatus, formatStopped, type StandaloneStatus } from './format.js';
import { readPasswordFromStream, readPasswordFromTerminal } from './password.js';

export const CLI_COMMANDS = ['serve', 'login', 'status', 'credentials'] as const;
export type CliCommand = (typeof CLI_COMMANDS)[number];

export function isCliCommand(command: string | undefined): command is CliCommand {
  return (CLI_COMMANDS as readonly string[]).includes(command ?? '');
}

/** Runs one command; resolves to the exit code, or to -1 while `serve` keeps running. */
export async function runCli(command: CliCommand, args: string[]): Promise<number> {
  try {
    const config = loadConfig();
    if (command === 'serve') return await serve(config);
    if (command === 'status') return await status(config);
    if (command === 'login') return await login(config, args);
    return await credentials(config, args);
  } catch (error) {
    if (error instanceof CommandError || isPlain(error) || isStartError(error)) {
      process.stderr.write(`leapbird-host: ${(error as Error).message}\n`);
      return 1;
    }
    throw error;
  }
}

function isStartError(error: unknown): boolean {
  return error instanceof Error && error.name === 'HostStartError';
}

/** Errors of the configuration and the account list are already sentences. */
function isPlain(error: unknown): boolean {
  return error instanceof Error && error.constructor === Error;
}

/**
 * The host (and everything it imports: OpenPGP, the store, RxDB) is loaded only by the
 * commands that need it, so that `status` or `credentials` answer without that start-up.
 */
const loadHost = () => import('../host.js');
const loadAccounts = () => import('../account/index.js');

async function serve(config: HostConfig): Promise<number> {
  const { startStandaloneHost } = await loadHost();
  const host = await startStandaloneHost(config);
  const accounts = new (await loadAccounts()).AccountRegistry(config.dataDir).list();
  process.stderr.write(
    `leapbird-host: serving ${config.dataDir} (${accounts.length} account${accounts.length === 1 ? '' : 's'}` +
      `${accounts.length ? ', locked until "leapbird-host login ADDRESS"' : ''}); log ${join(config.dataDir, 'logs', 'host.log')}\n`,
  );
  const stop = (signal: string) =>
    void host.stop(signal).then(() => {
      process.stderr.write('leapbird-host: stopped\n');
      process.exit(0);
    });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (error) => {
    host.logger.error('host.uncaught', { error });
    process.exitCode = 1;
  });
  return -1;
}

async function request(
  config: HostConfig,
  method: string,
  params: Record<string, unknown> = {},
): Promise<unknown> {
  const answer = await askHost(socketPaths(config.dataDir).control, method, params);
  if (answer.answered) return answer.result;
  throw new CommandError(
    'not_running',
    lockStillHeld(config.dataDir)
      ? `LeapBird is running inside Thunderbird on ${config.dataDir}, not standalone: use its setup tab, or quit Thunderbird and run "leapbird-host serve".`
      : `No LeapBird host is running on ${config.dataDir}; start one with "leapbird-host serve".`,
  );
}

async function status(config: HostConfig): Promise<number> {
  const answer = await askHost(socketPaths(config.dataDir).control, 'standalone.status', {});
  if (answer.answered) {
    process.stdout.write(formatStatus(answer.result as StandaloneStatus));
    return 0;
  }
  const accounts = new (await loadAccounts()).AccountRegistry(config.dataDir).list();
  process.stdout.write(formatStopped(config.dataDir, accounts, lockStillHeld(config.dataDir)));
  return 3; // as systemctl status: not running
}

function addressArgument(args: string[], usage: string): string {
  const address = args.find((a) => !a.startsWith('--'));
  if (!address) throw new CommandError('invalid_params', `Usage: leapbird-host ${usage}`);
  const parsed = parseAddress(address);
  if (!parsed.ok) throw new CommandError('invalid_params', parsed.message);
  return `${parsed.login}@${parsed.domain}`;
}

async function login(config: HostConfig, args: string[]): Promise<number> {
  const address = addressArgument(
    args,
    'login ADDRESS [--password-stdin] [--sign-up]  (e.g. login alice@example.org)',
  );
  const signUp = args.includes('--sign-up');
  // Before the password: a mistyped command should not ask for it first.
  await request(config, 'standalone.status');
  const password = args.includes('--password-stdin')
    ? await readPasswordFromStream(process.stdin)
    : await readPasswordFromTerminal(`Password for ${address}: `);
  process.stderr.write(
    signUp
      ? `Creating ${address}…\n`
      : `Logging in to ${address} (SRP: the password stays here)…\n`,
  );
  await request(config, 'standalone.login', { address, password, signUp });
  process.stdout.write(
    `${address} is unlocked. "leapbird-host credentials ${address}" shows what other mail clients need.\n`,
  );
  return 0;
}

async function credentials(config: HostConfig, args: string[]): Promise<number> {
  const address = addressArgument(args, 'credentials ADDRESS [--json]');
  const found = (await request(config, 'standalone.credentials', {
    address,
  })) as ClientCredentials;
  const certificateFile = join(config.dataDir, 'tls', 'local.crt');
  process.stdout.write(
    args.includes('--json')
      ? JSON.stringify({ ...found, certificateFile }, null, 2) + '\n'
      : formatCredentials(found, certificateFile),
  );
  return 0;
}
