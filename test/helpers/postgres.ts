/**
 * A private PostgreSQL cluster for tests: `initdb` in a temporary folder, `postgres` on
 * 127.0.0.1 at a free port with its socket in that folder, stopped by its PID. PostgreSQL
 * refuses to run as root, so as root (CI) the cluster belongs to the `postgres` user (the
 * Debian package's) or else `nobody`, and runs under `setpriv` (which execs, so the PID is
 * the server's own). Durability is switched off: the data lives as long as the test run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort } from '../../provider/src/net/index.js';

export interface PostgresCluster {
  /** `postgres://leapbird@127.0.0.1:<port>/postgres`: the maintenance database. */
  url: string;
  port: number;
  pid: number;
  /** A fresh, empty database; its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

const SUPERUSER = 'leapbird';

/** Where `initdb` and `postgres` are: on PATH, else Debian's newest /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  }
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

/** The unprivileged account a root process runs PostgreSQL as. */
function runAs(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      if (uid > 0) return { uid, gid };
    } catch {
      // no such user: try the next
    }
  }
  throw new Error(
    'running as root, but there is neither a "postgres" nor a "nobody" user to run PostgreSQL as',
  );
}

function command(bin: string, args: string[], user: { uid: number; gid: number } | null) {
  return user
    ? {
        file: 'setpriv',
        args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', bin, ...args],
      }
    : { file: bin, args };
}

async function untilReady(url: string, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`postgres exited while starting (log: ${logPath})`);
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline)
        throw new Error(`postgres did not start in time (log: ${logPath})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const bin = postgresBinDir();
  if (!bin)
    throw new Error(
      'PostgreSQL is not installed (no initdb/postgres found); apt-get install postgresql',
    );
  const user = runAs();
  const dir = mkdtempSync(join(tmpdir(), 'leapbird-pg-'));
  // The server's account must reach its folders inside ours.
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  const socket = join(dir, 'socket');
  for (const d of [data, socket]) {
    mkdirSync(d, { mode: 0o700 });
    if (user) chownSync(d, user.uid, user.gid);
  }
  const init = command(
    join(bin, 'initdb'),
    ['-D', data, '-U', SUPERUSER, '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'],
    user,
  );
  try {
    execFileSync(init.file, init.args, { stdio: 'pipe', cwd: dir });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`initdb failed: ${stderr.trim() || (err as Error).message}`);
  }

  const port = await freePort('127.0.0.1');
  const logPath = join(dir, 'postgres.log');
  const log = openSync(logPath, 'a');
  const run = command(
    join(bin, 'postgres'),
    [
      '-D',
      data,
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-k',
      socket,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
    ],
    user,
  );
  const child = spawn(run.file, run.args, { stdio: ['ignore', log, log], cwd: dir });
  const url = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGINT: "fast" shutdown, ends every session and stops at once.
      child.kill('SIGINT');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await untilReady(url, child, logPath);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    port,
    pid: child.pid!,
    createDatabase: () => createDatabaseAt(url),
    stop,
  };
}

/** A fresh database in the cluster whose maintenance URL is `url` (from another process). */
export async function createDatabaseAt(url: string): Promise<string> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return url.replace(/\/postgres$/, `/${name}`);
}
