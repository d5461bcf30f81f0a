/**
 * Whole sessions under hostile input: whatever a client sends, the server answers (BAD/NO/OK)
 * or closes the connection, and keeps serving others. Runs are bounded to stay fast.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleMessage } from './backend-contract.js';
import { PASSWORD, RawClient, USER, startFixture, type Fixture } from './helpers.js';

const LITERAL_LIMIT = 1000;
let fx: Fixture;

beforeAll(async () => {
  fx = await startFixture({
    maxLineLength: 4000,
    maxLiteralSize: LITERAL_LIMIT,
    maxAppendSize: 2 * LITERAL_LIMIT,
    maxAuthFailures: 1000,
  });
  const account = await fx.backend.account('alice-account');
  const inbox = (await account.getMailbox('INBOX'))!;
  for (let i = 0; i < 5; i++)
    await account.append(inbox.id, { content: sampleMessage(i), flags: i % 2 ? ['\\Seen'] : [] });
});
afterAll(() => fx.close());

/**
 * Sends `input`, then enough line ends to complete any literal the input may have announced,
 * then a probe. The session must answer the probe or have closed.
 */
async function survives(input: Buffer): Promise<void> {
  const client = await RawClient.open(fx.server.port);
  try {
    client.write(input);
    client.write('\r\n'.repeat(LITERAL_LIMIT + 10));
    client.write('ZZZ NOOP\r\n');
    const answered = await client.response('ZZZ', 10_000).then(
      (text) => text,
      (error: Error) => {
        if (client.closed) return null;
        throw error;
      },
    );
    if (answered !== null) expect(answered).toMatch(/\r\nZZZ OK|^ZZZ OK/);
  } finally {
    client.close();
  }
}

const atom = fc.stringMatching(/^[A-Za-z0-9.\\$]{1,8}$/);
const argument = fc.oneof(
  atom,
  fc.constantFrom(
    '*',
    '1:*',
    '1,3:4',
    '2:1',
    '0',
    '4294967296',
    'NIL',
    '()',
    '(\\Seen)',
    '"INBOX"',
    '""',
    '(',
    ')',
    '[',
    ']',
    '<0.5>',
  ),
  fc.constantFrom(
    'BODY[]',
    'BODY.PEEK[1.MIME]',
    'BODY[HEADER.FIELDS (FROM)]',
    '(FLAGS UID)',
    'RETURN',
    '(CONDSTORE)',
    '(UNCHANGEDSINCE 1)',
    '$',
    'RETURN (SAVE MIN)',
    '(REVERSE DATE)',
    'UTF-8',
    'REFERENCES',
    'BINARY[1]<0.3>',
    'BINARY.SIZE[]',
    '(USE (\\Sent))',
    '~{3}\r\nabc',
  ),
  fc.string({ maxLength: 12 }).map((s) => `"${s}"`),
  fc.string({ maxLength: 20 }).map((s) => `{${Buffer.byteLength(s)}}\r\n${s}`),
  fc.string({ maxLength: 20 }).map((s) => `{${Buffer.byteLength(s)}+}\r\n${s}`),
);
const commandName = fc.constantFrom(
  'CAPABILITY',
  'NOOP',
  'LOGIN',
  'AUTHENTICATE',
  'SELECT',
  'EXAMINE',
  'CREATE',
  'DELETE',
  'RENAME',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'LIST',
  'LSUB',
  'STATUS',
  'APPEND',
  'CHECK',
  'CLOSE',
  'EXPUNGE',
  'SEARCH',
  'FETCH',
  'STORE',
  'COPY',
  'MOVE',
  'UID FETCH',
  'UID STORE',
  'UID SEARCH',
  'UID COPY',
  'UID MOVE',
  'UID EXPUNGE',
  'SORT',
  'UID SORT',
  'THREAD',
  'UID THREAD',
  'IDLE',
  'UNSELECT',
  'ID',
  'NAMESPACE',
  'ENABLE',
  'LOGOUT',
  'BOGUS',
);
const command = fc
  .tuple(atom, commandName, fc.array(argument, { maxLength: 6 }))
  .map(([tag, name, args]) => `${tag} ${name}${args.map((a) => ' ' + a).join('')}\r\n`);
const preamble = fc.constantFrom(
  '',
  `p1 LOGIN ${USER} "${PASSWORD}"\r\n`,
  `p1 LOGIN ${USER} "${PASSWORD}"\r\np2 SELECT INBOX\r\n`,
);

describe('session fuzzing', () => {
  it('survives random bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) =>
        survives(Buffer.from(bytes)),
      ),
      { numRuns: 40 },
    );
  });

  it('survives random command sequences with literals, in every state', async () => {
    await fc.assert(
      fc.asyncProperty(
        preamble,
        fc.array(command, { minLength: 1, maxLength: 8 }),
        async (pre, commands) => survives(Buffer.from(pre + commands.join(''))),
      ),
      { numRuns: 60 },
    );
  });

  it('still serves a well-behaved client afterwards', async () => {
    const client = await RawClient.open(fx.server.port);
    await client.command('a', `LOGIN ${USER} "${PASSWORD}"`);
    const status = await client.command('b', 'STATUS INBOX (MESSAGES)');
    expect(status).toMatch(/\* STATUS "INBOX" \(MESSAGES \d+\)/);
    client.close();
  });
});
