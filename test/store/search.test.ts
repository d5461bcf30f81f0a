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
      // Criteria that need the message content are left to the server.
      expect(await store.search(inbox.id, { type: 'text', where: 'body', value: 'x' })).toBeNull();
      expect(
        await store.search(inbox.id, {
          type: 'and',
          keys: [{ type: 'all' }, { type: 'header', field: 'subject', value: 's' }],
        }),
      ).toBeNull();
    } finally {
      await cleanup();
    }
  });
});
