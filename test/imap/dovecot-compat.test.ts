/**
 * The same messages in Dovecot and in this server must be described the same way: ENVELOPE,
 * BODYSTRUCTURE, BODY and body sections, compared response by response (case-insensitively,
 * since Dovecot keeps media types in lower case where this server upper-cases them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotInstance } from '../../provider/src/dovecot/index.js';
import { sampleMessage } from './backend-contract.js';
import { CORPUS } from './corpus.js';
import { PASSWORD, RawClient, USER, startFixture, type Fixture } from './helpers.js';

const MESSAGES = [
  ...Object.values(CORPUS),
  sampleMessage(1),
  // A part without any header, a text part without charset, a digest with a default rfc822 part.
  Buffer.from(
    'Subject: x\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\na\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nb\r\n--q\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: in digest\r\n\r\nhello\r\n--d--\r\n--q--\r\n',
  ),
  // A whole message that is itself message/rfc822 around a multipart.
  Buffer.from(
    'From: a@b.example\r\nContent-Type: message/rfc822\r\n\r\nSubject: wrapped\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n--w\r\n\r\none\r\n--w\r\nContent-Type: text/html\r\n\r\n<b>two</b>\r\n--w--\r\n',
  ),
  // Found by test/fuzz/mime.test.ts: parts whose header's empty line is right before the
  // next boundary (empty bodies), and a part that never ends its header before the close.
  Buffer.from(
    'Subject: e\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\n--b--\r\n',
  ),
  Buffer.from(
    'From: a@b\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\npreamble\r\n--b--\r\nAAAA====\r\n--b--\r\n',
  ),
  Buffer.from(
    'Subject: m\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\n--b--\r\n',
  ),
];
const FETCHES = [
  'FETCH 1:* (ENVELOPE)',
  'FETCH 1:* (BODYSTRUCTURE)',
  'FETCH 1:* (BODY)',
  'FETCH 1:* (RFC822.SIZE BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1.MIME])',
  'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] BODY.PEEK[]<5.12>)',
  'FETCH 3 (BODY.PEEK[3.HEADER] BODY.PEEK[3.TEXT] BODY.PEEK[1.2] BODY.PEEK[3.1])',
  'FETCH 1 (BODY.PEEK[1.1] BODY.PEEK[2])',
  'FETCH 7 (BODY.PEEK[1] BODY.PEEK[1.1] BODY.PEEK[1.2] BODY.PEEK[1.HEADER] BODY.PEEK[1.MIME] BODY.PEEK[2])',
];

let dir: string;
let dovecot: DovecotInstance;
let fx: Fixture;

async function load(port: number): Promise<RawClient> {
  const c = await RawClient.open(port);
  expect(await c.command('l', `LOGIN ${USER} "${PASSWORD}"`)).toMatch(/l OK/);
  for (const m of MESSAGES) {
    c.write(
      Buffer.concat([Buffer.from(`a APPEND INBOX {${m.length}+}\r\n`), m, Buffer.from('\r\n')]),
    );
    expect(await c.response('a')).toMatch(/a OK/);
  }
  await c.command('s', 'EXAMINE INBOX');
  return c;
}

const untagged = (text: string) =>
  text
    .split(/\r\n(?=\* )/)
    .filter((l) => l.startsWith('* '))
    .map((l) => l.replace(/\r\n[^\r\n]*\r\n$/, '').toLowerCase());

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'imap-dovecot-compat-'));
  dovecot = await startDovecot({
    dataDir: dir,
    auth: { kind: 'passwd-file', users: [{ user: USER, password: PASSWORD }] },
  });
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
  await dovecot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('agreement with Dovecot', () => {
  it('describes and cuts every message exactly as Dovecot does', async () => {
    const theirs = await load(dovecot.imapPort);
    const ours = await load(fx.server.port);
    for (const fetch of FETCHES) {
      const expected = untagged(await theirs.command('f', fetch));
      expect(expected.length).toBeGreaterThan(0);
      expect(untagged(await ours.command('f', fetch)), fetch).toEqual(expected);
    }
    theirs.close();
    ours.close();
  });
});
