import { describe, expect, it } from 'vitest';
import type { SearchKey } from '../../native-host/src/imap/index.js';
import { tempStore } from './helpers.js';

describe('search from the index', () => {
  it('answers flag, UID, size, date and MODSEQ criteria and their combinations', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const specs = [
        { flags: ['\\Seen'], size: 100, date: '2024-01-01T23:30:00Z' },
        { flags: ['\\Deleted', '$Work'], size: 2000, date: '2024-01-02T00:10:00Z' },
        { flags: ['$work', '\\Flagged'], size: 5000, date: '2024-01-03T12:00:00Z' },
        { flags: [], size: 50, date: '2024-01-04T12:00:00Z' },
      ];
      const uids: number[] = [];
      for (const spec of specs) {
        const content = Buffer.from(`Subject: s\r\n\r\n${'x'.repeat(spec.size)}`);
        const { uid } = await store.append(inbox.id, {
          content,
          flags: spec.flags,
          internalDate: new Date(spec.date),
        });
        uids.push(uid);
      }
      const [a, b, c, d] = uids as [number, number, number, number];
      const { highestModseq } = await store.status(inbox.id);
      await store.storeFlags(inbox.id, [{ start: d, end: d }], {
        operation: 'add',
        flags: ['\\Answered'],
      });
      const cases: [SearchKey, number[]][] = [
        [{ type: 'all' }, [a, b, c, d]],
        [{ type: 'flag', flag: '\\Seen', set: false }, [b, c, d]],
        [{ type: 'flag', flag: '\\deleted', set: true }, [b]],
        [{ type: 'flag', flag: '$WORK', set: true }, [b, c]],
        [{ type: 'flag', flag: '$Work', set: false }, [a, d]],
        [{ type: 'flag', flag: '\\Recent', set: true }, []],
        [{ type: 'uid', ranges: [{ start: b, end: c }] }, [b, c]],
        [{ type: 'size', op: 'larger', size: 1000 }, [b, c]],
        [{ type: 'size', op: 'smaller', size: 1000 }, [a, d]],
        [{ type: 'date', field: 'internal', op: 'on', date: '2024-01-02' }, [b]],
        [{ type: 'date', field: 'internal', op: 'before', date: '2024-01-02' }, [a]],
        [{ type: 'date', field: 'internal', op: 'since', date: '2024-01-03' }, [c, d]],
        [{ type: 'modseq', modseq: highestModseq + 1 }, [d]],
        [
          {
            type: 'or',
            left: { type: 'flag', flag: '\\Flagged', set: true },
            right: { type: 'not', key: { type: 'size', op: 'larger', size: 100 } },
          },
          [c, d],
        ],
        [
          {
            type: 'and',
            keys: [
              { type: 'flag', flag: '$work', set: true },
              { type: 'flag', flag: '\\Deleted', set: false },
            ],
          },
          [c],
        ],
      ];
      for (const [key, expected] of cases) {
        expect(await store.search(inbox.id, key), JSON.stringify(key)).toEqual(expected);
      }
      // Criteria that need the message text are left to the server.
      expect(await store.search(inbox.id, { type: 'text', where: 'body', value: 'x' })).toBeNull();
    } finally {
      await cleanup();
    }
  });

  it('answers header criteria from the kept headers, decoded as the user sees them', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const messages = [
        [
          'From: "Anna" <anna@example.com>',
          'Subject: =?UTF-8?B?w5xiZXJ3ZWlzdW5n?= erhalten',
          'Date: Tue, 2 Jan 2024 10:00:00 +0000',
        ],
        ['From: bob@example.org', 'Subject: Quarterly', ' report', 'Date: not a date'],
        ['From: carol@example.net', 'Subject: hello', 'X-Custom: yes'],
      ];
      const uids: number[] = [];
      for (const header of messages) {
        const content = Buffer.from(`${header.join('\r\n')}\r\n\r\nbody\r\n`);
        uids.push((await store.append(inbox.id, { content })).uid);
      }
      const [u1, u2, u3] = uids as [number, number, number];
      const subject = (value: string): SearchKey => ({ type: 'header', field: 'subject', value });
      const sentOn = (op: 'before' | 'on' | 'since', date: string): SearchKey => ({
        type: 'date',
        field: 'header',
        op,
        date,
      });
      const cases: [SearchKey, number[]][] = [
        // Encoded words are decoded and case is ignored, also beyond ASCII.
        [subject('überweisung'), [u1]],
        // An ASCII needle found only after decoding (base64 encoded word).
        [subject('BERWEISUNG'), [u1]],
        // A folded field is one line.
        [subject('quarterly report'), [u2]],
        [{ type: 'header', field: 'FROM', value: 'ANNA@' }, [u1]],
        // An empty value: every message that has the field.
        [{ type: 'header', field: 'x-custom', value: '' }, [u3]],
        [{ type: 'not', key: subject('hello') }, [u1, u2]],
        [sentOn('on', '2024-01-02'), [u1]],
        // An unreadable or missing Date matches nothing, so its NOT matches.
        [{ type: 'not', key: sentOn('since', '2000-01-01') }, [u2, u3]],
        [
          {
            type: 'or',
            left: subject('hello'),
            right: { type: 'flag', flag: '\\Seen', set: true },
          },
          [u3],
        ],
      ];
      for (const [key, expected] of cases) {
        expect(await store.search(inbox.id, key), JSON.stringify(key)).toEqual(expected);
      }

      // A header too big to keep in the index: HEADER criteria go back to the server, SUBJECT
      // is answered from the full-text index, which read the whole header.
      const big = Buffer.from(`Subject: big\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\nbody\r\n`);
      const { uid: bigUid } = await store.append(inbox.id, { content: big });
      expect(
        await store.search(inbox.id, { type: 'header', field: 'X-Big', value: 'aaa' }),
      ).toBeNull();
      expect(await store.search(inbox.id, subject('big'))).toEqual([bigUid]);
      expect(
        await store.search(inbox.id, { type: 'flag', flag: '\\Seen', set: false }),
      ).toHaveLength(4);
    } finally {
      await cleanup();
    }
  });
});
