/**
 * Dovecot as the reference: a differential test runs the same session against a throwaway
 * Dovecot and against this server (in-memory backend and encrypted store), and asserts what
 * a client would act on is the same. Each call of a server's start gives a fresh account
 * (Dovecot: a new user; ours: a new fixture), so scenarios do not see each other's mail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startDovecot, type DovecotInstance } from '../../provider/src/dovecot/index.js';
import { PASSWORD, RawClient, USER, startFixture, type Fixture } from './helpers.js';

/** A server under test: `start` gives a port and a fresh account's login. */
export interface ReferenceServer {
  start(): Promise<{ port: number; user: string }>;
}

/** Dovecot users prepared per file; each start takes the next one. */
const DOVECOT_USERS = 40;

/**
 * Registers a Dovecot (started once per test file) and this server's fixtures (closed after
 * the file) and returns them as `describe.each` rows.
 */
export function referenceServers(): [string, ReferenceServer][] {
  let dir: string;
  let dovecot: DovecotInstance;
  let nextUser = 0;
  const fixtures: Fixture[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imap-reference-'));
    dovecot = await startDovecot({
      dataDir: dir,
      auth: {
        kind: 'passwd-file',
        users: Array.from({ length: DOVECOT_USERS }, (_, i) => ({
          user: i === 0 ? USER : `${USER}${i}`,
          password: PASSWORD,
        })),
      },
    });
  });
  afterAll(async () => {
    for (const f of fixtures) await f.close();
    await dovecot?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const ours = (kind: 'memory' | 'store') => ({
    start: async () => {
      const fixture = await startFixture({}, kind);
      fixtures.push(fixture);
      return { port: fixture.server.port, user: USER };
    },
  });
  return [
    [
      'Dovecot',
      {
        start: async () => {
          const i = nextUser++;
          if (i >= DOVECOT_USERS) throw new Error('More Dovecot accounts needed in reference.ts');
          return { port: dovecot.imapPort, user: i === 0 ? USER : `${USER}${i}` };
        },
      },
    ],
    ['memory backend', ours('memory')],
    ['encrypted store', ours('store')],
  ];
}

/** A logged-in connection for `user`. */
export async function login(port: number, user: string): Promise<RawClient> {
  const client = await RawClient.open(port);
  const res = await client.command('L', `LOGIN ${user} "${PASSWORD}"`);
  if (!res.includes('L OK')) throw new Error(res);
  return client;
}

/** Appends `message` (CRLF line ends expected) to `mailbox` with LITERAL+. */
export async function append(
  client: RawClient,
  mailbox: string,
  message: string | Buffer,
  flags = '',
): Promise<string> {
  const bytes = typeof message === 'string' ? Buffer.from(message) : message;
  client.write(
    Buffer.concat([
      Buffer.from(`A APPEND ${mailbox} ${flags ? `(${flags}) ` : ''}{${bytes.length}+}\r\n`),
      bytes,
      Buffer.from('\r\n'),
    ]),
  );
  const res = await client.response('A');
  if (!/^A OK/m.test(res)) throw new Error(res);
  return res;
}

/** The numbers of an untagged `* SEARCH` response (empty when there is none). */
export function searchResult(text: string): number[] {
  const line = /^\* SEARCH([\d ]*)/m.exec(text);
  return line ? line[1]!.trim().split(/ +/).filter(Boolean).map(Number) : [];
}
