/**
 * Exact response bytes over a raw socket, where clients are picky: ENVELOPE, BODYSTRUCTURE,
 * body sections, literals, limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS } from './corpus.js';
import { loggedIn, RawClient, startFixture, type Fixture } from './helpers.js';

describe.each(['memory', 'store'] as const)('%s backend', (kind) => {
  let fx: Fixture;
  let inboxId: string;

  beforeAll(async () => {
    fx = await startFixture(
      { maxLineLength: 2000, maxLiteralSize: 1000, maxAppendSize: 5000 },
      kind,
    );
    const account = await fx.backend.account('alice-account');
    inboxId = (await account.getMailbox('INBOX'))!.id;
    for (const raw of [CORPUS.plain, CORPUS.encoded, CORPUS.nested, CORPUS.unterminated]) {
      await account.append(inboxId, {
        content: raw,
        internalDate: new Date('2024-01-02T03:04:05Z'),
      });
    }
  });
  afterAll(() => fx.close());

  const ENVELOPE_PLAIN =
    '("Mon, 7 Feb 1994 21:52:25 -0800" "afternoon meeting" (("Fred Foobar" NIL "foobar" "Blurdybloop.example")) ' +
    '(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) (("Fred Foobar" NIL "foobar" "Blurdybloop.example")) ' +
    '((NIL NIL "mooch" "owatagu.siam.edu.example")) NIL NIL NIL "<B27397-0100000@Blurdybloop.example>")';

  describe('ENVELOPE and BODYSTRUCTURE', () => {
    it('defaults a missing Content-Type to text/plain us-ascii and counts size and lines', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'EXAMINE INBOX');
      const res = await c.command('f', 'FETCH 1 (ENVELOPE BODYSTRUCTURE)');
      expect(res).toContain(
        `* 1 FETCH (ENVELOPE ${ENVELOPE_PLAIN} BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 55 1 NIL NIL NIL NIL))\r\n`,
      );
      c.close();
    });

    it('keeps encoded words, sends 8-bit text as literals and encodes groups', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'EXAMINE INBOX');
      const res = await c.command('f', 'FETCH 2 ENVELOPE');
      const from = '(("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=" NIL "keld" "dkuug.example"))';
      expect(res).toContain(
        '* 2 FETCH (ENVELOPE (NIL {40}\r\n=?UTF-8?B?SGVsbG8gd29ybGQ=?= and Grüße ' +
          `${from} ${from} ((NIL NIL "reply" "example.org")) ` +
          '(({11}\r\nRé Müller NIL "re" "example.org")(NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) ' +
          '((NIL NIL "Group" NIL)(NIL NIL "a" "b.example")({5}\r\nQ "x" NIL "q" "c.example")(NIL NIL NIL NIL)) ' +
          'NIL "<parent@example.org>" NIL))\r\n',
      );
      c.close();
    });

    it('describes nested multiparts, attachments and message/rfc822 in BODYSTRUCTURE and BODY', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'EXAMINE INBOX');
      const inner =
        '(NIL "inner message" ((NIL NIL "inner" "example.com")) ((NIL NIL "inner" "example.com")) ' +
        '((NIL NIL "inner" "example.com")) NIL NIL NIL NIL NIL)';
      const structure = await c.command('f', 'FETCH 3 BODYSTRUCTURE');
      expect(structure).toContain(
        '* 3 FETCH (BODYSTRUCTURE ((("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 0 NIL NIL NIL NIL)' +
          '("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 11 0 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL)' +
          '("APPLICATION" "PDF" ("NAME" "a.pdf") "<pdf@example.com>" "A file" "BASE64" 12 NIL ("ATTACHMENT" ("FILENAME" "a.pdf")) ("en" "de") NIL)' +
          `("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 71 ${inner} ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 20 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)` +
          ' "MIXED" ("BOUNDARY" "outer") NIL NIL NIL))\r\n',
      );
      const body = await c.command('g', 'FETCH 3 BODY');
      expect(body).toContain(
        '* 3 FETCH (BODY ((("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 0)' +
          '("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 11 0) "ALTERNATIVE")' +
          '("APPLICATION" "PDF" ("NAME" "a.pdf") "<pdf@example.com>" "A file" "BASE64" 12)' +
          `("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 71 ${inner} ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 20 1) 4) "MIXED"))\r\n`,
      );
      c.close();
    });

    it('ends an unterminated multipart with the message', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'EXAMINE INBOX');
      const res = await c.command('f', 'FETCH 4 (BODYSTRUCTURE BODY.PEEK[1])');
      expect(res).toContain(
        '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 12 0 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "b") NIL NIL NIL) BODY[1] {12}\r\ncut off here)',
      );
      c.close();
    });
  });

  describe('body sections', () => {
    it('returns parts, MIME headers, encapsulated headers, header fields and partials', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'EXAMINE INBOX');
      const res = await c.command(
        'f',
        'FETCH 3 (BODY.PEEK[1.2] BODY.PEEK[3.HEADER] BODY.PEEK[3.TEXT] BODY.PEEK[2.MIME] BODY.PEEK[HEADER.FIELDS (Subject FROM)] BODY.PEEK[HEADER.FIELDS.NOT (Subject From)] BODY.PEEK[]<10.20> BODY.PEEK[9])',
      );
      expect(res).toContain('BODY[1.2] {11}\r\n<p>html</p> ');
      expect(res).toContain(
        'BODY[3.HEADER] {51}\r\nFrom: inner@example.com\r\nSubject: inner message\r\n\r\n ',
      );
      expect(res).toContain('BODY[3.TEXT] {20}\r\ninner body\r\nline two ');
      expect(res).toContain(
        'BODY[2.MIME] {219}\r\nContent-Type: application/pdf; name="a.pdf"\r\n',
      );
      expect(res).toContain(
        'BODY[HEADER.FIELDS (Subject FROM)] {40}\r\nFrom: a@example.com\r\nSubject: nested\r\n\r\n ',
      );
      expect(res).toContain(
        'BODY[HEADER.FIELDS.NOT (Subject From)] {70}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n\r\n ',
      );
      expect(res).toContain('BODY[]<10> {20}\r\nample.com\r\nSubject: ');
      expect(res).toContain('BODY[9] {0}\r\n)');
      expect(res).toMatch(/f OK/);
      c.close();
    });

    it('puts UID first in UID FETCH and sets \\Seen only for non-PEEK fetches in read-write mode', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'SELECT INBOX');
      const peek = await c.command('a', 'UID FETCH 1 (FLAGS BODY.PEEK[TEXT])');
      expect(peek).toMatch(/^\* 1 FETCH \(UID 1 FLAGS \(\) BODY\[TEXT\] \{55\}\r\n/);
      const read = await c.command('b', 'UID FETCH 1 (RFC822.TEXT)');
      expect(read).toMatch(/^\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) RFC822\.TEXT \{55\}\r\nHello Joe/);
      await c.command('c', 'STORE 1 -FLAGS.SILENT (\\Seen)');
      const examined = await c.command('e', 'EXAMINE INBOX');
      expect(examined).toContain('e OK [READ-ONLY]');
      await c.command('f', 'FETCH 1 BODY[]');
      const flags = await c.command('g', 'FETCH 1 FLAGS');
      expect(flags).toContain('* 1 FETCH (FLAGS ())');
      c.close();
    });
  });

  describe('literals and limits', () => {
    it('asks for synchronising literals and accepts LITERAL+', async () => {
      const c = await RawClient.open(fx.server.port);
      c.write('a LOGIN {5}\r\n');
      expect(await c.readLine()).toMatch(/^\+ /);
      c.write('alice {13+}\r\ncorrect horse\r\n');
      expect(await c.response('a')).toMatch(/a OK /);
      c.close();
    });

    it('appends with a literal and answers APPENDUID', async () => {
      const c = await loggedIn(fx.server.port);
      const message = 'Subject: appended\r\n\r\nhi\r\n';
      const res = await c.command(
        'a',
        `APPEND Drafts (\\Draft) "05-Mar-2024 10:11:12 +0100" {${message.length}+}\r\n${message}`,
      );
      expect(res).toMatch(/a OK \[APPENDUID \d+ 1\] /);
      await c.command('s', 'EXAMINE Drafts');
      const res2 = await c.command('f', 'FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)');
      expect(res2).toContain(
        `* 1 FETCH (FLAGS (\\Draft \\Recent) INTERNALDATE "05-Mar-2024 09:11:12 +0000" RFC822.SIZE ${message.length})`,
      );
      const missing = await c.command('b', 'APPEND Nowhere {2+}\r\nhi');
      expect(missing).toContain('b NO [TRYCREATE]');
      c.close();
    });

    it('refuses an oversized synchronising literal without reading it, and stays usable', async () => {
      const c = await loggedIn(fx.server.port);
      c.write('a APPEND INBOX {6000}\r\n');
      expect(await c.readLine()).toBe('a BAD [TOOBIG] Literal too big');
      expect(await c.command('b', 'NOOP')).toContain('b OK');
      c.close();
    });

    it('closes the connection on an oversized non-synchronising literal', async () => {
      const c = await loggedIn(fx.server.port);
      c.write('a APPEND INBOX {6000+}\r\n' + 'x'.repeat(100));
      expect(await c.readLine()).toBe('* BYE Literal too big');
      await c.waitClosed();
      expect(c.closed).toBe(true);
    });

    it('answers an over-long line with BAD and keeps going', async () => {
      const c = await loggedIn(fx.server.port);
      c.write(`a NOOP ${'x'.repeat(5000)}\r\n`);
      expect(await c.readLine()).toBe('a BAD Command line too long');
      expect(await c.command('b', 'NOOP')).toContain('b OK');
      c.close();
    });

    it('answers garbage and wrong states with BAD', async () => {
      const c = await RawClient.open(fx.server.port);
      expect(await c.command('a', 'SELECT INBOX')).toContain(
        'a BAD SELECT is not allowed before login',
      );
      expect(await c.command('b', 'FROB')).toContain('b BAD Unknown command');
      c.write('\r\n');
      expect(await c.readLine()).toBe('* BAD Invalid tag or command');
      c.write('+x NOOP\r\n');
      expect(await c.readLine()).toBe('* BAD Invalid tag or command');
      c.close();
      const d = await loggedIn(fx.server.port);
      expect(await d.command('c', 'FETCH 1 FLAGS')).toContain(
        'c BAD FETCH is not allowed without a selected mailbox',
      );
      await d.command('s', 'SELECT INBOX');
      expect(await d.command('d', 'FETCH 99 FLAGS')).toContain(
        'd BAD Invalid message sequence number',
      );
      expect(await d.command('e', 'FETCH 1 (FLAGS')).toContain('e BAD');
      expect(await d.command('f', 'STORE 1 +FLAGS (\\Bogus)')).toContain('f BAD');
      expect(await d.command('g', 'SEARCH CHARSET KOI8-R TEXT x')).toContain(
        'g NO [BADCHARSET (UTF-8 US-ASCII)]',
      );
      d.close();
    });
  });

  describe('mailbox commands on the wire', () => {
    it('lists with wildcards, special-use and LIST-EXTENDED return options', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('a', 'CREATE "Work/Projects/Ärger"');
      const all = await c.command('b', 'LIST "" "*"');
      expect(all).toContain('* LIST (\\HasNoChildren) "/" "INBOX"');
      expect(all).toContain('* LIST (\\HasNoChildren \\Sent) "/" "Sent"');
      expect(all).toContain('* LIST (\\HasChildren) "/" "Work"');
      expect(all).toContain('* LIST (\\HasNoChildren) "/" "Work/Projects/&AMQ-rger"');
      const top = await c.command('c', 'LIST "" "%"');
      expect(top).not.toContain('Work/Projects');
      expect(await c.command('d', 'LIST "" ""')).toContain('* LIST (\\Noselect) "/" ""');
      const special = await c.command('e', 'LIST (SPECIAL-USE) "" "*" RETURN (SUBSCRIBED)');
      expect(special).toContain('* LIST (\\HasNoChildren \\Subscribed \\Trash) "/" "Trash"');
      expect(special).not.toContain('"INBOX"');
      const thunderbird = await c.command('t', 'LIST "" "*" RETURN (SPECIAL-USE)');
      expect(thunderbird).toContain('* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"');
      const withStatus = await c.command('f', 'LIST "" "INBOX" RETURN (STATUS (MESSAGES UIDNEXT))');
      expect(withStatus).toMatch(/\* STATUS "INBOX" \(MESSAGES \d+ UIDNEXT \d+\)/);
      const lsub = await c.command('g', 'LSUB "" "*"');
      expect(lsub).toContain('* LSUB () "/" "Sent"');
      expect(lsub).not.toContain('Work');
      c.close();
    });
  });
});
