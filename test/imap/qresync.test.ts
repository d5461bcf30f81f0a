/**
 * QRESYNC (RFC 7162): a client that comes back with the UIDVALIDITY and MODSEQ it last saw
 * learns in the SELECT what was expunged and what changed, and an enabled session hears of
 * expunges as VANISHED. The same scenario runs against Dovecot (the reference), and against
 * this server with the in-memory backend (no record of expunges) and the encrypted store
 * (which keeps one); what a client would act on must be the same.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotInstance } from '../../provider/src/dovecot/index.js';
import { PASSWORD, USER, loggedIn, startFixture, type Fixture, type RawClient } from './helpers.js';

let dir: string;
let dovecot: DovecotInstance;
const fixtures: Fixture[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'imap-qresync-'));
  dovecot = await startDovecot({
    dataDir: dir,
    auth: { kind: 'passwd-file', users: [{ user: USER, password: PASSWORD }] },
  });
});
afterAll(async () => {
  for (const f of fixtures) await f.close();
  await dovecot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const servers: [string, () => Promise<number>][] = [
  ['Dovecot', async () => dovecot.imapPort],
  ['memory backend', async () => fixtures[fixtures.push(await startFixture()) - 1]!.server.port],
  [
    'encrypted store',
    async () => fixtures[fixtures.push(await startFixture({}, 'store')) - 1]!.server.port,
  ],
];

const number = (text: string, pattern: RegExp) => Number(pattern.exec(text)?.[1]);

/** The UIDs a VANISHED response names, expanded, and whether it said EARLIER. */
function vanished(text: string): { earlier: boolean; uids: number[] }[] {
  return [...text.matchAll(/^\* VANISHED( \(EARLIER\))? ([\d:,]+)\r?$/gm)].map((m) => ({
    earlier: m[1] !== undefined,
    uids: m[2]!.split(',').flatMap((part) => {
      const [a, b] = part.split(':').map(Number) as [number, number | undefined];
      return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
    }),
  }));
}

/** UID → flags of the untagged FETCH responses. */
function fetchedFlags(text: string): Record<number, string> {
  const out: Record<number, string> = {};
  for (const m of text.matchAll(/^\* \d+ FETCH \((.*)\)\r?$/gm)) {
    const uid = number(m[1]!, /UID (\d+)/);
    out[uid] = /FLAGS \(([^)]*)\)/.exec(m[1]!)![1]!;
  }
  return out;
}

describe.each(servers)('QRESYNC against %s', (_name, start) => {
  let port: number;
  let a: RawClient;
  let b: RawClient;

  it('tells a returning client what vanished and what changed while it was away', async () => {
    port = await start();
    a = await loggedIn(port);
    b = await loggedIn(port);
    await a.command('c', 'CREATE QR');
    for (let i = 1; i <= 6; i++) {
      const m = `Subject: m${i}\r\n\r\nbody ${i}\r\n`;
      a.write(`a${i} APPEND QR {${m.length}+}\r\n${m}\r\n`);
      expect(await a.response(`a${i}`)).toMatch(new RegExp(`a${i} OK`));
    }
    expect(await a.command('e', 'ENABLE QRESYNC')).toMatch(/\* ENABLED QRESYNC/);
    const first = await a.command('s', 'SELECT QR');
    const uidValidity = number(first, /UIDVALIDITY (\d+)/);
    const modseq = number(first, /HIGHESTMODSEQ (\d+)/);
    const uids = [...(await a.command('u', 'UID SEARCH ALL')).matchAll(/\d+/g)]
      .map((m) => Number(m[0]))
      .slice(0, 6);
    await a.command('x', 'UNSELECT');

    // Meanwhile another client flags one message and removes two.
    await b.command('s', 'SELECT QR');
    await b.command('f', `UID STORE ${uids[1]} +FLAGS (\\Flagged)`);
    await b.command('d', `UID STORE ${uids[2]},${uids[4]} +FLAGS (\\Deleted)`);
    expect(await b.command('x', 'EXPUNGE')).toMatch(/x OK/);

    const back = await a.command(
      's2',
      `SELECT QR (QRESYNC (${uidValidity} ${modseq} ${uids[0]}:${uids[5]}))`,
    );
    expect(back).toMatch(/s2 OK/);
    expect(vanished(back)).toEqual([{ earlier: true, uids: [uids[2], uids[4]] }]);
    expect(fetchedFlags(back)).toEqual({ [uids[1]!]: '\\Flagged' });
    expect(back).toMatch(new RegExp(`FETCH \\(.*UID ${uids[1]}.*MODSEQ \\(\\d+\\)`));

    // A UID FETCH with VANISHED says the same from any MODSEQ the client names.
    const refetch = await a.command(
      'f2',
      `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`,
    );
    expect(vanished(refetch)).toEqual([{ earlier: true, uids: [uids[2], uids[4]] }]);
    expect(fetchedFlags(refetch)).toEqual({ [uids[1]!]: '\\Flagged' });

    // A stale UIDVALIDITY gets no catch-up: the client must start over.
    const stale = await a.command('s3', `SELECT QR (QRESYNC (${uidValidity + 1} ${modseq}))`);
    expect(stale).toMatch(/s3 OK/);
    expect(vanished(stale)).toEqual([]);
    expect(stale).toMatch(/\* OK \[CLOSED\]/);

    // While selected, an expunge elsewhere arrives as VANISHED, not EXPUNGE.
    await b.command('d2', `UID STORE ${uids[5]} +FLAGS (\\Deleted)`);
    await b.command('x2', 'EXPUNGE');
    const noop = await a.command('n', 'NOOP');
    expect(vanished(noop)).toEqual([{ earlier: false, uids: [uids[5]] }]);
    expect(noop).not.toMatch(/EXPUNGE/);
    // b did not enable QRESYNC and still hears plain EXPUNGE.
    await a.command('d3', `UID STORE ${uids[3]} +FLAGS (\\Deleted)`);
    await a.command('x3', 'EXPUNGE');
    expect(await b.command('n2', 'NOOP')).toMatch(/\* \d+ EXPUNGE/);
  });

  it('refuses QRESYNC parameters from a client that did not enable it', async () => {
    const c = await loggedIn(port);
    const status = await c.command('st', 'STATUS QR (UIDVALIDITY HIGHESTMODSEQ)');
    const uidValidity = number(status, /UIDVALIDITY (\d+)/);
    expect(await c.command('s', `SELECT QR (QRESYNC (${uidValidity} 1))`)).toMatch(/s BAD/);
    await c.command('s1', 'SELECT QR');
    expect(await c.command('f', 'UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)')).toMatch(/f BAD/);
    c.close();
    a.close();
    b.close();
  });
});
