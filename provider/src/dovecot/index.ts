/**
 * Starts and stops a private Dovecot (IMAP + LMTP) for the provider and for tests that need
 * a real IMAP server on loopback. The instance is one child process (`dovecot -F`), found and
 * stopped by its PID; all its state sits under `<dataDir>`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../net/index.js';
import {
  renderDovecotConf,
  renderOauth2Conf,
  renderPasswd,
  type DovecotAuth,
  type MailOwner,
} from './config.js';

export type { DovecotAuth, PasswdUser } from './config.js';

export interface DovecotOptions {
  /** Everything of this instance lives here: config, sockets, log and mail. Made traversable
   * (o+x) because Dovecot's unprivileged processes open sockets and mail below it. */
  dataDir: string;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  auth: DovecotAuth;
  /** Certificate and key (PEM files) for STARTTLS and the implicit-TLS imaps listener. */
  tls?: { certPath: string; keyPath: string };
  /** Fixed ports; anything left out is chosen free at start. */
  ports?: { imap?: number; imaps?: number; lmtp?: number };
  /** How long to wait for the IMAP port to accept (default 15 s). */
  startTimeoutMs?: number;
  /** Settings appended as they are (benchmarks: a full-text plugin); never from user input. */
  extraConfig?: string;
}

export interface DovecotInstance {
  host: string;
  imapPort: number;
  /** Implicit-TLS IMAP, present when `tls` was given. */
  imapsPort: number | null;
  lmtpPort: number;
  logPath: string;
  /** Mail of user `local@domain` is under `<mailDir>/<domain>/<local>/Maildir`. */
  mailDir: string;
  configPath: string;
  pid: number;
  /** Rewrites the passwd-file (passwd-file auth only); Dovecot re-reads it on the next login. */
  setUsers(users: { user: string; password: string }[]): void;
  stop(): Promise<void>;
}

/** As root, Dovecot refuses to run mail processes as root; `nobody` is on every Debian system
 * and is not Dovecot's own internal or login user, which Dovecot also rejects for mail. */
function mailOwner(): MailOwner {
  const me = userInfo();
  if (me.uid === 0) {
    const nobody = systemUser('nobody');
    return { uid: nobody.uid, gid: nobody.gid, internalUser: 'dovecot', loginUser: 'dovenull' };
  }
  return { uid: me.uid, gid: me.gid, internalUser: me.username, loginUser: me.username };
}

let instanceCounter = 0;

export async function startDovecot(options: DovecotOptions): Promise<DovecotInstance> {
  const host = options.host ?? '127.0.0.1';
  const owner = mailOwner();
  const root = options.dataDir;
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o711);
  const confDir = join(root, 'dovecot');
  const baseDir = join(confDir, 'run');
  const mailDir = join(root, 'mail');
  mkdirSync(join(baseDir, 'state'), { recursive: true });
  mkdirSync(mailDir, { recursive: true, mode: 0o700 });
  chmodSync(confDir, 0o711);
  if (process.getuid?.() === 0) chownSync(mailDir, owner.uid, owner.gid);
  const logPath = join(root, 'dovecot.log');
  const configPath = join(confDir, 'dovecot.conf');
  const passwdPath = join(confDir, 'passwd');
  const oauth2ConfPath = join(confDir, 'oauth2.conf.ext');

  // Files with secrets (passwords, the introspection password) are read by the auth process,
  // which runs as Dovecot's internal user: readable by its group, by nobody else.
  const writeAuthFile = (path: string, content: string) => {
    writeFileSync(path, content, { mode: 0o640 });
    chmodSync(path, 0o640);
    if (process.getuid?.() === 0) chownSync(path, 0, systemUser(owner.internalUser).gid);
  };
  const writePasswd = (users: { user: string; password: string }[]) =>
    writeAuthFile(passwdPath, renderPasswd(users));
  if (options.auth.kind === 'passwd-file') writePasswd(options.auth.users);
  else {
    // The auth process cannot enter the provider's private CA folder: it gets its own copy
    // of the (public) CA certificate.
    const auth = options.auth;
    const caCopy = auth.caCertPath ? join(confDir, 'introspection-ca.crt') : undefined;
    if (auth.caCertPath && caCopy) copyFileSync(auth.caCertPath, caCopy);
    writeAuthFile(oauth2ConfPath, renderOauth2Conf({ ...auth, caCertPath: caCopy }));
  }

  const timeoutMs = options.startTimeoutMs ?? 15_000;
  let lastError: unknown;
  // A port found free can be taken by someone else before Dovecot binds it; retry with new ones.
  for (let attempt = 0; attempt < 3; attempt++) {
    const ports = {
      imap: options.ports?.imap ?? (await freePort(host)),
      imaps: options.tls ? (options.ports?.imaps ?? (await freePort(host))) : null,
      lmtp: options.ports?.lmtp ?? (await freePort(host)),
    };
    writeFileSync(
      configPath,
      renderDovecotConf({
        extraConfig: options.extraConfig ?? '',
        instance: `provider-${process.pid}-${++instanceCounter}`,
        host,
        baseDir,
        mailDir,
        logPath,
        passwdPath,
        oauth2ConfPath,
        ports,
        tls: options.tls ?? null,
        auth: options.auth,
        owner,
      }),
      { mode: 0o644 },
    );
    const child = spawn('dovecot', ['-F', '-c', configPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let exited: string | undefined;
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.once('error', (err) => (exited = `cannot run dovecot: ${err.message}`));
    child.once('exit', (code, signal) => {
      exited = `dovecot exited (${signal ?? code}) during start: ${stderr.trim() || 'see ' + logPath}`;
    });
    try {
      await waitForPort(host, ports.imap, timeoutMs, () => exited);
      await waitForPort(host, ports.lmtp, timeoutMs, () => exited);
    } catch (err) {
      lastError = err;
      await stopChild(child);
      continue;
    }
    return {
      host,
      imapPort: ports.imap,
      imapsPort: ports.imaps,
      lmtpPort: ports.lmtp,
      logPath,
      mailDir,
      configPath,
      pid: child.pid ?? -1,
      setUsers: (users) => {
        if (options.auth.kind !== 'passwd-file')
          throw new Error('this Dovecot does not use a passwd-file');
        writePasswd(users);
      },
      stop: () => stopChild(child),
    };
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** uid and primary gid of a system user, from /etc/passwd. */
function systemUser(name: string): { uid: number; gid: number } {
  const fields = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`))
    ?.split(':');
  if (!fields) throw new Error(`Dovecot needs the system user "${name}", which does not exist`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** Direct children of `pid` (Linux /proc): Dovecot's own service processes. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid; the command (field 2) may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** SIGTERM, then wait for the exit. Dovecot's master waits for its children, and children
 * still starting (a stop right after a start) can take seconds to notice; after 1.5 s the
 * master and its children are killed, by their PIDs. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      const children = child.pid ? childrenOf(child.pid) : [];
      child.kill('SIGKILL');
      for (const pid of children) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }, 1500);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
