/**
 * What Thunderbird (or anything else on this machine) may throw at the local submission
 * server: wrong credentials, a foreign sender, SMTP garbage, things that are not mail, and
 * messages over the limit. Each gets a clear reply and leaves nothing in the outbox.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpServer } from '../../native-host/src/smtp/index.js';
import {
  filesUnder,
  LOCAL_PASSWORD,
  LOCAL_USER,
  startHost,
  submit,
  type TestHost,
} from './helpers.js';

const ME = 'alice@alpha.test';
let host: TestHost;

beforeAll(async () => {
  // No relay is reachable: nothing here should ever get that far.
  host = await startHost(ME, {
    relay: async () => ({
      host: '127.0.0.1',
      port: 1,
      secure: true,
      user: ME,
      password: async () => 'x',
    }),
    maxMessageBytes: 256 * 1024,
  });
});
afterAll(async () => host?.cleanup());

function nothingStored() {
  expect(host.outbox.list()).toEqual([]);
  expect(filesUnder(`${host.dir}/account/outbox`)).toEqual([]);
}

/** A raw SMTP conversation: sends each line, collects each reply (bounded wait). */
async function converse(lines: string[]): Promise<string[]> {
  const socket = connect(host.server.port, host.server.host);
  let buffer = '';
  const replies: string[] = [];
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply; got ${buffer}`)), 5000);
      const check = () => {
        // A complete reply ends with a line "ddd text" (no dash after the code).
        const match = /(^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(buffer);
        if (!match) return;
        const end = match.index + match[0].length;
        const reply = buffer.slice(0, end);
        buffer = buffer.slice(end);
        socket.off('data', onData);
        clearTimeout(timer);
        resolve(reply.trim());
      };
      const onData = (d: Buffer) => {
        buffer += d.toString();
        check();
      };
      socket.on('data', onData);
      check();
    });
  try {
    await next(); // greeting
    for (const line of lines) {
      socket.write(`${line}\r\n`);
      replies.push(await next());
    }
    return replies;
  } finally {
    socket.destroy();
  }
}

const authPlain = `AUTH PLAIN ${Buffer.from(`\0${LOCAL_USER}\0${LOCAL_PASSWORD}`).toString('base64')}`;

describe('the SMTP conversation', () => {
  it('listens on loopback only', async () => {
    await expect(
      startSmtpServer({
        host: '0.0.0.0',
        authenticate: () => true,
        addresses: () => [ME],
        keys: host.keys,
        outbox: host.outbox,
      }),
    ).rejects.toThrow(/loopback only/);
    expect(host.server.host).toBe('127.0.0.1');
  });

  it('answers garbage and commands out of order with errors, and requires AUTH', async () => {
    const replies = await converse([
      'HELLO THERE',
      '\x00\x01\x02binary',
      'EHLO localhost',
      `MAIL FROM:<${ME}>`,
      'DATA',
    ]);
    expect(replies[0]).toMatch(/^500/);
    expect(replies[1]).toMatch(/^5\d\d/);
    expect(replies[2]).toMatch(/^250/);
    expect(replies[3]).toMatch(/^530/);
    expect(replies[4]).toMatch(/^530/);
  });

  it('refuses wrong credentials and a sender that is not the account', async () => {
    const wrong = await converse([
      'EHLO localhost',
      `AUTH PLAIN ${Buffer.from(`\0${LOCAL_USER}\0guess`).toString('base64')}`,
    ]);
    expect(wrong[1]).toMatch(/^535 .*Wrong user name or password/);
    const foreign = await converse(['EHLO localhost', authPlain, 'MAIL FROM:<mallory@evil.test>']);
    expect(foreign[1]).toMatch(/^235/);
    expect(foreign[2]).toBe(`553 5.7.1 You can send only as ${ME} through this account.`);
    const badRcpt = await converse([
      'EHLO localhost',
      authPlain,
      `MAIL FROM:<${ME}>`,
      'RCPT TO:<not an address>',
    ]);
    expect(badRcpt[3]).toMatch(/^5\d\d/);
    nothingStored();
  });
});

describe('what is submitted', () => {
  const envelope = { from: ME, to: ['bob@beta.test'] };

  it('refuses a message without a header section', async () => {
    const sent = submit(host, envelope, Buffer.from('just some words\r\nand more words\r\n'));
    await expect(sent).rejects.toMatchObject({ responseCode: 554 });
    await expect(sent).rejects.toThrow(/not a mail message: it has no header section/);
    nothingStored();
  });

  it('refuses a header section that never ends', async () => {
    const endless = Buffer.from(`From: ${ME}\r\nX-Filler: ${'a'.repeat(200 * 1024)}`);
    const huge = await startHostWithLargerLimit();
    try {
      const sent = submit(
        huge,
        envelope,
        Buffer.concat([endless, Buffer.from('b'.repeat(1100 * 1024))]),
      );
      await expect(sent).rejects.toMatchObject({ responseCode: 554 });
      expect(huge.outbox.list()).toEqual([]);
      expect(filesUnder(`${huge.dir}/account/outbox`)).toEqual([]);
    } finally {
      await huge.cleanup();
    }
  });

  it('refuses a message over the size limit and keeps no part of it', async () => {
    const big = Buffer.concat([
      Buffer.from(`From: ${ME}\r\nTo: bob@beta.test\r\nSubject: big\r\n\r\n`),
      Buffer.from(`${'x'.repeat(76)}\r\n`.repeat(5000)),
    ]);
    const sent = submit(host, envelope, big);
    await expect(sent).rejects.toMatchObject({ responseCode: 552 });
    await expect(sent).rejects.toThrow(/5\.3\.4 The message is larger than/);
    nothingStored();
    // The server is still fine afterwards.
    const replies = await converse(['EHLO localhost', authPlain, 'NOOP']);
    expect(replies[2]).toMatch(/^250/);
  });
});

async function startHostWithLargerLimit(): Promise<TestHost> {
  return startHost(ME, {
    relay: async () => ({
      host: '127.0.0.1',
      port: 1,
      secure: true,
      user: ME,
      password: async () => 'x',
    }),
    maxMessageBytes: 4 * 1024 * 1024,
  });
}

describe('leftovers', () => {
  it('removes blobs of a submission that was never recorded, and keeps queued mail', async () => {
    const orphan = await host.outbox.put([Buffer.from(`From: ${ME}\r\n\r\nkilled before 250\r\n`)]);
    host.outbox.release([orphan.id]);
    // A fresh submission's blobs are protected while young.
    expect(await host.outbox.collectGarbage()).toBe(0);
    expect(filesUnder(`${host.dir}/account/outbox`)).toHaveLength(1);
    expect(await host.outbox.collectGarbage({ minAgeMs: 0 })).toBe(1);
    nothingStored();

    // Mail waiting for the relay (unreachable here) is referenced and stays.
    const raw = Buffer.from(`From: ${ME}\r\nTo: bob@beta.test\r\nSubject: wait\r\n\r\nfor me\r\n`);
    await submit(host, { from: ME, to: ['bob@beta.test'] }, raw);
    const stored = filesUnder(`${host.dir}/account/outbox`);
    expect(stored.length).toBeGreaterThan(0);
    expect(await host.outbox.collectGarbage({ minAgeMs: 0 })).toBe(0);
    expect(filesUnder(`${host.dir}/account/outbox`)).toEqual(stored);
    expect(host.outbox.list()).toHaveLength(1);
  });
});
