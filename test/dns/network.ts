/**
 * What sits between two MTAs in the DANE tests: a network path that passes traffic, strips
 * STARTTLS from the server's EHLO reply (the classic downgrade), or hands the connection to
 * an impostor MX with its own certificate; and small ordinary mail servers ("sinks") that
 * record what reached them. Every byte the sending side wrote is kept, to show that nothing
 * went in plaintext.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';

export type PathMode = 'pass' | 'strip-starttls' | 'impostor';

export interface NetworkPath {
  mode: PathMode;
  /** Everything the connecting (sending) side wrote, over all connections, as latin1. */
  fromClient(): string;
  close(): Promise<void>;
}

export interface Sink {
  /** Messages received: envelope and raw message. */
  received: { from: string; to: string[]; raw: string; secure: boolean }[];
  port: number;
  close(): Promise<void>;
}

export async function startSink(options: {
  host: string;
  port: number;
  /** STARTTLS with this certificate; without it STARTTLS is not offered. */
  tls?: { key: string; cert: string };
}): Promise<Sink> {
  const received: Sink['received'] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH'],
    hideSTARTTLS: !options.tls,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('latin1'),
          secure: session.secure,
        });
        callback();
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.server.address();
  return {
    received,
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

/** Listens on host:port and forwards to `upstream` (or the impostor) according to `mode`. */
export async function startNetworkPath(o: {
  host: string;
  port: number;
  upstream: { host: string; port: number };
  impostor: { host: string; port: number };
}): Promise<NetworkPath> {
  let written = '';
  const sockets = new Set<Socket>();
  const path: NetworkPath = {
    mode: 'pass',
    fromClient: () => written,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((client) => {
    const mode = path.mode;
    const target = mode === 'impostor' ? o.impostor : o.upstream;
    const server = createConnection(target);
    for (const s of [client, server]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        server.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      written += chunk.toString('latin1');
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      // The attacker rewrites the capability so the client believes TLS is not offered.
      const text = chunk.toString('latin1');
      client.write(
        mode === 'strip-starttls'
          ? Buffer.from(text.replace(/STARTTLS/g, 'XXXXXXXX'), 'latin1')
          : chunk,
      );
    });
    client.on('end', () => server.end());
    server.on('end', () => client.end());
  });
  await listen(server, o.host, o.port);
  return path;
}
