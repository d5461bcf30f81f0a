/**
 * Entry point. Thunderbird starts it with [manifest path, extension id]; people start it
 * with a command:
 *   install [--uninstall]   register (or remove) the host for the current user
 *   print-manifest          print the native-messaging manifest
 *   serve | login | status | credentials   standalone mode, for any mail client (cli/)
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from './config/index.js';
import { install, nativeManifest, uninstall } from './messaging/index.js';
import { isCliCommand, runCli } from './cli/index.js';

const mainPath = fileURLToPath(import.meta.url);
const launcherPath = join(
  dirname(mainPath),
  '..',
  '..',
  process.platform === 'win32' ? 'leapbird-host.bat' : 'leapbird-host',
);

async function main(args: string[]): Promise<number> {
  const command = args[0];
  if (command === 'print-manifest') {
    process.stdout.write(JSON.stringify(nativeManifest(launcherPath), null, 2) + '\n');
    return 0;
  }
  if (command === 'install') {
    if (args.includes('--uninstall')) {
      const removed = uninstall({ launcherPath });
      process.stdout.write(`Removed the native host registration (${removed.manifestPath}).\n`);
    } else {
      const done = install({ mainPath, launcherPath });
      process.stdout.write(
        `Registered the native host for Thunderbird:\n  manifest ${done.manifestPath}\n  launcher ${done.launcherPath}\n`,
      );
    }
    return 0;
  }
  if (isCliCommand(command)) return runCli(command, args.slice(1));
  if (command !== undefined && !command.endsWith('.json') && command !== 'native') {
    process.stderr.write(
      `Unknown command "${command}". Use: serve | login ADDRESS | status | credentials ADDRESS | install [--uninstall] | print-manifest\n`,
    );
    return 2;
  }
  // Started by Thunderbird. stdout is the channel: nothing else may write to it.
  console.log =
    console.info =
    console.debug =
      (...parts: unknown[]) => process.stderr.write(parts.join(' ') + '\n');
  // Loaded here, not at the top: the terminal commands should not wait for all of it.
  const { startHost } = await import('./host.js');
  const host = await startHost(loadConfig());
  // A host refused its data folder ends by itself once the folder is free: Thunderbird sees
  // the port close and reconnects to a host that takes it.
  if (host.refused) void host.ended.then(() => process.exit(0));
  // A relay to a standalone host ends with either side; Thunderbird then reconnects.
  if (host.relayedTo) void host.ended.then(() => process.exit(0));
  process.on('SIGTERM', () => void host.stop('SIGTERM').then(() => process.exit(0)));
  process.on('uncaughtException', (error) => {
    host.logger.error('host.uncaught', { error });
    process.exitCode = 1;
  });
  return -1; // keep running until stdin closes
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`leapbird-host: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
