/**
 * Faults a compliance run found where this server and Dovecot answered the same session
 * differently. Every scenario runs against Dovecot, the reference, and against
 * this server with both backends; what a client would act on must agree.
 */
import { describe, expect, it } from 'vitest';
import { append, login, referenceServers, searchResult } from './reference.js';

const servers = referenceServers();

/** The flags a client believes each message (by sequence number) has after `responses`, applied in order. */
function believedFlags(responses: string[]): Map<number, string> {
  const flags = new Map<number, string>();
  for (const text of responses)
    for (const m of text.matchAll(/^\* (\d+) FETCH \(.*FLAGS \(([^)]*)\)/gm))
      flags.set(
        Number(m[1]),
        m[2]!
          .split(' ')
          .filter((f) => f !== '\\Recent')
          .sort()
          .join(' '),
      );
  return flags;
}

/** MODSEQ values in the order a client receives them, per sequence number. */
function modseqs(responses: string[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const text of responses)
    for (const m of text.matchAll(/^\* (\d+) FETCH \(.*MODSEQ \((\d+)\)/gm)) {
      const seq = Number(m[1]);
      out.set(seq, [...(out.get(seq) ?? []), Number(m[2])]);
    }
  return out;
}

describe.each(servers)('%s', (_name, server) => {
  it('compares SENTON, SENTBEFORE and SENTSINCE with the day as written in the Date header', async () => {
    const { port, user } = await server.start();
    const c = await login(port, user);
    await append(c, 'INBOX', 'Date: Sun, 25 Mar 2007 00:00:00 +0200\r\nSubject: d\r\n\r\nx\r\n');
    await append(c, 'INBOX', 'Date: Sat, 24 Mar 2007 23:30:00 -0500\r\nSubject: e\r\n\r\nx\r\n');
    await c.command('s', 'SELECT INBOX');
    expect(searchResult(await c.command('a', 'SEARCH SENTON 24-Mar-2007'))).toEqual([2]);
    expect(searchResult(await c.command('b', 'SEARCH SENTON 25-Mar-2007'))).toEqual([1]);
    expect(searchResult(await c.command('c', 'SEARCH SENTBEFORE 25-Mar-2007'))).toEqual([2]);
    expect(searchResult(await c.command('d', 'SEARCH SENTSINCE 25-Mar-2007'))).toEqual([1]);
    c.close();
  });

  it('lists an unsubscribed parent as \\Noselect in LSUB when only a deeper child is subscribed', async () => {
    const { port, user } = await server.start();
    const c = await login(port, user);
    await c.command('c', 'CREATE parent/sub/child');
    await c.command('s', 'SUBSCRIBE parent/sub/child');
    const lsub = await c.command('l', 'LSUB "" parent/%');
    expect(lsub).toMatch(/^\* LSUB \(\\Noselect\) "\/" "?parent\/sub"?\r$/m);
    expect(lsub).not.toMatch(/child/);
    // A child the pattern matches itself brings no parent.
    expect(await c.command('n', 'LSUB "" *')).not.toMatch(/Noselect/);
    expect(await c.command('m', 'LSUB "" parent/*')).toMatch(
      /^\* LSUB \(\) "\/" "?parent\/sub\/child"?\r$/m,
    );
    c.close();
  });

  it('refuses RECURSIVEMATCH without a selection option it could refine', async () => {
    const { port, user } = await server.start();
    const c = await login(port, user);
    expect(await c.command('a', 'LIST (RECURSIVEMATCH) "" "*"')).toMatch(/^a BAD/m);
    expect(await c.command('b', 'LIST (RECURSIVEMATCH REMOTE) "" "*"')).toMatch(/^b BAD/m);
    expect(await c.command('c', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"')).toMatch(/^c OK/m);
    c.close();
  });

  it('finds a sender by the address ENVELOPE shows, whatever comments the header has', async () => {
    const { port, user } = await server.start();
    const c = await login(port, user);
    await append(
      c,
      'INBOX',
      'From: <user-from (comment)@ (comment) domain.org>\r\nTo: "Some One" <one@example.org>\r\nSubject: a\r\n\r\nx\r\n',
    );
    await append(c, 'INBOX', 'From: other@domain.org\r\nSubject: b\r\n\r\nx\r\n');
    await c.command('s', 'SELECT INBOX');
    expect(await c.command('e', 'FETCH 1 ENVELOPE')).toMatch(
      /\(\(NIL NIL "user-from" "domain.org"\)\)/,
    );
    expect(searchResult(await c.command('a', 'SEARCH FROM user-from@domain.org'))).toEqual([1]);
    // Dovecot matches the address as parsed, so a comment's text is not found.
    expect(searchResult(await c.command('b', 'SEARCH FROM comment'))).toEqual([]);
    expect(searchResult(await c.command('d', 'SEARCH FROM domain.org'))).toEqual([1, 2]);
    expect(searchResult(await c.command('f', 'SEARCH TO "Some One"'))).toEqual([1]);
    c.close();
  });

  it('gives each new message \\Recent in exactly one session', async () => {
    const { port, user } = await server.start();
    const a = await login(port, user);
    const b = await login(port, user);
    const c = await login(port, user);
    await a.command('c', 'CREATE R');
    await append(a, 'R', 'Subject: 1\r\n\r\nx\r\n');
    await append(a, 'R', 'Subject: 2\r\n\r\nx\r\n', '\\Seen');
    expect(await a.command('st', 'STATUS R (RECENT)')).toMatch(/RECENT 2\)/);
    const examined = await c.command('x', 'EXAMINE R');
    expect(examined).toMatch(/^\* 2 RECENT\r$/m);
    const selected = await b.command('s', 'SELECT R');
    expect(selected).toMatch(/^\* 2 RECENT\r$/m);
    expect(await b.command('f', 'FETCH 1:* FLAGS')).toMatch(
      /^\* 1 FETCH \(FLAGS \(\\Recent\)\)\r\n\* 2 FETCH \(FLAGS \(\\Seen \\Recent\)\)\r$/m,
    );
    expect(searchResult(await b.command('r', 'SEARCH RECENT'))).toEqual([1, 2]);
    expect(searchResult(await b.command('n', 'SEARCH NEW'))).toEqual([1]);
    expect(searchResult(await b.command('o', 'SEARCH OLD'))).toEqual([]);
    // b holds them now: nobody else sees them as recent.
    expect(await a.command('st2', 'STATUS R (RECENT)')).toMatch(/RECENT 0\)/);
    await c.command('u', 'UNSELECT');
    expect(await c.command('s', 'SELECT R')).toMatch(/^\* 0 RECENT\r$/m);
    expect(searchResult(await c.command('o', 'SEARCH OLD'))).toEqual([1, 2]);
    expect(await c.command('f', 'FETCH 1 FLAGS')).not.toMatch(/Recent/);

    // A message arriving while both have R selected is recent for one of them only.
    await append(a, 'R', 'Subject: 3\r\n\r\nx\r\n');
    const seen = [await b.command('n2', 'NOOP'), await c.command('n2', 'NOOP')];
    for (const text of seen) expect(text).toMatch(/^\* 3 EXISTS\r$/m);
    const recentIn = await Promise.all(
      [b, c].map(async (s) => (await s.command('f3', 'FETCH 3 FLAGS')).includes('\\Recent')),
    );
    expect(recentIn.filter(Boolean)).toHaveLength(1);
    for (const s of [a, b, c]) s.close();
  });

  it('never lets a session believe an older flag state than its own STORE answered', async () => {
    const { port, user } = await server.start();
    const a = await login(port, user);
    const b = await login(port, user);
    await append(a, 'INBOX', 'Subject: 1\r\n\r\nx\r\n');
    const seenByA = [
      await a.command('e', 'ENABLE CONDSTORE'),
      await a.command('s', 'SELECT INBOX'),
    ];
    await b.command('s', 'SELECT INBOX');
    await b.command('f', 'STORE 1 FLAGS (\\Seen)');
    seenByA.push(await a.command('g', 'STORE 1 +FLAGS (\\Deleted)'));
    seenByA.push(await a.command('n', 'NOOP'));
    seenByA.push(await a.command('h', 'FETCH 1 (FLAGS MODSEQ)'));
    expect(believedFlags(seenByA).get(1)).toBe('\\Deleted \\Seen');
    const sequence = modseqs(seenByA).get(1)!;
    expect(sequence).toEqual([...sequence].sort((x, y) => x - y));
    a.close();
    b.close();
  });

  it('sends nothing after BYE but the tagged LOGOUT answer', async () => {
    const { port, user } = await server.start();
    const a = await login(port, user);
    const b = await login(port, user);
    for (let i = 1; i <= 3; i++) await append(a, 'INBOX', `Subject: ${i}\r\n\r\nx\r\n`);
    await a.command('s', 'SELECT INBOX');
    await b.command('s', 'SELECT INBOX');
    await b.command('f', 'STORE 1 +FLAGS (\\Deleted)');
    await b.command('t', 'STORE 2 +FLAGS (\\Flagged)');
    await b.command('x', 'EXPUNGE');
    const bye = await a.command('o', 'LOGOUT');
    expect(bye).toMatch(/\* BYE [^\r]*\r\no OK[^\r]*\r\n$/);
    a.close();
    b.close();
  });

  it('announces a keyword new to the mailbox with FLAGS and PERMANENTFLAGS', async () => {
    const { port, user } = await server.start();
    const a = await login(port, user);
    const b = await login(port, user);
    await append(a, 'INBOX', 'Subject: 1\r\n\r\nx\r\n');
    expect(await a.command('s', 'SELECT INBOX')).not.toMatch(/\$Label1/);
    await b.command('s', 'SELECT INBOX');
    await b.command('f', 'STORE 1 +FLAGS ($Label1)');
    const noop = await a.command('n', 'NOOP');
    expect(noop).toMatch(/^\* FLAGS \([^)]*\$Label1[^)]*\)\r$/m);
    expect(noop).toMatch(/^\* OK \[PERMANENTFLAGS \([^)]*\$Label1[^)]*\\\*\)\]/m);
    expect(noop).toMatch(/^\* 1 FETCH \(.*\$Label1/m);
    // Known now: it is not announced again.
    await b.command('g', 'STORE 1 -FLAGS ($Label1)');
    await b.command('h', 'STORE 1 +FLAGS ($Label1)');
    expect(await a.command('m', 'NOOP')).not.toMatch(/\* FLAGS/);
    a.close();
    b.close();
  });

  it('takes a comment after the address as the display name in ENVELOPE', async () => {
    const { port, user } = await server.start();
    const c = await login(port, user);
    await append(c, 'INBOX', 'From: user@domain (Real Name)\r\nSubject: a\r\n\r\nx\r\n');
    await c.command('s', 'SELECT INBOX');
    expect(await c.command('e', 'FETCH 1 ENVELOPE')).toMatch(
      /"a" \(\("Real Name" NIL "user" "domain"\)\)/,
    );
    c.close();
  });
});
