/**
 * The relay connection's security: TLS always (implicit or STARTTLS, never plaintext),
 * only the pinned CA trusted, and the legacy mode's password sent only inside TLS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { relayMessage } from '../../native-host/src/smtp/index.js';
import { selfSignedCertificate, startHost, startSinkRelay, submit } from './helpers.js';

const ME = 'alice@example.test';
const envelope = { from: ME, to: ['bob@example.test'] };
const mail = () =>
  Readable.from([
    Buffer.from(`From: ${ME}\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\nhello\r\n`),
  ]);
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'smtp-relay-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('logs in to a legacy provider with the password only after STARTTLS', async () => {
  const sink = await startSinkRelay(mkdtempSync(join(dir, 'a-')), 'starttls');
  try {
    const outcome = await relayMessage(
      { ...sink.endpoint(ME), accessToken: undefined, password: async () => 'hunter2' },
      envelope,
      mail(),
    );
    expect(outcome).toEqual({ ok: true, rejected: [] });
    expect(sink.logins).toEqual([{ user: ME, password: 'hunter2', overTls: true }]);
    expect(sink.received).toHaveLength(1);
  } finally {
    await sink.close();
  }
});

it('sends nothing to a server that offers no TLS', async () => {
  const sink = await startSinkRelay(mkdtempSync(join(dir, 'b-')), 'plaintext');
  try {
    const outcome = await relayMessage(sink.endpoint(ME), envelope, mail());
    expect(outcome.ok).toBe(false);
    expect(outcome.ok || outcome.permanent).toBe(false);
    expect(sink.logins).toEqual([]);
    expect(sink.received).toEqual([]);
  } finally {
    await sink.close();
  }
});

it('sends nothing to a server whose certificate is not from the pinned CA', async () => {
  const sink = await startSinkRelay(mkdtempSync(join(dir, 'c-')));
  const other = selfSignedCertificate(mkdtempSync(join(dir, 'd-')));
  try {
    const outcome = await relayMessage({ ...sink.endpoint(ME), ca: other.cert }, envelope, mail());
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.reason).toMatch(/certificate/i);
    expect(sink.logins).toEqual([]);
    expect(sink.received).toEqual([]);
  } finally {
    await sink.close();
  }
});

it('sends a backlog over one login when the relay is back', async () => {
  const sink = await startSinkRelay(mkdtempSync(join(dir, 'e-')));
  let reachable = false;
  const host = await startHost(ME, {
    relay: async () => {
      if (!reachable) throw new Error('offline');
      return sink.endpoint(ME);
    },
  });
  try {
    for (let i = 0; i < 3; i++) {
      const raw = Buffer.from(`From: ${ME}\r\nTo: bob@example.test\r\nSubject: ${i}\r\n\r\nhi\r\n`);
      await submit(host, envelope, raw);
    }
    await host.outbox.flush();
    expect(host.outbox.list().map((m) => m.deliveries[0]!.lastError)).toEqual([
      'offline',
      'offline',
      'offline',
    ]);
    reachable = true;
    await host.outbox.retryNow();
    expect(host.outbox.list()).toEqual([]);
    expect(sink.received).toHaveLength(3);
    expect(sink.logins).toHaveLength(1);
  } finally {
    await host.cleanup();
    await sink.close();
  }
});
