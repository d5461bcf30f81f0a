/**
 * The full-text index must answer exactly as RFC 3501's substring rules do. The same
 * varied mailbox goes into two servers: one over the real encrypted store, whose SEARCH
 * text keys are answered from the FTS5 index, and one over the in-memory reference
 * backend, which evaluates every message. Random searches (substrings of the messages in
 * mixed case, non-ASCII, short and absent strings, under NOT and OR) must get the same
 * answer from both, before and after messages are expunged and moved.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loggedIn, startFixture, type Fixture, type RawClient } from './helpers.js';

const RUNS = Math.max(30, Math.round(Number(process.env.LEAPBIRD_FUZZ_RUNS ?? 400) / 8));

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const CORPUS: string[] = [
  'From: Alice Example <alice@example.org>\r\nTo: bob@example.net\r\nSubject: Quarterly report\r\n\r\nThe numbers for Q3 are attached. Revenue grew 12%.\r\n',
  'From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@beispiel.de>\r\nTo: Alice <alice@example.org>\r\nCc: carol@example.com\r\nSubject: =?UTF-8?B?' +
    b64('Grüße aus München') +
    '?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nStra=C3=9Fe und Fu=C3=9Fball, sch=C3=B6n.\r\n',
  'From: news@shop.test\r\nTo: alice@example.org\r\nSubject: Sale\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Big&nbsp;<b>sale</b> on caf&eacute; mugs &amp; cups</p><script>var hidden="scripttext";</script></body></html>\r\n',
  'From: dimitris@example.gr\r\nTo: alice@example.org\r\nBcc: secret@example.org\r\nSubject: Καλημέρα\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
    b64('Γειά σου κόσμε! Emoji 🎉 and ΣΊΣΥΦΟΣ.') +
    '\r\n',
  'From: bob@example.net\r\nTo: alice@example.org\r\nSubject: Photos\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the holiday pictures.\r\n--b\r\nContent-Type: image/jpeg; name="beach-2024.jpg"\r\nContent-Disposition: attachment; filename="beach-2024.jpg"\r\nContent-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRgABAQ==\r\n--b--\r\n',
  'From: "Team Lead" <lead@corp.test>\r\nTo: a@corp.test, b@corp.test\r\nSubject: Re: Re: plans\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 at ten; na=EFve plan =\r\ncontinued on a soft line break.\r\n',
  'From: x@y.test\r\nSubject: ab\r\n\r\nab ab aB Ab\r\n',
];

/** What a user could type: pieces of the messages, changed in case, or not in them at all. */
const term = fc.oneof(
  fc
    .tuple(fc.nat(CORPUS.length - 1), fc.nat(400), fc.integer({ min: 1, max: 9 }), fc.boolean())
    .map(([i, start, length, upper]) => {
      const words = CORPUS[i]!.replace(/\r\n/g, ' ');
      const from = start % Math.max(1, words.length - length);
      const piece = words.slice(from, from + length);
      return upper ? piece.toUpperCase() : piece.toLowerCase();
    }),
  fc.constantFrom(
    'müller',
    'MÜNCHEN',
    'straße',
    'café',
    'καλημέρα',
    'σίσυφος',
    '🎉',
    'beach-2024',
    'scripttext',
    'nbsp',
    '<b>',
    'ab',
    'a',
    'naïve plan continued',
    'revenue grew',
    'absent-word',
  ),
  fc.string({ minLength: 1, maxLength: 5 }),
);
const textKey = fc
  .tuple(fc.constantFrom('BODY', 'TEXT', 'SUBJECT', 'FROM', 'TO', 'CC', 'BCC'), term)
  .filter(([, t]) => !/[\r\n"\\]/.test(t) && t.trim() === t && t.length > 0);
type Query = { parts: (string | Buffer)[] };
const literal = (t: string) => Buffer.from(t, 'utf8');
const query: fc.Arbitrary<Query> = fc.oneof(
  textKey.map(([k, t]) => ({ parts: [`${k} `, literal(t)] })),
  textKey.map(([k, t]) => ({ parts: [`NOT ${k} `, literal(t)] })),
  fc.tuple(textKey, textKey).map(([[k1, t1], [k2, t2]]) => ({
    parts: [`OR ${k1} `, literal(t1), ` ${k2} `, literal(t2)],
  })),
);

/** `UID SEARCH CHARSET UTF-8 …` with every search string sent as a literal. */
async function search(client: RawClient, q: Query): Promise<string> {
  client.write('S UID SEARCH CHARSET UTF-8 ');
  for (const part of q.parts) {
    if (typeof part === 'string') {
      client.write(part);
      continue;
    }
    client.write(`{${part.length}}\r\n`);
    const go = await client.readLine();
    if (!go.startsWith('+')) throw new Error(go);
    client.write(part);
  }
  client.write('\r\n');
  const answer = await client.response('S');
  const line = /^\* SEARCH(.*)$/m.exec(answer);
  if (!/S OK/.test(answer)) return answer.trim().split('\r\n').at(-1)!;
  return (line?.[1] ?? '').trim();
}

async function appendAll(client: RawClient, messages: string[]): Promise<void> {
  for (const raw of messages) {
    const bytes = Buffer.from(raw, 'utf8');
    client.write(`A APPEND INBOX {${bytes.length}}\r\n`);
    const go = await client.readLine();
    if (!go.startsWith('+')) throw new Error(go);
    client.write(Buffer.concat([bytes, Buffer.from('\r\n')]));
    expect(await client.response('A')).toMatch(/A OK/);
  }
}

let indexed: Fixture;
let reference: Fixture;
let a: RawClient;
let b: RawClient;

beforeAll(async () => {
  indexed = await startFixture({}, 'store');
  reference = await startFixture({}, 'memory');
  a = await loggedIn(indexed.server.port);
  b = await loggedIn(reference.server.port);
  for (const client of [a, b]) {
    await appendAll(client, [...CORPUS, ...CORPUS]);
    expect(await client.command('X', 'SELECT INBOX')).toMatch(/X OK/);
  }
}, 60_000);

afterAll(async () => {
  a?.close();
  b?.close();
  await indexed?.close();
  await reference?.close();
});

async function sameAnswers(): Promise<void> {
  await fc.assert(
    fc.asyncProperty(query, async (q) => {
      expect(await search(a, q)).toBe(await search(b, q));
    }),
    { numRuns: RUNS },
  );
}

it('answers random text searches exactly as the evaluator does', async () => {
  await sameAnswers();
}, 120_000);

it('still does after messages are expunged and moved away', async () => {
  for (const client of [a, b]) {
    expect(await client.command('D', 'UID STORE 2,4,9 +FLAGS.SILENT (\\Deleted)')).toMatch(/D OK/);
    expect(await client.command('E', 'EXPUNGE')).toMatch(/E OK/);
    expect(await client.command('M', 'UID MOVE 3,11 Trash')).toMatch(/M OK/);
  }
  await sameAnswers();
  // And in the mailbox they were moved to.
  for (const client of [a, b]) expect(await client.command('T', 'SELECT Trash')).toMatch(/T OK/);
  await sameAnswers();
}, 120_000);
