/**
 * The standalone host as a person runs it: `leapbird-host serve` as a process of its own,
 * and the terminal commands (`login`, `status`, `credentials`) as processes too, with the
 * data folder and a configuration that trusts a test provider.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hostConfigFor, type TestProvider } from '../provider/helpers.js';
import { waitFor } from '../helpers/wait.js';

const repo = resolve(import.meta.dirname, '..', '..');
/** The source through tsx, or a built host (`LEAPBIRD_HOST_MAIN=dist/…/main.js`, for timing). */
const main = resolve(repo, process.env.LEAPBIRD_HOST_MAIN ?? 'native-host/src/main.ts');
const hostArgs = (args: string[]) =>
  main.endsWith('.ts') ? ['--import', 'tsx', main, ...args] : [main, ...args];

export interface Place {
  dataDir: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/** A fresh data folder and a config file beside it (outside it) that trusts `provider`. */
export function standalonePlace(provider: TestProvider): Place {
  const root = mkdtempSync(join(tmpdir(), 'lb-standalone-'));
  const dataDir = join(root, 'data');
  const configFile = join(root, 'config.json');
  writeFileSync(configFile, JSON.stringify(hostConfigFor(provider)));
  return {
    dataDir,
    env: { ...process.env, LEAPBIRD_DATA_DIR: dataDir, LEAPBIRD_CONFIG: configFile },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** SIGTERM, as systemd stops it, and the exit code. */
  stop(): Promise<number | null>;
}

export async function startServe(place: Place): Promise<ServeProcess> {
  const child = spawn(process.execPath, hostArgs(['serve']), {
    cwd: repo,
    env: place.env,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const serve: ServeProcess = {
    child,
    stderr: () => stderr,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      // A host that does not stop is a failure (exit code null), not a leak left running.
      const hung = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(hung);
      return code;
    },
  };
  await waitFor(
    'serve to listen',
    () => stderr.includes('leapbird-host: serving') || child.exitCode !== null || undefined,
    60_000,
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`serve did not start: ${stderr}`, { cause: error });
  });
  return serve;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One terminal command; `input` goes to its stdin (for --password-stdin). */
export function cli(place: Place, args: string[], input = ''): Promise<CliResult> {
  const child = spawn(process.execPath, hostArgs(args), {
    cwd: repo,
    env: place.env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input);
  return new Promise((done) => child.on('exit', (code) => done({ code, stdout, stderr })));
}

/**
 * A command typed at a terminal (a pseudo-terminal, through Python's pty module): `input` is
 * typed once `prompt` shows; the result's stdout is everything the terminal showed.
 */
export function cliOnTerminal(
  place: Place,
  args: string[],
  prompt: string,
  input: string,
): Promise<CliResult> {
  return new Promise((done) => {
    const child = spawn(
      'python3',
      [
        join(import.meta.dirname, 'type-on-tty.py'),
        process.execPath,
        '--import',
        'tsx',
        main,
        ...args,
      ],
      { cwd: repo, env: { ...place.env, TTY_PROMPT: prompt, TTY_INPUT: input } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

export interface ClientSettings {
  email: string;
  username: string;
  password: string;
  imap: { host: string; port: number };
  smtp: { host: string; port: number };
  certificateFingerprint: string;
  certificateFile: string;
}

/** What `leapbird-host credentials ADDRESS --json` prints. */
export async function credentialsOf(place: Place, address: string): Promise<ClientSettings> {
  const result = await cli(place, ['credentials', address, '--json']);
  if (result.code !== 0) throw new Error(`credentials failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as ClientSettings;
}
