/** Security properties of the server: loopback only, credentials required, slowed guessing, limits, no secrets in logs. */
import { networkInterfaces } from 'node:os';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../native-host/src/log/index.js';
import {
  ImapServerError,
  MemoryBackend,
  startImapServer,
} from '../../native-host/src/imap/index.js';
import { PASSWORD, RawClient, USER, startFixture, type Fixture } from './helpers.js';

let fx: Fixture | null = null;
afterEach(async () => {
  await fx?.close();
  fx = null;
});

const plain = (authz: string, user: string, pass: string) =>
  Buffer.from(`${authz}\0${user}\0${pass}`).toString('base64');

describe('listening', () => {
  it('refuses any address but 127.0.0.1', async () => {
    for (const host of ['0.0.0.0', '::', '::1', 'localhost', '192.168.1.1']) {
      await expect(
        startImapServer({ backend: new MemoryBackend(), authenticate: async () => null, host }),
      ).rejects.toMatchObject({
        code: 'not_loopback',
      });
    }
    await expect(
      startImapServer({
        backend: new MemoryBackend(),
        authenticate: async () => null,
        host: '0.0.0.0',
      }),
    ).rejects.toBeInstanceOf(ImapServerError);
  });

  it('cannot be reached on the machine’s other addresses', async () => {
    fx = await startFixture();
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!external) return; // a machine with only loopback has nothing to test here
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      const socket = connect(fx!.server.port, external.address);
      socket.once('connect', () => {
        socket.destroy();
        resolve(null);
      });
      socket.once('error', resolve);
    });
    expect(error?.code).toBe('ECONNREFUSED');
  });

  it('limits the number of connections', async () => {
    fx = await startFixture({ maxConnections: 2 });
    const a = await RawClient.open(fx.server.port);
    const b = await RawClient.open(fx.server.port);
    const socket = connect(fx.server.port, '127.0.0.1');
    const greeting = await new Promise<string>((resolve) =>
      socket.once('data', (d) => resolve(d.toString())),
    );
    expect(greeting).toBe('* BYE Too many connections\r\n');
    socket.destroy();
    a.close();
    b.close();
  });
});

describe('authentication', () => {
  it('requires credentials before any mailbox access', async () => {
    fx = await startFixture();
    const c = await RawClient.open(fx.server.port);
    for (const cmd of [
      'SELECT INBOX',
      'LIST "" *',
      'STATUS INBOX (MESSAGES)',
      'APPEND INBOX {1+}\r\nx',
      'FETCH 1 FLAGS',
    ]) {
      expect(await c.command('t', cmd)).toMatch(/t BAD .* not allowed before login/);
    }
    expect(await c.command('w', `LOGIN ${USER} wrong`)).toContain('w NO [AUTHENTICATIONFAILED]');
    expect(await c.command('x', `LOGIN nobody "${PASSWORD}"`)).toContain(
      'x NO [AUTHENTICATIONFAILED]',
    );
    expect(await c.command('y', 'LIST "" *')).toContain('y BAD');
    expect(await c.command('z', `LOGIN ${USER} "${PASSWORD}"`)).toMatch(
      /z OK \[CAPABILITY IMAP4rev1 .*\]/,
    );
    expect(await c.command('l', 'LIST "" INBOX')).toContain('* LIST');
    c.close();
  });

  it('supports AUTHENTICATE PLAIN with an initial response, a continuation, and cancellation', async () => {
    fx = await startFixture();
    const a = await RawClient.open(fx.server.port);
    expect(await a.command('a', `AUTHENTICATE PLAIN ${plain('', USER, PASSWORD)}`)).toContain(
      'a OK',
    );
    a.close();
    const b = await RawClient.open(fx.server.port);
    b.write('b AUTHENTICATE PLAIN\r\n');
    expect(await b.readLine()).toBe('+ ');
    b.write(`${plain(USER, USER, PASSWORD)}\r\n`);
    expect(await b.response('b')).toContain('b OK');
    b.close();
    const c = await RawClient.open(fx.server.port);
    c.write('c AUTHENTICATE PLAIN\r\n');
    await c.readLine();
    c.write('*\r\n');
    expect(await c.response('c')).toContain('c BAD Authentication cancelled');
    expect(
      await c.command('d', `AUTHENTICATE PLAIN ${plain('someone-else', USER, PASSWORD)}`),
    ).toContain('d NO');
    expect(await c.command('e', `AUTHENTICATE PLAIN ${plain('', USER, 'nope')}`)).toContain(
      'e NO [AUTHENTICATIONFAILED]',
    );
    expect(await c.command('f', 'AUTHENTICATE CRAM-MD5')).toContain('f NO');
    expect(await c.command('g', 'SELECT INBOX')).toContain('g BAD');
    c.close();
  });

  it('slows down failed logins, more with each failure, and closes after too many', async () => {
    fx = await startFixture({
      authFailureDelayMs: 100,
      maxAuthFailures: 3,
      globalAuthFailuresPerMinute: 1000,
    });
    const c = await RawClient.open(fx.server.port);
    const timed = async (tag: string) => {
      const start = performance.now();
      const res = await c.command(tag, `LOGIN ${USER} wrong`);
      return { res, ms: performance.now() - start };
    };
    const first = await timed('a');
    const second = await timed('b');
    expect(first.res).toContain('a NO');
    expect(first.ms).toBeGreaterThanOrEqual(95);
    expect(second.ms).toBeGreaterThanOrEqual(195);
    c.write(`c LOGIN ${USER} wrong\r\n`);
    expect(await c.response('c')).toContain('* BYE Too many failed logins');
    await c.waitClosed();
    expect(c.closed).toBe(true);
  });

  it('slows every login once many fail across connections', async () => {
    fx = await startFixture({ authFailureDelayMs: 50, globalAuthFailuresPerMinute: 3 });
    for (let i = 0; i < 3; i++) {
      const c = await RawClient.open(fx.server.port);
      await c.command('a', `LOGIN ${USER} wrong${i}`);
      c.close();
    }
    const c = await RawClient.open(fx.server.port);
    const start = performance.now();
    expect(await c.command('b', `LOGIN ${USER} "${PASSWORD}"`)).toContain('b OK');
    expect(performance.now() - start).toBeGreaterThanOrEqual(195);
    c.close();
  });

  it('before login reads only small commands: too much input gets BAD and BYE in words and the connection closed', async () => {
    fx = await startFixture();
    const long = await RawClient.open(fx.server.port);
    long.write(`a LOGIN ${USER} ${'x'.repeat(9000)}`); // and no line end
    expect(await long.readLine()).toBe(
      'a BAD Command line too long: before login at most 8192 bytes',
    );
    expect(await long.readLine()).toBe('* BYE Too much input before login; closing the connection');
    await long.waitClosed();

    // The APPEND limit (64 MiB) is for logged-in users: before login no continuation is sent.
    const append = await RawClient.open(fx.server.port);
    append.write('b APPEND INBOX {100000}\r\n');
    expect(await append.readLine()).toBe(
      'b BAD [TOOBIG] Literal too big: before login at most 8192 bytes',
    );
    expect(await append.readLine()).toMatch(/^\* BYE Too much input before login/);
    await append.waitClosed();

    const many = await RawClient.open(fx.server.port);
    many.write(`c LOGIN {8192+}\r\n${'u'.repeat(8192)} {8192+}\r\n${'p'.repeat(8192)}\r\n`);
    expect(await many.readLine()).toBe(
      'c BAD [TOOBIG] Command too big: before login at most 16384 bytes',
    );
    await many.waitClosed();

    // What LOGIN needs still fits, and once logged in the larger limits apply, pipelined too.
    const user = await RawClient.open(fx.server.port);
    const message = `Subject: big\r\n\r\n${'y'.repeat(20_000)}\r\n`;
    user.write(
      `d LOGIN {${USER.length}+}\r\n${USER} {${PASSWORD.length}+}\r\n${PASSWORD}\r\n` +
        `e APPEND INBOX {${message.length}+}\r\n${message}\r\n`,
    );
    expect(await user.response('d')).toContain('d OK');
    expect(await user.response('e')).toMatch(/e OK \[APPENDUID/);
    user.close();
  });

  it('keeps a bounded number of connections waiting to log in: the one that waited longest gets BYE', async () => {
    fx = await startFixture({ maxUnauthenticated: 2 });
    const first = await RawClient.open(fx.server.port);
    const second = await RawClient.open(fx.server.port);
    const third = await RawClient.open(fx.server.port);
    expect(await first.readLine()).toBe(
      '* BYE Too many connections waiting to log in; this one waited longest',
    );
    await first.waitClosed();
    // Logged-in connections do not count: after one logs in, a new one pushes nobody out.
    expect(await second.command('l', `LOGIN ${USER} "${PASSWORD}"`)).toContain('l OK');
    const fourth = await RawClient.open(fx.server.port);
    expect(await second.command('n', 'NOOP')).toContain('n OK');
    expect(await third.command('n', 'NOOP')).toContain('n OK');
    expect(await fourth.command('n', 'NOOP')).toContain('n OK');
    for (const c of [second, third, fourth]) c.close();
  });

  it('never writes passwords to the log', async () => {
    const entries: string[] = [];
    const capture = (base: Record<string, unknown>): Logger => {
      const log = (level: string) => (event: string, fields?: Record<string, unknown>) =>
        entries.push(JSON.stringify({ level, event, ...base, ...fields }));
      return {
        debug: log('debug'),
        info: log('info'),
        warn: log('warn'),
        error: log('error'),
        child: (f) => capture({ ...base, ...f }),
      };
    };
    const server = await startImapServer({
      backend: new MemoryBackend(),
      authenticate: async (u, p) => (u === USER && p === PASSWORD ? 'acct' : null),
      logger: capture({}),
      limits: { authFailureDelayMs: 1 },
    });
    const c = await RawClient.open(server.port);
    await c.command('a', `LOGIN ${USER} "guess-one"`);
    await c.command('b', `AUTHENTICATE PLAIN ${plain('', USER, 'guess-two')}`);
    await c.command('c', `LOGIN ${USER} "${PASSWORD}"`);
    c.close();
    await server.close();
    expect(entries.some((e) => e.includes('imap.login_failed'))).toBe(true);
    expect(entries.some((e) => e.includes('imap.login'))).toBe(true);
    for (const secret of ['guess-one', 'guess-two', PASSWORD])
      expect(entries.join('\n')).not.toContain(secret);
  });
});
