/**
 * One request to a running standalone host over its control socket (one JSON line each
 * way). Null when no host listens there, so the caller can fall back or say so.
 */
import { createConnection } from 'node:net';

export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function askHost(
  socketPath: string,
  method: string,
  params: Record<string, unknown>,
  timeoutMs = 180_000,
): Promise<{ answered: false } | { answered: true; result: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffer = '';
    let connected = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new CommandError('timeout', 'The LeapBird host did not answer in time.'));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      connected = true;
      socket.write(JSON.stringify({ id: 1, method, params }) + '\n');
    });
    socket.on('data', (text: string) => {
      buffer += text;
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      socket.end();
      let reply: { result?: unknown; error?: { code?: string; message?: string } };
      try {
        reply = JSON.parse(buffer.slice(0, newline)) as typeof reply;
      } catch {
        reject(new CommandError('bad_reply', 'The LeapBird host answered something unreadable.'));
        return;
      }
      if (reply.error)
        reject(new CommandError(reply.error.code ?? 'error', reply.error.message ?? 'It failed.'));
      else resolve({ answered: true, result: reply.result });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // No socket, or a socket left by a host that has gone: nobody is there.
      if (!connected && ['ENOENT', 'ECONNREFUSED', 'ENOTSOCK'].includes(error.code ?? ''))
        resolve({ answered: false });
      else reject(new CommandError('io', `Could not talk to the LeapBird host: ${error.message}`));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (connected && !buffer.includes('\n'))
        reject(new CommandError('closed', 'The LeapBird host closed the connection.'));
    });
  });
}
