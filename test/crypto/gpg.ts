/**
 * A real GnuPG in a throw-away home directory, for interoperability tests and the
 * benchmark. Every call is bounded by a timeout; dispose() stops the agent this home
 * started and removes the directory.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GpgResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  /** The --status-fd lines ("[GNUPG:] GOODSIG ..."). */
  status: string[];
}

export class TempGpg {
  private constructor(readonly home: string) {}

  static async create(): Promise<TempGpg> {
    // Short path: gpg-agent's socket path must fit in sun_path.
    return new TempGpg(await mkdtemp(join(tmpdir(), 'gpg-')));
  }

  async run(args: string[], input?: Buffer | string, timeoutMs = 60_000): Promise<GpgResult> {
    const statusFile = join(this.home, `status-${process.hrtime.bigint()}`);
    const child = spawn(
      'gpg',
      [
        '--homedir',
        this.home,
        '--batch',
        '--yes',
        '--pinentry-mode',
        'loopback',
        '--passphrase',
        '',
        '--trust-model',
        'always',
        '--status-file',
        statusFile,
        ...args,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`gpg ${args.join(' ')} timed out`));
      }, timeoutMs);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    const status = (await readFile(statusFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    await rm(statusFile, { force: true });
    return { code, stdout: Buffer.concat(stdout), stderr, status };
  }

  async write(name: string, data: Buffer | string): Promise<string> {
    const path = join(this.home, name);
    await writeFile(path, data);
    return path;
  }

  /** Makes a GnuPG-native key (ed25519 + cv25519, no passphrase); returns its fingerprint. */
  async generateKey(address: string): Promise<string> {
    const made = await this.run([
      '--quick-generate-key',
      address,
      'future-default',
      'default',
      '1y',
    ]);
    if (made.code !== 0) throw new Error(`gpg key generation failed: ${made.stderr}`);
    const fingerprint = made.status
      .find((l) => l.includes('KEY_CREATED'))
      ?.split(' ')
      .pop();
    if (!fingerprint) throw new Error('gpg did not report the new key');
    return fingerprint;
  }

  async exportPublic(fingerprint: string): Promise<string> {
    return (await this.run(['--armor', '--export', fingerprint])).stdout.toString();
  }

  async dispose(): Promise<void> {
    await new Promise<void>((resolve) => {
      const kill = spawn('gpgconf', ['--homedir', this.home, '--kill', 'gpg-agent'], {
        stdio: 'ignore',
      });
      const timer = setTimeout(() => {
        kill.kill('SIGKILL');
        resolve();
      }, 10_000);
      kill.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
      kill.on('error', () => resolve());
    });
    await rm(this.home, { recursive: true, force: true });
  }
}
