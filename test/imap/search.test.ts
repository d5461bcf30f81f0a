/** SEARCH on decoded content: what the user sees is what they find, whatever the encoding. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedIn, startFixture, type Fixture } from './helpers.js';

describe.each(['memory', 'store'] as const)('%s backend', (kind) => {
  let fx: Fixture;
  const messages = [
    // 1: quoted-printable UTF-8 body
    'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Berlin\r\nFrom: a@example.com\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSch=C3=B6ne Gr=C3=BC=C3=9Fe, =\r\nbis bald\r\n',
    // 2: base64 Latin-1 body inside a multipart, plus a binary attachment holding the same word
    'Subject: plain\r\nFrom: b@example.com\r\nDate: Tue, 2 Jan 2024 23:30:00 +0000\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
      Buffer.from('caf\xe9 au lait', 'latin1').toString('base64') +
      '\r\n--z\r\nContent-Type: application/octet-stream\r\n\r\nsecretword\r\n--z--\r\n',
    // 3: header only match
    'Subject: minutes\r\nFrom: "Zoë" <z@example.com>\r\nX-Project: Apollo\r\n\r\nnothing here\r\n',
  ];

  beforeAll(async () => {
    fx = await startFixture({}, kind);
    const account = await fx.backend.account('alice-account');
    const inbox = (await account.getMailbox('INBOX'))!;
    for (const m of messages)
      await account.append(inbox.id, {
        content: Buffer.from(m, 'utf8'),
        internalDate: new Date('2024-01-03T00:00:00Z'),
      });
    await account.storeFlags(inbox.id, [{ start: 3, end: 3 }], {
      operation: 'add',
      flags: ['$Important'],
    });
  });
  afterAll(() => fx.close());

  describe('SEARCH', () => {
    it('finds words in decoded bodies, headers and encoded words, not in attachments', async () => {
      const c = await loggedIn(fx.server.port);
      await c.command('s', 'SELECT INBOX');
      const search = async (criteria: string) => {
        const res = await c.command('q', `SEARCH ${criteria}`);
        expect(res, criteria).toContain('q OK');
        return /\* SEARCH([ \d]*)\r\n/.exec(res)![1]!.trim();
      };
      expect(await search('CHARSET UTF-8 BODY {7+}\r\nschöne')).toBe('1');
      expect(await search('BODY "bis bald"')).toBe('1');
      expect(await search('CHARSET UTF-8 BODY {5+}\r\ncafé')).toBe('2');
      expect(await search('BODY secretword')).toBe('');
      expect(await search('CHARSET UTF-8 SUBJECT {7+}\r\ngrüße')).toBe('1');
      expect(await search('CHARSET UTF-8 TEXT {4+}\r\nzoë')).toBe('3');
      expect(await search('HEADER X-Project apollo')).toBe('3');
      expect(await search('HEADER X-Project ""')).toBe('3');
      expect(await search('KEYWORD $important')).toBe('3');
      expect(await search('OR FROM b@example NOT KEYWORD $Important')).toBe('1 2');
      expect(await search('SENTON 2-Jan-2024')).toBe('2');
      expect(await search('ON 3-Jan-2024 SMALLER 200')).toBe('3');
      expect(await search('UID 2:* NOT 3')).toBe('2');
      expect(await c.command('u', 'UID SEARCH BODY lait')).toContain('* SEARCH 2\r\n');
      c.close();
    });
  });
});
