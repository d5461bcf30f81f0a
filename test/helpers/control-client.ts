/**
 * Client for the host's control socket: one JSON request per line. The end-to-end tests
 * use it to ask the add-on, through the host, to act inside Thunderbird.
 */
import { createConnection, type Socket } from 'node:net';
import type { AddonMethods } from '../../shared/src/rpc.js';

type ControlMethods = AddonMethods & {
  'host.waitForAddon': { params: Record<string, never>; result: { ready: true } };
};

export class ControlClient {
  private nextId = 1;
  private buffer = '';
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      let newline: number;
      while ((newline = this.buffer.indexOf('\n')) >= 0) {
        const reply = JSON.parse(this.buffer.slice(0, newline)) as {
          id: number;
          result?: unknown;
          error?: { code: string; message: string };
        };
        this.buffer = this.buffer.slice(newline + 1);
        const w = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        if (!w) continue;
        if (reply.error)
          w.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
        else w.resolve(reply.result);
      }
    });
    socket.on('close', () => {
      for (const w of this.waiting.values()) w.reject(new Error('control socket closed'));
      this.waiting.clear();
    });
  }

  static connect(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once('connect', () => resolve(new ControlClient(socket)));
      socket.once('error', reject);
    });
  }

  call<M extends keyof ControlMethods & string>(
    method: M,
    params: ControlMethods[M]['params'],
    timeoutMs = 60_000,
  ): Promise<ControlMethods[M]['result']> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`control call ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as ControlMethods[M]['result']);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(JSON.stringify({ id, method, params }) + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
