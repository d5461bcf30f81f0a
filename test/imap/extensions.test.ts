/**
 * The extensions other clients use (ESEARCH, SEARCHRES, MULTIAPPEND, CREATE-SPECIAL-USE,
 * SORT, THREAD, BINARY), each as a differential test: the same messages and the same
 * commands go to a throwaway Dovecot and to this server with both backends, and the answers
 * must be the same response for response. Only what legitimately differs is normalised
 * (UIDVALIDITY, the human text after a tagged status).
 */
import { describe, expect, it } from 'vitest';
import type { RawClient } from './helpers.js';
import { append, login, referenceServers, type ReferenceServer } from './reference.js';

const servers = referenceServers();

/** A scenario: mailbox contents to load, then commands whose answers are compared. */
interface Scenario {
  messages: (string | { message: string; flags?: string; date?: string })[];
  /** Commands sent after `SELECT INBOX`, one at a time. */
  commands: string[];
  /** Which untagged responses a client acts on here (the tagged status is always kept). */
  keep: RegExp;
  /** Commands run before the messages are loaded (CREATE, ENABLE). */
  before?: string[];
}

/** The answers a client acts on, per command: kept untagged lines and the tagged status word. */
async function transcript(server: ReferenceServer, scenario: Scenario): Promise<string[][]> {
  const { port, user } = await server.start();
  const c = await login(port, user);
  for (const command of scenario.before ?? []) await c.command('b', command);
  for (const m of scenario.messages) {
    const { message, flags, date } = typeof m === 'string' ? { message: m } : m;
    const bytes = Buffer.from(message.replace(/\r?\n/g, '\r\n'));
    const options = `${flags ? `(${flags}) ` : ''}${date ? `"${date}" ` : ''}`;
    c.write(
      Buffer.concat([
        Buffer.from(`A APPEND INBOX ${options}{${bytes.length}+}\r\n`),
        bytes,
        Buffer.from('\r\n'),
      ]),
    );
    expect(await c.response('A')).toMatch(/^A OK/m);
  }
  await c.command('s', 'SELECT INBOX');
  const out: string[][] = [];
  for (const [i, command] of scenario.commands.entries()) {
    out.push(answers(await c.command(`t${i}`, command), `t${i}`, scenario.keep));
  }
  c.close();
  return out;
}

function answers(text: string, tag: string, keep: RegExp): string[] {
  const lines = text.split('\r\n').filter(Boolean);
  const kept = lines
    .filter((l) => l.startsWith('* ') && keep.test(l))
    // Dovecot ends an empty THREAD with a space, which RFC 5256's grammar has not.
    .map((l) => l.trimEnd())
    .map((l) => sortFlags(l))
    .map((l) => normaliseCodes(l.replace(/^(\* (OK|NO|BAD|BYE) \[[^\]]*\]).*/, '$1')));
  const status = lines.at(-1)!.slice(tag.length + 1);
  // The status word, and a response code when there is one (its text is ours to word).
  const code = /^(OK|NO|BAD)( \[[^\]]*\])?/.exec(status);
  kept.push(code ? normaliseCodes(code[0]) : `unexpected: ${status}`);
  return kept;
}

/** Flag order in a FETCH means nothing (and differs between the backends). */
function sortFlags(line: string): string {
  return line.replace(
    /FLAGS \(([^)]*)\)/,
    (_, f: string) => `FLAGS (${f.split(' ').sort().join(' ')})`,
  );
}

/** UIDVALIDITY differs by nature; a BADCHARSET list is optional (RFC 3501 7.1). */
function normaliseCodes(text: string): string {
  return text
    .replace(/(UIDVALIDITY|APPENDUID|COPYUID) \d+/g, '$1')
    .replace(/\[BADCHARSET[^\]]*\]/, '[BADCHARSET]');
}

/** Runs the scenario everywhere and requires our two backends to answer as Dovecot did. */
async function agreeWithDovecot(scenario: Scenario): Promise<string[][]> {
  const [reference, ...ours] = servers;
  const expected = await transcript(reference![1], scenario);
  for (const [name, server] of ours) {
    const got = await transcript(server, scenario);
    for (const [i, command] of scenario.commands.entries())
      expect(got[i], `${name}: ${command}`).toEqual(expected[i]);
  }
  return expected;
}

const numbered = (n: number, extra = '') =>
  Array.from(
    { length: n },
    (_, i) => `Subject: m${i + 1}\r\nFrom: s${i % 3}@example.org\r\n${extra}\r\nbody ${i + 1}\r\n`,
  );

describe('ESEARCH (RFC 4731)', () => {
  it('answers SEARCH RETURN with MIN, MAX, COUNT and a compressed ALL, by number and by UID', async () => {
    const messages = numbered(9).map((message, i) => ({
      message,
      flags: [0, 1, 2, 4, 7, 8].includes(i) ? '\\Seen' : '',
    }));
    const expected = await agreeWithDovecot({
      messages,
      keep: /^\* (ESEARCH|SEARCH)/,
      commands: [
        'SEARCH RETURN (MIN MAX COUNT ALL) SEEN',
        'SEARCH RETURN () SEEN',
        'SEARCH RETURN (COUNT) UNSEEN',
        'SEARCH RETURN (MIN) UNSEEN',
        'SEARCH RETURN (MAX) FROM s1@example.org',
        'SEARCH RETURN (MIN MAX) SUBJECT m9',
        'UID SEARCH RETURN (ALL) SEEN',
        'UID SEARCH RETURN (MIN MAX COUNT) 2:8',
        'SEARCH RETURN (MIN MAX COUNT ALL) SUBJECT nothing-like-this',
        'SEARCH RETURN (ALL) CHARSET UTF-8 SEEN',
        'SEARCH RETURN (BOGUS) ALL',
        'SEARCH SEEN',
      ],
    });
    expect(expected[0]).toEqual(['* ESEARCH (TAG "t0") MIN 1 MAX 9 ALL 1:3,5,8:9 COUNT 6', 'OK']);
  });

  it('reports the highest MODSEQ of the matches with CONDSTORE', async () => {
    await agreeWithDovecot({
      messages: numbered(4),
      keep: /^\* (ESEARCH|SEARCH)/,
      commands: [
        'STORE 2 +FLAGS.SILENT (\\Flagged)',
        'SEARCH RETURN (ALL) MODSEQ 1',
        'UID SEARCH RETURN (COUNT) MODSEQ 1',
        'SEARCH RETURN (MIN) MODSEQ 1',
      ],
    });
  });
});

describe('SEARCHRES (RFC 5182)', () => {
  it('saves a SEARCH result as $ for FETCH, STORE, COPY, MOVE and SEARCH', async () => {
    const expected = await agreeWithDovecot({
      before: ['CREATE Other'],
      messages: numbered(6),
      // EXPUNGE order may differ (Dovecot goes from the end): FETCH 1:* shows what is left.
      keep: /^\* (ESEARCH|SEARCH|\d+ FETCH|OK \[COPYUID)/,
      commands: [
        'SEARCH RETURN (SAVE) FROM s1@example.org',
        'FETCH $ (UID FLAGS)',
        'UID FETCH $ (FLAGS)',
        'STORE $ +FLAGS (\\Flagged)',
        'UID STORE $ +FLAGS (\\Seen)',
        'SEARCH $ SEEN',
        'SEARCH RETURN (ALL) NOT $',
        'COPY $ Other',
        'UID SEARCH RETURN (SAVE MIN) ALL',
        'FETCH $ (UID)',
        'UID SEARCH RETURN (SAVE ALL) SUBJECT m',
        'UID SEARCH RETURN (SAVE COUNT) 3,5',
        'MOVE $ Other',
        'FETCH 1:* (UID)',
        'FETCH $ (UID)',
      ],
    });
    expect(expected[0]).toEqual(['OK']);
  });

  it('empties $ after a failed SEARCH and on SELECT', async () => {
    await agreeWithDovecot({
      messages: numbered(3),
      keep: /^\* (ESEARCH|SEARCH|\d+ FETCH)/,
      commands: [
        'SEARCH RETURN (SAVE) ALL',
        'SEARCH RETURN (SAVE) CHARSET X-UNKNOWN ALL',
        'FETCH $ (UID)',
        'SEARCH RETURN (SAVE) 1:2',
        'SELECT INBOX',
        'FETCH $ (UID)',
        'UID FETCH $ (UID)',
      ],
    });
  });
});

describe('SEARCHRES where Dovecot differs', () => {
  it('empties $ after a SEARCH RETURN (SAVE) answered BAD too', async () => {
    // RFC 5182 2.1 wants $ empty after any failed SEARCH with SAVE; Dovecot keeps the old
    // result when the criteria do not parse. A pipelined FETCH $ must not act on stale data.
    for (const [, server] of servers.slice(1)) {
      const { port, user } = await server.start();
      const c = await login(port, user);
      await append(c, 'INBOX', 'Subject: a\r\n\r\nx\r\n');
      await c.command('s', 'SELECT INBOX');
      await c.command('a', 'SEARCH RETURN (SAVE) ALL');
      expect(await c.command('b', 'SEARCH RETURN (SAVE) BADKEY')).toMatch(/^b BAD/m);
      expect(await c.command('f', 'FETCH $ (UID)')).not.toMatch(/FETCH \(/);
      c.close();
    }
  });
});

describe('MULTIAPPEND (RFC 3502)', () => {
  /** One APPEND command with each message as a LITERAL+. */
  function multiAppend(tag: string, mailbox: string, messages: string[]): Buffer {
    const parts = [Buffer.from(`${tag} APPEND ${mailbox}`)];
    for (const [i, m] of messages.entries()) {
      const flags = i === 0 ? ' (\\Seen)' : i === 1 ? ' "01-Feb-2024 10:00:00 +0000"' : '';
      parts.push(Buffer.from(`${flags} {${Buffer.byteLength(m)}+}\r\n${m}`));
    }
    parts.push(Buffer.from('\r\n'));
    return Buffer.concat(parts);
  }

  it('stores several messages in one APPEND with their UIDs in APPENDUID, or none', async () => {
    const results: string[][] = [];
    for (const [, server] of servers) {
      const { port, user } = await server.start();
      const c = await login(port, user);
      const out: string[] = [];
      await c.command('c', 'CREATE Multi');
      await append(c, 'Multi', 'Subject: first\r\n\r\nx\r\n');
      c.write(multiAppend('m', 'Multi', numbered(3)));
      out.push(...answers(await c.response('m'), 'm', /^$/));
      // A flag list that does not parse fails the whole command: nothing of it is stored.
      const m = 'Subject: n\r\n\r\nx\r\n';
      c.write(`n APPEND Multi {${m.length}+}\r\n${m} (\\Bogus) {${m.length}+}\r\n${m}\r\n`);
      out.push(...answers(await c.response('n'), 'n', /^$/));
      c.write(multiAppend('t', 'Nowhere', numbered(2)));
      out.push(...answers(await c.response('t'), 't', /^$/));
      await c.command('s', 'EXAMINE Multi');
      out.push(
        ...answers(
          await c.command(
            'f',
            'FETCH 1:* (UID FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])',
          ),
          'f',
          /FETCH/,
        ).map((l) => l.replace(/INTERNALDATE "[^"]*" /, (d) => (d.includes('2024') ? d : ''))),
      );
      results.push(out);
      c.close();
    }
    const [expected, ...ours] = results;
    expect(expected!.slice(0, 3)).toEqual(['OK [APPENDUID 2:4]', 'BAD', 'NO [TRYCREATE]']);
    expect(expected).toHaveLength(8);
    for (const got of ours) expect(got).toEqual(expected);
  });
});

describe('CREATE-SPECIAL-USE (RFC 6154)', () => {
  // Dovecot 2.3 parses CREATE's USE and ignores it (it neither advertises nor keeps it), so
  // this one is checked against the RFC's rules on both backends, not against Dovecot.
  it.each(servers.slice(1))(
    'creates a mailbox with its special use (%s)',
    async (_name, server) => {
      const { port, user } = await server.start();
      const c = await login(port, user);
      expect(await c.command('a', 'CREATE Archive/2024 (USE (\\Archive))')).toMatch(/^a OK/m);
      expect(await c.command('b', 'CREATE Spam (USE (\\junk))')).toMatch(/^b OK/m);
      expect(await c.command('c', 'CREATE Plain (USE ())')).toMatch(/^c OK/m);
      for (const [tag, use] of [
        ['d', '\\All'],
        ['e', '\\Flagged'],
        ['f', '\\Bogus'],
        ['g', '\\Sent \\Drafts'],
      ])
        expect(await c.command(tag!, `CREATE Not${tag} (USE (${use}))`)).toMatch(
          new RegExp(`^${tag} NO \\[USEATTR\\]`, 'm'),
        );
      expect(await c.command('h', 'CREATE X (COLOR (red))')).toMatch(/^h BAD/m);
      expect(await c.command('i', 'CREATE Spam (USE (\\Junk))')).toMatch(
        /^i NO \[ALREADYEXISTS\]/m,
      );
      const list = await c.command('l', 'LIST "" "*" RETURN (SPECIAL-USE)');
      expect(list).toMatch(/^\* LIST \([^)]*\\Archive[^)]*\) "\/" "?Archive\/2024"?\r$/m);
      expect(list).toMatch(/^\* LIST \([^)]*\\Junk[^)]*\) "\/" "?Spam"?\r$/m);
      expect(list).toMatch(/^\* LIST \(\\HasChildren\) "\/" "?Archive"?\r$/m);
      expect(list).toMatch(/^\* LIST \(\\HasNoChildren\) "\/" "?Plain"?\r$/m);
      // Nothing of a refused CREATE was made.
      expect(list).not.toMatch(/Not[defg]/);
      const special = await c.command('m', 'LIST (SPECIAL-USE) "" "*"');
      expect(special).toMatch(/"?Spam"?\r$/m);
      expect(special).not.toMatch(/Plain/);
      c.close();
    },
  );
});

/** Messages whose sort keys disagree with each other and with their order of arrival. */
const SORTABLE: Scenario['messages'] = [
  {
    message:
      'From: "Zed" <alpha@example.org>\nTo: bob@example.org\nCc: carol@example.org\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nSubject: Re: [list] Meeting\n\nshort\n',
    date: '05-Jan-2024 10:00:00 +0000',
  },
  {
    message:
      'From: beta@example.org\nTo: "Alice" <zulu@example.org>\nDate: Mon, 1 Jan 2024 11:00:00 +0200\nSubject: meeting\n\na longer body than the first one\n',
    date: '03-Jan-2024 10:00:00 +0000',
  },
  {
    message:
      'From: =?UTF-8?Q?=C3=89mile?= <gamma@example.org>\nTo: adam@example.org\nCc: aaron@example.org\nDate: Sun, 31 Dec 2023 23:30:00 -0500\nSubject: Fwd: [list] Re: meeting (fwd)\n\nx\n',
    date: '04-Jan-2024 10:00:00 +0000',
  },
  {
    message:
      'From: Adam <delta@example.org>\nTo: Bob <bob@example.org>\nSubject: =?UTF-8?B?QXBwbGVz?=\n\nno date header at all, so the internal date counts\n',
    date: '01-Jan-2024 09:00:00 +0000',
  },
  {
    message:
      'From: alpha@example.org\nDate: Tue, 2 Jan 2024 08:00:00 +0000\nSubject: [fwd: bananas]\n\nbody\n',
    date: '02-Jan-2024 10:00:00 +0000',
  },
  {
    message:
      'From: "" <Omega@example.org>\nTo: Zoe <a@example.org>\nDate: Tue, 2 Jan 2024 08:00:00 +0000\nSubject: Re: Re: apples\n\nbody body body body body body\n',
    date: '02-Jan-2024 10:00:00 +0000',
  },
  {
    message: 'Subject: [list]\n\nonly a blob for a subject\n',
    date: '06-Jan-2024 10:00:00 +0000',
  },
];

describe('SORT and SORT=DISPLAY (RFC 5256, RFC 5957)', () => {
  it('orders by each key and key combination as Dovecot does, by number and by UID', async () => {
    const keys = [
      'ARRIVAL',
      'CC',
      'DATE',
      'FROM',
      'SIZE',
      'SUBJECT',
      'TO',
      'DISPLAYFROM',
      'DISPLAYTO',
    ];
    const expected = await agreeWithDovecot({
      messages: SORTABLE,
      keep: /^\* SORT/,
      commands: [
        ...keys.map((k) => `SORT (${k}) UTF-8 ALL`),
        ...keys.map((k) => `SORT (REVERSE ${k}) UTF-8 ALL`),
        'SORT (SUBJECT DATE) UTF-8 ALL',
        'SORT (SUBJECT REVERSE DATE) US-ASCII ALL',
        'SORT (REVERSE SUBJECT REVERSE ARRIVAL) UTF-8 ALL',
        'SORT (FROM SIZE) UTF-8 NOT SUBJECT apples',
        'UID SORT (DATE) UTF-8 2:6',
        'UID SORT (REVERSE SIZE) UTF-8 UID 3:*',
        'SORT (SUBJECT) UTF-8 SUBJECT nothing-like-this',
        'SORT (SUBJECT) X-UNKNOWN ALL',
        'SORT (REVERSE) UTF-8 ALL',
        'SORT (BOGUS) UTF-8 ALL',
        'SORT () UTF-8 ALL',
      ],
    });
    expect(expected[0]).toEqual(['* SORT 4 5 6 2 3 1 7', 'OK']);
  });

  it('extracts the base subject as RFC 5256 2.1 (and Dovecot) do', async () => {
    const subjects = [
      'Re[2]: kiwi',
      'RE : lime',
      'Fw: mango',
      'fwd:fig',
      '[a] [b] date',
      '[a] Re: [b] Fwd: cherry',
      '[fwd: Re: apple] (fwd)',
      '[fwd: [x]]',
      'Re: (fwd) banana',
      '   spaced\t  out  ',
      'Re:',
      '',
      'ZZZ (FWD) (fwd)  ',
      'Re: Re: RE: Fw: elder',
      '[]grape',
      'Re: [fwd: honeydew]',
      '=?ISO-8859-1?Q?=E9clair?=',
      'Éclair',
    ];
    const expected = await agreeWithDovecot({
      messages: subjects.map((s) => `Subject: ${s}\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nx\n`),
      keep: /^\* SORT/,
      commands: ['SORT (SUBJECT) UTF-8 ALL', 'SORT (REVERSE SUBJECT) UTF-8 ALL'],
    });
    expect(expected[0]![0]!.split(' ')).toHaveLength(subjects.length + 2);
  });
});

/** One message of a thread corpus; `day` orders the Date headers apart from arrival. */
function threadMessage(
  id: string | null,
  subject: string,
  day: number,
  refs: { references?: string; inReplyTo?: string } = {},
): string {
  return [
    `Subject: ${subject}`,
    `Date: ${day} Jan 2024 10:00:00 +0000`,
    ...(id ? [`Message-ID: <${id}@example.org>`] : []),
    ...(refs.references ? [`References: ${refs.references}`] : []),
    ...(refs.inReplyTo ? [`In-Reply-To: ${refs.inReplyTo}`] : []),
    '',
    'x',
    '',
  ].join('\n');
}

const THREADED = [
  threadMessage('a', 'Project plan', 3),
  threadMessage('b', 'Re: Project plan', 5, { references: '<a@example.org>' }),
  threadMessage('c', 'Re: Project plan', 4, { references: '<a@example.org>' }),
  threadMessage('d', 'Re: Project plan', 6, { references: '<a@example.org>\n <b@example.org>' }),
  // Its parent is not in the mailbox: a dummy holds it with its sibling.
  threadMessage('e', 'Re: Lost', 7, { references: '<gone@example.org>' }),
  threadMessage('f', 'Re: Lost', 2, { inReplyTo: '<gone@example.org>' }),
  // Only In-Reply-To, and a References chain that is cut short.
  threadMessage('g', 'Re: Project plan', 8, { inReplyTo: '<c@example.org> (comment)' }),
  threadMessage('h', 'Re: Re: Project plan', 9, {
    references: '<x@example.org> <g@example.org>',
  }),
  // Same subject, no references: gathered under the original by subject.
  threadMessage('i', 'Re: Holiday', 10),
  threadMessage('j', 'Holiday', 11),
  threadMessage('k', 'Holiday', 1),
  // No Message-ID, a duplicate Message-ID, a message that refers to itself, a loop.
  threadMessage(null, 'Lonely', 12),
  threadMessage('a', 'Duplicate of a', 13),
  threadMessage('self', 'Self', 14, { references: '<self@example.org>' }),
  threadMessage('l1', 'Loop', 15, { references: '<l2@example.org>' }),
  threadMessage('l2', 'Loop', 16, { references: '<l1@example.org>' }),
  threadMessage('m', '', 17),
  threadMessage('n', '', 18, { references: '<m@example.org>' }),
  threadMessage('o', '[fwd: Holiday]', 0),
];

describe('THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256)', () => {
  it('threads as Dovecot does, by number and by UID, also over a search', async () => {
    const expected = await agreeWithDovecot({
      messages: THREADED,
      keep: /^\* THREAD/,
      commands: [
        'THREAD ORDEREDSUBJECT UTF-8 ALL',
        'THREAD REFERENCES UTF-8 ALL',
        'UID THREAD REFERENCES US-ASCII ALL',
        'UID THREAD ORDEREDSUBJECT UTF-8 ALL',
        'THREAD REFERENCES UTF-8 NOT SUBJECT plan',
        'THREAD REFERENCES UTF-8 2:8',
        'THREAD ORDEREDSUBJECT UTF-8 SUBJECT holiday',
        'THREAD REFERENCES UTF-8 SUBJECT nothing-like-this',
        'THREAD REFERENCES X-UNKNOWN ALL',
        'THREAD BOGUS UTF-8 ALL',
      ],
    });
    // Dummies for the missing parent and for the subject gathered "Holiday", a cut chain
    // (3 7 8), the loop broken, the empty subjects threaded by reference only.
    expect(expected[1]![0]).toBe(
      '* THREAD ((11 9)(10)(19))((6)(5))(1 (3 7 8)(2 4))(12)(13)(14)(16 15)(17 18)',
    );
  });

  it('finds References in a header too big for the store to keep with the row', async () => {
    const padding = Array.from({ length: 80 }, () => ' ' + 'p'.repeat(998)).join('\n');
    const big = threadMessage('big', 'Unrelated subject', 9, {
      references: '<root@example.org> <mid@example.org>',
    }).replace('Subject:', `X-Padding:${padding}\nSubject:`);
    const expected = await agreeWithDovecot({
      messages: [
        threadMessage('root', 'Root', 1),
        threadMessage('other', 'Other', 2),
        big,
        threadMessage('mid', 'Re: Root', 3, { references: '<root@example.org>' }),
      ],
      keep: /^\* THREAD/,
      commands: ['THREAD REFERENCES UTF-8 ALL'],
    });
    expect(expected[0]![0]).toBe('* THREAD (1 4 3)(2)');
  });
});

const BINARY_MESSAGES = [
  [
    'Subject: bin',
    'Content-Type: multipart/mixed; boundary=b',
    '',
    'preamble',
    '--b',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    'X-After: kept',
    '',
    'caf=C3=A9 =',
    'soft break=3D',
    '--b',
    'Content-Transfer-Encoding: BASE64',
    'Content-Type: application/octet-stream',
    '',
    'AAECAwQ=',
    '--b',
    'Content-Type: message/rfc822',
    '',
    'Subject: inner',
    'Content-Transfer-Encoding: base64',
    '',
    'aGVsbG8=',
    '--b',
    'Content-Type: text/plain',
    '',
    'plain 8bit',
    '--b--',
    'epilogue',
    '',
  ].join('\n'),
  'Subject: one\nContent-Transfer-Encoding: base64\nX-Later: field\n\naGk=\n',
  'Subject: odd\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: x-uuencode\n\nbegin\n--b\n\nok\n--b--\n',
  'Subject: plain\n\nnothing to decode\n',
];

describe('BINARY (RFC 3516)', () => {
  it('sends parts with their transfer encoding undone, as Dovecot does', async () => {
    const expected = await agreeWithDovecot({
      messages: BINARY_MESSAGES,
      // The FETCH (UID n) Dovecot sends before refusing a message is not data.
      keep: /^\* \d+ FETCH \((?!UID \d+\)$)/,
      commands: [
        'FETCH 1 (BINARY.PEEK[1])',
        'FETCH 1 (BINARY.PEEK[2] BINARY.PEEK[3] BINARY.PEEK[3.1] BINARY.PEEK[4])',
        'FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2] BINARY.SIZE[3] BINARY.SIZE[4] BINARY.SIZE[])',
        'FETCH 1 (BINARY.PEEK[])',
        'FETCH 1 (BINARY.PEEK[2]<1.3> BINARY.PEEK[1]<4.100> BINARY.PEEK[2]<99.1>)',
        'FETCH 1 (BINARY.PEEK[9] BINARY.PEEK[1.MIME] BINARY.PEEK[3.HEADER])',
        'FETCH 2 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[] BINARY.SIZE[])',
        'FETCH 4 (BINARY.PEEK[] BINARY.PEEK[1] BINARY.SIZE[1])',
        'FETCH 3 (BINARY.PEEK[1])',
        'FETCH 3 (BINARY.PEEK[2])',
        'FETCH 3 (BINARY.PEEK[])',
        'FETCH 2 (FLAGS)',
        'FETCH 2 (BINARY[1])',
        'FETCH 2 (FLAGS)',
        'FETCH 1 (BINARY.SIZE[1]<0.1>)',
        'UID FETCH 1:2 (BINARY.SIZE[1])',
      ],
    });
    expect(expected[0]).toEqual(['* 1 FETCH (BINARY[1] ~{17}', 'OK']);
  });

  it('takes an APPEND whose message is a literal8', async () => {
    for (const [, server] of servers.slice(1)) {
      const { port, user } = await server.start();
      const c = await login(port, user);
      const m = 'Subject: nul\r\n\r\na\0b\r\n';
      c.write(`a APPEND INBOX ~{${m.length}}\r\n`);
      expect(await c.readLine()).toMatch(/^\+/);
      c.write(`${m}\r\n`);
      expect(await c.response('a')).toMatch(/^a OK \[APPENDUID \d+ 1\]/m);
      await c.command('s', 'SELECT INBOX');
      expect(await c.command('f', 'FETCH 1 BINARY.PEEK[1]')).toContain(
        'BINARY[1] ~{5}\r\na\0b\r\n)',
      );
      c.close();
    }
  });
});

describe('capabilities', () => {
  it('advertises each extension implemented here', async () => {
    const [, ours] = servers;
    const { port, user } = await ours![1].start();
    const c: RawClient = await login(port, user);
    const caps = await c.command('c', 'CAPABILITY');
    for (const cap of [
      'ESEARCH',
      'SEARCHRES',
      'MULTIAPPEND',
      'CREATE-SPECIAL-USE',
      'SORT',
      'SORT=DISPLAY',
    ])
      expect(caps).toMatch(new RegExp(`^\\* CAPABILITY .*\\b${cap}( |\\r)`, 'm'));
    c.close();
  });
});
