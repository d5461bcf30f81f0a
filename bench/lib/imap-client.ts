/**
 * A minimal IMAP client for benchmarks: one command at a time over a raw socket, counting
 * the response's bytes (or keeping its text when asked), so the client's own cost stays
 * small and equal for every server it is pointed at.
 */
import { connect, type Socket } from 'node:net';

export class BenchImapClient {
  private tag = 0;
  private pending: {
    tag: string;
    resolve: (bytes: number) => void;
    reject: (e: Error) => void;
  } | null = null;
  private tail = '';
  private bytes = 0;
  private kept: string[] | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      this.kept?.push(chunk.toString('latin1'));
      // Only the end matters: the tagged line (which can be long, e.g. with CAPABILITY) ends it.
      const text = (this.tail + chunk.toString('latin1', Math.max(0, chunk.length - 4096))).slice(
        -4096,
      );
      this.tail = text;
      const p = this.pending;
      if (p && new RegExp(`(^|\\r\\n)${p.tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n$`).test(text)) {
        this.pending = null;
        if (text.slice(text.lastIndexOf(`${p.tag} `)).startsWith(`${p.tag} OK`))
          p.resolve(this.bytes);
        else p.reject(new Error(text));
      }
    });
  }

  static async open(port: number, user: string, password: string): Promise<BenchImapClient> {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('data', () => resolve());
      socket.once('error', reject);
    });
    const client = new BenchImapClient(socket);
    await client.run(`LOGIN "${user}" "${password}"`);
    return client;
  }

  /** Runs a command; resolves with the response's size in bytes, rejects on NO or BAD. */
  run(command: string): Promise<number> {
    const tag = `T${++this.tag}`;
    this.bytes = 0;
    this.tail = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout: ${command}`)), 300_000);
      this.pending = {
        tag,
        resolve: (n) => {
          clearTimeout(timer);
          resolve(n);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.write(`${tag} ${command}\r\n`);
    });
  }

  /** Runs a command and returns its whole response as text. */
  async text(command: string): Promise<string> {
    this.kept = [];
    try {
      await this.run(command);
      return this.kept.join('');
    } finally {
      this.kept = null;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
