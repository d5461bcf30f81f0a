/** A raw IMAP connection for tests that check exact bytes, and a server fixture. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemoryBackend,
  startImapServer,
  type ImapServer,
  type ImapServerLimits,
  type MailboxBackend,
} from '../../native-host/src/imap/index.js';
import { openAccountStore, StoreMailboxBackend } from '../../native-host/src/store/index.js';

export const USER = 'alice';
export const PASSWORD = 'correct horse';

export type BackendKind = 'memory' | 'store';

export interface Fixture {
  backend: MailboxBackend;
  server: ImapServer;
  /** Stops the server and removes whatever the backend kept. */
  close(): Promise<void>;
}

const SPECIAL = [
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Drafts', specialUse: '\\Drafts' },
] as const;

/**
 * A server for user alice with INBOX, Sent, Trash and Drafts, backed by the in-memory
 * reference backend or by the real encrypted store in a temporary directory.
 */
export async function startFixture(
  limits: Partial<ImapServerLimits> = {},
  kind: BackendKind = 'memory',
): Promise<Fixture> {
  let backend: MailboxBackend;
  let cleanup = async () => {};
  if (kind === 'memory') {
    backend = new MemoryBackend({ initialMailboxes: [...SPECIAL] });
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'imap-store-'));
    const store = await openAccountStore({ dir, storageSecret: randomBytes(64) });
    for (const m of SPECIAL) {
      await store.createMailbox(m.name, { specialUse: m.specialUse });
      await store.setSubscribed(m.name, true);
    }
    const storeBackend = new StoreMailboxBackend();
    storeBackend.register('alice-account', store);
    backend = storeBackend;
    cleanup = async () => {
      store.close();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const server = await startImapServer({
    backend,
    authenticate: async (user, password) =>
      user === USER && password === PASSWORD ? 'alice-account' : null,
    limits: { authFailureDelayMs: 5, ...limits },
  });
  return {
    backend,
    server,
    close: async () => {
      await server.close();
      await cleanup();
    },
  };
}

export class RawClient {
  private buffer: Buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    await client.readLine();
    return client;
  }

  /** Waits until `test` finds what it needs in the received bytes; bounded by a timeout. */
  private async until<T>(test: (buf: Buffer) => T | null, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = test(this.buffer);
      if (result !== null) return result;
      if (this.closed)
        throw new Error(`connection closed; received: ${this.buffer.toString('latin1')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received: ${this.buffer.toString('latin1')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async readLine(timeoutMs?: number): Promise<string> {
    return this.until((buf) => {
      const lf = buf.indexOf('\r\n');
      if (lf < 0) return null;
      const line = buf.subarray(0, lf).toString('utf8');
      this.buffer = buf.subarray(lf + 2);
      return line;
    }, timeoutMs);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends a command and returns everything up to and including its tagged response. */
  async command(tag: string, text: string, timeoutMs?: number): Promise<string> {
    this.write(`${tag} ${text}\r\n`);
    return this.response(tag, timeoutMs);
  }

  /** Everything up to the tagged response of `tag` (literals included verbatim). */
  async response(tag: string, timeoutMs?: number): Promise<string> {
    return this.until((buf) => {
      const text = buf.toString('latin1');
      const match = new RegExp(
        `(^|\\r\\n)${tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} [^\\r\\n]*\\r\\n`,
      ).exec(text);
      if (!match) return null;
      const end = match.index + match[0].length;
      this.buffer = buf.subarray(Buffer.byteLength(text.slice(0, end), 'latin1'));
      return Buffer.from(text.slice(0, end), 'latin1').toString('utf8');
    }, timeoutMs);
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await this.until(() => (this.closed ? true : null), timeoutMs).catch((e: unknown) => {
      if (!this.closed) throw e;
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export async function loggedIn(port: number): Promise<RawClient> {
  const client = await RawClient.open(port);
  const res = await client.command('L', `LOGIN ${USER} "${PASSWORD}"`);
  if (!res.includes('L OK')) throw new Error(res);
  return client;
}
