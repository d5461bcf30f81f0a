import { createRxDatabase, type RxCollection, type RxDatabase } from 'rxdb';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getRxStorageSqlite } from '../../native-host/src/store/rxdb/index.js';
import { contactSchema, type ContactDoc } from './helpers/schemas.js';
import { openEncrypted, randomDbKey, tempDir } from './helpers/sqlite.js';

const N = 50_000;
const tmp = tempDir('large');
const key = randomDbKey();
afterAll(() => tmp.remove());

async function open(): Promise<{
  db: RxDatabase<{ contacts: RxCollection<ContactDoc> }>;
  close: () => Promise<void>;
}> {
  const sqlite = openEncrypted(join(tmp.dir, 'large.db'), key);
  const db = await createRxDatabase<{ contacts: RxCollection<ContactDoc> }>({
    name: 'large',
    storage: getRxStorageSqlite({ database: sqlite }),
    multiInstance: false,
  });
  await db.addCollections({ contacts: { schema: contactSchema } });
  return {
    db,
    close: async () => {
      await db.close();
      sqlite.close();
    },
  };
}

describe('50,000 documents', () => {
  it('are inserted in bulk, survive a reopen and are found by indexed queries', async () => {
    const t0 = performance.now();
    const first = await open();
    const docs = Array.from({ length: N }, (_, i) => ({
      id: `k${String(i).padStart(6, '0')}`,
      address: `person${i}@example.org`,
      fingerprint: i.toString(16).padStart(40, '0'),
      level: i % 5,
      verified: i % 2 === 0,
    }));
    const res = await first.db.contacts.bulkInsert(docs);
    expect(res.error).toEqual([]);
    await first.close();
    const t1 = performance.now();

    const second = await open();
    const t2 = performance.now();
    expect(await second.db.contacts.count().exec()).toBe(N);
    const one = await second.db.contacts
      .findOne({ selector: { address: 'person31337@example.org' } })
      .exec(true);
    expect(one.id).toBe('k031337');
    const page = await second.db.contacts
      .find({ selector: { level: 3 }, sort: [{ level: 'asc' }, { address: 'asc' }], limit: 5 })
      .exec();
    expect(page.map((d) => d.address)).toEqual(
      docs
        .filter((d) => d.level === 3)
        .map((d) => d.address)
        .sort()
        .slice(0, 5),
    );
    const t3 = performance.now();
    await second.close();
    console.log(
      `50k: insert+close ${(t1 - t0).toFixed(0)} ms, reopen ${(t2 - t1).toFixed(0)} ms, ` +
        `count+2 queries ${(t3 - t2).toFixed(0)} ms`,
    );
  });
});
