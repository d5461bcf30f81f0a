/**
 * The DNS stub client's transport against small fake resolvers on loopback: a truncated UDP
 * answer is asked again over TCP, a resolver that never answers is a timeout (not "no
 * records"), and a UDP answer from another address is not taken.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import dnsPacket from 'dns-packet';
import { afterEach, expect, it } from 'vitest';
import { DnsClient } from '../../provider/src/dns/index.js';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

function reply(query: Buffer, truncated: boolean): Buffer {
  const q = dnsPacket.decode(query);
  return dnsPacket.encode({
    type: 'response',
    id: q.id,
    flags:
      dnsPacket.RECURSION_AVAILABLE |
      dnsPacket.AUTHENTIC_DATA |
      (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0),
    questions: q.questions,
    answers: truncated
      ? []
      : [{ type: 'A', name: 'big.test', ttl: 60, data: '127.0.0.42' } as dnsPacket.Answer],
  });
}

async function udpServer(onQuery: (msg: Buffer, s: UdpSocket, port: number, host: string) => void) {
  const server = createSocket('udp4');
  server.on('message', (msg, rinfo) => onQuery(msg, server, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', () => resolve()));
  closers.push(() => server.close());
  return server.address().port;
}

async function tcpServerOn(port: number): Promise<Server> {
  const server = createServer((socket) => {
    socket.once('data', (chunk: Buffer) => {
      const answer = reply(chunk.subarray(2), false);
      const length = Buffer.alloc(2);
      length.writeUInt16BE(answer.length);
      socket.end(Buffer.concat([length, answer]));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  closers.push(() => server.close());
  return server;
}

it('asks again over TCP when the UDP answer is truncated', async () => {
  const port = await udpServer((msg, s, p, h) => s.send(reply(msg, true), p, h));
  await tcpServerOn(port);
  const result = await new DnsClient({ host: '127.0.0.1', port }, 2000).lookup('big.test', 'A');
  expect(result).toMatchObject({ status: 'ok', secure: true, records: ['127.0.0.42'] });
});

it('reports a silent resolver as a timeout', async () => {
  const port = await udpServer(() => {});
  const result = await new DnsClient({ host: '127.0.0.1', port }, 300).lookup('big.test', 'A');
  expect(result.status).toBe('timeout');
  expect(result.records).toEqual([]);
});

it('does not take an answer sent from another address', async () => {
  const port = await udpServer((msg, s, p) => {
    // A spoofer elsewhere on loopback answers first; the real resolver never does.
    const spoofer = createSocket('udp4');
    spoofer.bind(0, '127.0.0.9', () =>
      spoofer.send(reply(msg, false), p, '127.0.0.1', () => spoofer.close()),
    );
  });
  const result = await new DnsClient({ host: '127.0.0.1', port }, 500).lookup('big.test', 'A');
  expect(result.status).toBe('timeout');
});
