/**
 * A store whose full-text index is missing or was written by another text version (an older
 * LeapBird) gets it rebuilt in the background, with progress; searches stay exact meanwhile
 * (the evaluator reads what the index cannot answer for yet) and come from the index after.
 */
import { describe, expect, it } from 'vitest';
import { openAccountStore, type AccountStore } from '../../native-host/src/store/index.js';
import { numberedMessage, tempStore } from './helpers.js';

const COUNT = 150;

async function fill(store: AccountStore): Promise<string> {
  const inbox = (await store.getMailbox('INBOX'))!;
  for (let n = 1; n <= COUNT; n++) await store.append(inbox.id, { content: numberedMessage(n) });
  return inbox.id;
}

const olderStores = {
  'an index written by an older text version': `UPDATE search_meta SET value = value - 1 WHERE name = 'text_version'`,
  'no index at all (a store from before it existed, or its tables lost)': `DROP TABLE search_text`,
};

describe.each(Object.entries(olderStores))('a store with %s', (_, makeOld) => {
  it('is indexed again in the background, with progress, and searches stay exact', async () => {
    const { store, dir, secret, cleanup } = await tempStore();
    try {
      const inboxId = await fill(store);
      store.database.raw.exec(makeOld);
      store.close();

      const reopened = await openAccountStore({ dir, storageSecret: secret });
      try {
        const key = { type: 'text', where: 'body', value: 'message 42 line' } as const;
        // Before: the index answers for nothing, so every message is left to the evaluator.
        const before = await reopened.search(inboxId, key);
        expect(before).toMatchObject({ uids: [], unsure: expect.any(Array) });
        expect((before as { unsure: number[] }).unsure).toHaveLength(COUNT);

        const seen: { done: number; total: number }[] = [];
        const result = await reopened.rebuildSearchIndex({ onProgress: (p) => seen.push(p) });
        expect(result).toEqual({ done: COUNT, total: COUNT });
        expect(seen[0]).toEqual({ done: 0, total: COUNT });
        expect(seen.at(-1)).toEqual({ done: COUNT, total: COUNT });
        expect(seen.map((p) => p.done)).toEqual([...seen.map((p) => p.done)].sort((a, b) => a - b));
        expect(seen.length).toBeGreaterThan(2);

        // After: the index alone answers, and exactly.
        expect(await reopened.search(inboxId, key)).toEqual([42]);
        // A second rebuild has nothing to do.
        expect(await reopened.rebuildSearchIndex()).toEqual({ done: 0, total: 0 });
      } finally {
        reopened.close();
      }
    } finally {
      await cleanup();
    }
  });
});
