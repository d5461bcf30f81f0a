/**
 * Loopback networking helpers shared by the provider's servers and its Dovecot launcher.
 */
import { createConnection } from 'node:net';
import type { SMTPServer } from 'smtp-server';

export { freePort } from '../../../native-host/src/net/index.js';

/** Resolves once something accepts TCP connections on host:port, rejects after `timeoutMs`
 * or as soon as `abort()` returns a reason (e.g. the child process died). */
export async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  abort: () => string | undefined = () => undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = abort();
    if (reason) throw new Error(reason);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port });
      const done = (result: boolean) => {
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(500, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ListeningServer {
  port: number;
  close(): Promise<void>;
}

/** Starts an SMTP server (the MX or the relay) and reports the port it got. A broken
 * connection from one client is that client's problem, not the server's. */
export async function listenSmtp(
  server: SMTPServer,
  host: string,
  port: number,
): Promise<ListeningServer> {
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
