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
import { selfSignedCertificate, startSinkRelay } from './helpers.js';

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
