/**
 * The local user: another account on the same machine. It cannot read the user's files, but
 * it can bind any free loopback port, so while the host is not serving (not started yet,
 * restarting, crashed) it can sit on the ports Thunderbird's account points at and pose as
 * the host. Played with a real Thunderbird and the real host: the account is set up, then
 * Thunderbird and the host stop, the squatter binds both ports, and Thunderbird starts again
 * on the same profile, checks mail and sends a message. What must hold: the squatter gets no
 * password and no message, whether it speaks plain IMAP/SMTP or TLS with a certificate of
 * its own.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureLocalTls } from '../../native-host/src/tls/index.js';
import { hostConfigFor, startTestProvider, type TestProvider } from '../provider/helpers.js';
import { ThunderbirdRun } from '../helpers/thunderbird.js';
import { waitFor } from '../helpers/wait.js';

type Protocol = 'imap' | 'smtp';

/**
 * A fake server on a port the host owns. It answers a client that opens with a TLS
 * ClientHello with TLS under its own certificate, and any other client in plain text, then
 * plays just enough IMAP or SMTP to be handed a login and a message. It keeps every byte it
 * can read, which is what the local user gets.
 */
async function squat(port: number, protocol: Protocol, tls: { key: string; cert: string }) {
  const read: string[] = [];
  let connections = 0;
  let handshakes = 0;
  const sockets = new Set<Socket | TLSSocket>();

  const speak = (socket: Duplex) => {
    let buffered = '';
    let inData = false;
    const say = (line: string) => socket.write(`${line}\r\n`);
    socket.on('data', (chunk: Buffer) => {
      read.push(chunk.toString('latin1'));
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (protocol === 'imap') {
          const [tag, command = ''] = line.split(' ');
          const verb = command.toUpperCase();
          if (verb === 'CAPABILITY') {
            say('* CAPABILITY IMAP4rev1 AUTH=PLAIN');
            say(`${tag} OK done`);
          } else if (verb === 'AUTHENTICATE') say('+ ');
          else if (verb === 'LOGIN' || verb === 'LOGOUT' || verb === 'NOOP' || verb === 'ID')
            say(`${tag} OK done`);
          else if (tag && !/^[A-Za-z0-9+/=]*$/.test(line)) say(`${tag} OK done`);
          else say(`${tag ?? '*'} OK done`);
        } else if (inData) {
          if (line === '.') {
            inData = false;
            say('250 queued');
          }
        } else {
          const verb = line.split(' ')[0]!.toUpperCase();
          if (verb === 'EHLO') {
            say('250-squatter');
            say('250 AUTH PLAIN LOGIN');
          } else if (verb === 'AUTH') say(line.split(' ').length > 2 ? '235 ok' : '334 ');
          else if (verb === 'DATA') {
            inData = true;
            say('354 go ahead');
          } else if (verb === 'QUIT') say('221 bye');
          else say(/^[A-Za-z0-9+/=]+$/.test(line) ? '235 ok' : '250 ok');
        }
      }
    });
    socket.on('error', () => undefined);
    say(
      protocol === 'imap' ? '* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready' : '220 squatter ESMTP',
    );
  };

  const server: Server = createServer((raw) => {
    connections++;
    sockets.add(raw);
    raw.on('error', () => undefined);
    raw.on('close', () => sockets.delete(raw));
    // A plain client waits for the greeting; a TLS client speaks first.
    const plain = setTimeout(() => speak(raw), 500);
    raw.once('data', (first: Buffer) => {
      if (first[0] !== 0x16) return; // plain: speak() reads it
      clearTimeout(plain);
      raw.pause();
      // TLS over the bytes already read and those to come.
      const stream = new Duplex({
        read: () => raw.resume(),
        write: (chunk: Buffer, _encoding, done) => raw.write(chunk, done),
        final: (done) => raw.end(done),
      });
      stream.push(first);
      raw.on('data', (chunk: Buffer) => stream.push(chunk));
      raw.on('end', () => stream.push(null));
      const secure = new TLSSocket(stream as unknown as Socket, { isServer: true, ...tls });
      sockets.add(secure);
      secure.on('secure', () => {
        handshakes++;
        speak(secure);
      });
      secure.on('error', () => raw.destroy());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    /** Connections Thunderbird opened, so the test knows it tried. */
    connections: () => connections,
    /** TLS handshakes that completed: Thunderbird accepted the squatter's certificate. */
    handshakes: () => handshakes,
    read: () => read.join(''),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a local user', () => {
  let provider: TestProvider | undefined;
  const runs: ThunderbirdRun[] = [];
  const squatters: Awaited<ReturnType<typeof squat>>[] = [];
  let home: string | undefined;
  let hostConfig: ReturnType<typeof hostConfigFor>;
  let imapPort = 0;
  let smtpPort = 0;

  afterAll(async () => {
    for (const s of squatters) await s.close();
    for (const run of runs) await run.stop();
    await provider?.cleanup();
    if (home && !process.env.LEAPBIRD_KEEP_E2E) rmSync(home, { recursive: true, force: true });
  });

  it(
    "squats the host's ports while it is down: Thunderbird sends it no password and no message",
    { timeout: 420_000 },
    async () => {
      provider = await startTestProvider('alpha.test');
      hostConfig = hostConfigFor(provider);
      const first = await ThunderbirdRun.start({
        name: 'local-user-setup',
        hardTimeoutMs: 240_000,
        hostConfig,
      });
      runs.push(first);
      home = first.home;
      const control = await first.control();
      await control.call(
        'setup.run',
        {
          mode: 'signUp',
          domain: 'alpha.test',
          username: 'alice',
          password: `pw-${randomBytes(6).toString('hex')}`,
        },
        180_000,
      );
      // Thunderbird logs in to the real host, over TLS it trusts.
      await first.waitForHostEvent('imap.login', 90_000);
      await first.stop({ keepHome: true });

      // The local user binds both ports before the host is back, with a certificate of its
      // own for 127.0.0.1 (all it can make: the host's key is readable by the user alone).
      const { accounts } = JSON.parse(
        readFileSync(join(home, 'data', 'accounts.json'), 'utf8'),
      ) as {
        accounts: { imapPort: number; smtpPort: number }[];
      };
      ({ imapPort, smtpPort } = accounts[0]!);
      const own = await ensureLocalTls(mkdtempSync(join(tmpdir(), 'lb-squatter-')));
      const tls = { key: own.keyPem, cert: own.certPem };
      const imap = await squat(imapPort, 'imap', tls);
      const smtp = await squat(smtpPort, 'smtp', tls);
      squatters.push(imap, smtp);

      // Thunderbird starts again on the same profile; its host cannot serve (the ports are
      // taken), and the user checks mail and sends a message as on any morning.
      const again = await ThunderbirdRun.start({
        name: 'local-user-squatted',
        hardTimeoutMs: 240_000,
        hostConfig,
        reuseHome: home,
        prefs: { 'mail.server.default.login_at_startup': true },
      });
      runs.push(again);
      const control2 = await again.control();
      await waitFor('Thunderbird to try the IMAP port', () => imap.connections() > 0, 60_000, 200);
      const subject = `Plans ${randomBytes(4).toString('hex')}`;
      let outcome = 'was not tried';
      const send = () =>
        control2
          .call(
            'compose.send',
            {
              from: 'alice@alpha.test',
              to: ['bob@alpha.test'],
              subject,
              body: 'The secret plans.',
            },
            90_000,
          )
          .then(
            () => void (outcome = 'was reported sent'),
            (error: Error) => void (outcome = `failed: ${error.message}`),
          );
      await send();
      // Under load Thunderbird can give up on the first attempt before it dials (a busy
      // compose window); a user presses Send again, and so does the test.
      if (smtp.connections() === 0) await send();
      await waitFor(
        `Thunderbird to try the SMTP port (the last send ${outcome})`,
        () => smtp.connections() > 0,
        60_000,
        200,
      );

      for (const squatter of [imap, smtp]) {
        expect(squatter.handshakes()).toBe(0);
        expect(squatter.read()).not.toMatch(/LOGIN|AUTHENTICATE|AUTH |MAIL FROM|RCPT TO/i);
      }
      expect(smtp.read()).not.toContain(subject);
      expect(smtp.read()).not.toContain('The secret plans.');
      await again.stop({ keepHome: true });
    },
  );
});
