/**
 * The relay's SMTP client against a scripted server: replies injected in plaintext right
 * after the STARTTLS reply are not taken as answers over TLS (the CVE-2011-0411 pattern),
 * and nothing of the transaction is sent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deliverSmtp } from '../../provider/src/relay/smtp-client.js';
import { selfSignedCertificate } from '../smtp/helpers.js';

let dir: string;
let server: Server;
let port: number;
let received = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'smtp-client-'));
  const tls = selfSignedCertificate(dir);
  server = createServer((socket) => {
    socket.write('220 scripted\r\n');
    socket.on('data', (chunk: Buffer) => {
      const line = chunk.toString();
      received += line;
      if (line.startsWith('EHLO')) socket.write('250-scripted\r\n250 STARTTLS\r\n');
      if (line.startsWith('STARTTLS')) {
        // The attacker's extra replies ride in the same plaintext packet as the 220.
        socket.write('220 go ahead\r\n250 injected EHLO\r\n250 injected MAIL\r\n');
        socket.removeAllListeners('data');
        const secure = new TLSSocket(socket, { isServer: true, key: tls.key, cert: tls.cert });
        secure.on('data', (c: Buffer) => (received += c.toString()));
        secure.on('error', () => {});
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : 0;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

it('refuses replies sent in plaintext after the STARTTLS reply', async () => {
  await expect(
    deliverSmtp({
      host: '127.0.0.1',
      port,
      helo: 'mx.alpha.test',
      from: 'alice@alpha.test',
      to: ['bob@beta.test'],
      raw: Buffer.from('Subject: secret-6612\r\n\r\nhello\r\n'),
      tls: { required: true, servername: 'mx.beta.test', verify: () => null },
      timeoutMs: 5000,
    }),
  ).rejects.toThrow(/data after its STARTTLS reply/);
  expect(received).not.toMatch(/MAIL FROM|secret-6612/);
});
