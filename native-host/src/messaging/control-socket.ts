/**
 * A local driver's door into the host: a Unix socket, mode 0600, speaking one JSON
 * request per line (`{"id","method","params"}` → `{"id","result"}` or `{"id","error"}`).
 * The end-to-end tests and the headless demo use it to ask the add-on, through the host,
 * to act inside Thunderbird. It exists only when configured.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { RpcError } from '../../../shared/src/errors.js';

const MAX_LINE_BYTES = 1024 * 1024;

export type ControlHandler = (method: string, params: unknown) => Promise<unknown>;

export async function openControlSocket(path: string, handle: ControlHandler): Promise<Server> {
  if (existsSync(path)) unlinkSync(path);
  const server = createServer((socket) => serve(socket, handle));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}

function serve(socket: Socket, handle: ControlHandler): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (text: string) => {
    buffer += text;
    if (buffer.length > MAX_LINE_BYTES) {
      socket.end(
        JSON.stringify({
          id: null,
          error: { code: 'message_too_large', message: 'Line too long.' },
        }) + '\n',
      );
      return;
    }
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      void answer(socket, line, handle);
    }
  });
  socket.on('error', () => socket.destroy());
}

async function answer(socket: Socket, line: string, handle: ControlHandler): Promise<void> {
  let id: unknown = null;
  try {
    const request = JSON.parse(line) as { id?: unknown; method?: unknown; params?: unknown };
    id = request.id ?? null;
    if (typeof request.method !== 'string')
      throw new RpcError('bad_message', 'A request needs a method.');
    const result = await handle(request.method, request.params ?? {});
    reply(socket, { id, result: result ?? null });
  } catch (error) {
    const rpcError =
      error instanceof SyntaxError
        ? new RpcError('bad_message', 'Not JSON.')
        : RpcError.from(error);
    reply(socket, { id, error: rpcError.toValue() });
  }
}

function reply(socket: Socket, value: unknown): void {
  if (!socket.destroyed) socket.write(JSON.stringify(value) + '\n');
}
