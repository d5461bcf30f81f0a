/**
 * A stub resolver that asks one configured validating resolver (address:port): UDP first,
 * TCP when the answer is truncated. Thin I/O around message.ts.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createConnection, isIPv6 } from 'node:net';
import {
  buildQuery,
  isTruncated,
  messageId,
  parseAnswer,
  type DnsResult,
  type RecordType,
} from './message.js';

export interface ResolverAddress {
  host: string;
  port: number;
}

export function parseResolverAddress(value: string): ResolverAddress {
  // "127.0.0.1:5353", "[::1]:5353" or a bare address (port 53).
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  const plain = /^([^:]+)(?::(\d+))?$/.exec(value);
  const m = bracket ?? plain;
  const port = Number(m?.[2] ?? 53);
  if (!m || !Number.isInteger(port) || port <= 0 || port > 65535)
    throw new Error(`"${value}" is not a resolver address (ip or ip:port)`);
  return { host: m[1] as string, port };
}

function udpExchange(to: ResolverAddress, query: Buffer, id: number, timeoutMs: number) {
  return new Promise<Buffer | null>((resolve) => {
    const socket = createSocket(isIPv6(to.host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => done(null), timeoutMs);
    function done(value: Buffer | null) {
      clearTimeout(timer);
      socket.close();
      resolve(value);
    }
    socket.on('error', () => done(null));
    socket.on('message', (msg, from) => {
      // Only the resolver's answer to this query counts; anything else is ignored.
      if (from.address === to.host && from.port === to.port && messageId(msg) === id) done(msg);
    });
    socket.send(query, to.port, to.host, (err) => err && done(null));
  });
}

function tcpExchange(to: ResolverAddress, query: Buffer, timeoutMs: number) {
  return new Promise<Buffer | null>((resolve) => {
    const socket = createConnection({ host: to.host, port: to.port });
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => done(null), timeoutMs);
    function done(value: Buffer | null) {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    }
    socket.on('error', () => done(null));
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length);
      socket.write(Buffer.concat([length, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > 65537) return done(null);
      if (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0))
        done(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
    });
    socket.on('end', () => done(null));
  });
}

export class DnsClient {
  constructor(
    readonly resolver: ResolverAddress,
    private readonly timeoutMs = 5000,
  ) {}

  async lookup<T extends RecordType>(name: string, type: T): Promise<DnsResult<T>> {
    const id = randomInt(0, 65536);
    const query = buildQuery(id, name, type);
    let answer = await udpExchange(this.resolver, query, id, this.timeoutMs);
    if (answer && isTruncated(answer))
      answer = await tcpExchange(this.resolver, query, this.timeoutMs);
    if (!answer)
      return {
        status: 'timeout',
        secure: false,
        records: [],
        detail: `no answer from ${this.resolver.host}:${this.resolver.port}`,
      };
    return parseAnswer(answer, id, name, type);
  }
}
