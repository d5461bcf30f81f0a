import type Database from 'better-sqlite3-multiple-ciphers';
import { Blob } from 'node:buffer';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { RxDBAttachmentsPlugin } from 'rxdb/plugins/attachments';
import { RxDBCleanupPlugin } from 'rxdb/plugins/cleanup';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  addRxPlugin,
  createRevision,
  createRxDatabase,
  fillWithDefaultSettings,
  now,
  type MangoQuery,
  type RxCollection,
  type RxDatabase,
  type RxDocumentData,
  type RxStorageInstance,
} from 'rxdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  createSyncedDatabase,
  getRxStorageSqlite,
  SyncKeys,
} from '../../native-host/src/store/rxdb/index.js';
import { openEncrypted, randomDbKey, tempDir } from './helpers/sqlite.js';
import {
  contactSchema,
  settingSchema,
  type ContactDoc,
  type SettingDoc,
} from './helpers/schemas.js';

addRxPlugin(RxDBCleanupPlugin);

type Collections = {
  contacts: RxCollection<ContactDoc>;
  settings: RxCollection<SettingDoc>;
};

let tmp: ReturnType<typeof tempDir>;
let key: string;
let sqlite: Database.Database;
let opened: RxDatabase<Collections>[] = [];

function file(): string {
  return join(tmp.dir, 'account.db');
}

async function openDb(handle = sqlite): Promise<RxDatabase<Collections>> {
  const db = await createRxDatabase<Collections>({
    name: 'account',
    storage: getRxStorageSqlite({ database: handle, tablePrefix: 'rx_' }),
    multiInstance: false,
    allowSlowCount: true,
  });
  await db.addCollections({
    contacts: { schema: contactSchema },
    settings: { schema: settingSchema },
  });
  opened.push(db);
  return db;
}

async function closeDb(db: RxDatabase<Collections>): Promise<void> {
  await db.close();
  opened = opened.filter((d) => d !== db);
}

function contact(i: number, extra: Partial<ContactDoc> = {}): ContactDoc {
  return {
    id: `c${String(i).padStart(6, '0')}`,
    address: `user${i % 97}@example.org`,
    fingerprint: (i * 7919).toString(16).padStart(40, '0'),
    level: i % 5,
    verified: i % 3 === 0,
    ...extra,
  };
}

beforeEach(() => {
  tmp = tempDir('storage');
  key = randomDbKey();
  sqlite = openEncrypted(file(), key);
});

afterEach(async () => {
  for (const db of opened) await db.close();
  opened = [];
  if (sqlite.open) sqlite.close();
  tmp.remove();
});

describe('RxDB on the SQLite storage', () => {
  it('inserts, updates, deletes and finds documents by id', async () => {
    const db = await openDb();
    await db.contacts.insert(contact(1));
    await db.settings.insert({ key: 'theme', value: 'dark' });

    const doc = await db.contacts.findOne('c000001').exec(true);
    await doc.incrementalPatch({ level: 4, verified: true });
    expect((await db.contacts.findOne('c000001').exec(true)).toJSON()).toMatchObject({
      level: 4,
      verified: true,
    });

    await (await db.contacts.findOne('c000001').exec(true)).remove();
    expect(await db.contacts.findOne('c000001').exec()).toBeNull();
    // The tombstone stays until cleanup, as RxDB requires for replication.
    const raw = await db.contacts.storageInstance.findDocumentsById(['c000001'], true);
    expect(raw).toHaveLength(1);
    expect(raw[0]!._deleted).toBe(true);
    expect(await db.contacts.storageInstance.findDocumentsById(['c000001'], false)).toEqual([]);
    expect((await db.settings.findOne('theme').exec(true)).value).toBe('dark');
  });

  it('answers selector and sort queries like RxDB expects, indexed or not', async () => {
    const db = await openDb();
    const docs = Array.from({ length: 300 }, (_, i) => contact(i));
    await db.contacts.bulkInsert(docs);

    // Indexed equality on the compound [level, address] index, sorted by that index.
    const level2 = await db.contacts
      .find({ selector: { level: 2 }, sort: [{ level: 'asc' }, { address: 'asc' }] })
      .exec();
    const expected2 = docs
      .filter((d) => d.level === 2)
      .sort((a, b) =>
        a.address === b.address ? (a.id < b.id ? -1 : 1) : a.address < b.address ? -1 : 1,
      );
    expect(level2.map((d) => d.id)).toEqual(expected2.map((d) => d.id));

    // Range on an index with skip and limit.
    const range = await db.contacts
      .find({
        selector: { level: { $gte: 1, $lt: 3 } },
        sort: [{ level: 'asc' }, { id: 'asc' }],
        skip: 5,
        limit: 10,
      })
      .exec();
    const expectedRange = docs
      .filter((d) => d.level >= 1 && d.level < 3)
      .sort((a, b) => a.level - b.level || (a.id < b.id ? -1 : 1))
      .slice(5, 15);
    expect(range.map((d) => d.id)).toEqual(expectedRange.map((d) => d.id));

    // Not indexed: a regex and a descending sort on a non-indexed field.
    const rx = await db.contacts
      .find({
        selector: { address: { $regex: '^user1[0-9]@' }, verified: true },
        sort: [{ fingerprint: 'desc' }],
      })
      .exec();
    const expectedRx = docs
      .filter((d) => /^user1[0-9]@/.test(d.address) && d.verified)
      .sort((a, b) => (a.fingerprint < b.fingerprint ? 1 : -1));
    expect(rx.map((d) => d.id)).toEqual(expectedRx.map((d) => d.id));

    // Deleted documents disappear from queries and counts.
    await db.contacts.find({ selector: { level: 0 } }).remove();
    expect(await db.contacts.count({ selector: { level: 0 } }).exec()).toBe(0);
    expect(await db.contacts.count().exec()).toBe(docs.filter((d) => d.level !== 0).length);
    expect(await db.contacts.count({ selector: { verified: true } }).exec()).toBe(
      docs.filter((d) => d.level !== 0 && d.verified).length,
    );
  });

  it('reports a count that needs a scan as slow, so RxDB refuses it unless allowed', async () => {
    const storage = getRxStorageSqlite({ database: sqlite });
    const db = await createRxDatabase<Collections>({
      name: 'strict',
      storage,
      multiInstance: false,
    });
    opened.push(db);
    await db.addCollections({ contacts: { schema: contactSchema } } as never);
    await db.contacts.bulkInsert([contact(1), contact(2), contact(3)]);
    expect(await db.contacts.count({ selector: { level: 2 } }).exec()).toBe(1);
    await expect(db.contacts.count({ selector: { verified: true } }).exec()).rejects.toThrow();
  });

  it('rejects a write based on a stale revision with a 409 carrying the stored document', async () => {
    const db = await openDb();
    await db.contacts.insert(contact(7));
    const instance = db.contacts.storageInstance
      .originalStorageInstance as unknown as RxStorageInstance<ContactDoc, unknown, unknown>;
    const [current] = await instance.findDocumentsById(['c000007'], true);
    const next = (level: number): RxDocumentData<ContactDoc> => ({
      ...current!,
      level,
      _rev: createRevision('devicex', current),
      _meta: { lwt: now() },
    });

    // Two writers start from the same revision at the same time: exactly one wins.
    const [a, b] = await Promise.all([
      instance.bulkWrite([{ previous: current, document: next(1) }], 'test-a'),
      instance.bulkWrite([{ previous: current, document: next(2) }], 'test-b'),
    ]);
    const errors = [...a.error, ...b.error];
    expect(errors).toHaveLength(1);
    expect(errors[0]!.status).toBe(409);
    expect(errors[0]!.documentId).toBe('c000007');
    const [stored] = await instance.findDocumentsById(['c000007'], true);
    expect((errors[0] as { documentInDb: RxDocumentData<ContactDoc> }).documentInDb._rev).toBe(
      stored!._rev,
    );
    expect(stored!.level).toBe(a.error.length === 0 ? 1 : 2);

    // Inserting over an existing document without a previous state is a conflict too.
    const insertAgain = await instance.bulkWrite([{ document: next(3) }], 'test-c');
    expect(insertAgain.error[0]?.status).toBe(409);

    // Through RxDB, a stale document object is refreshed and retried, not lost.
    const stale = await db.contacts.findOne('c000007').exec(true);
    await (await db.contacts.findOne('c000007').exec(true)).incrementalPatch({ note: 'first' });
    await stale.incrementalModify((d) => ({ ...d, verified: true }));
    const final = await db.contacts.findOne('c000007').exec(true);
    expect(final.note).toBe('first');
    expect(final.verified).toBe(true);
  });

  it('pages through changes with checkpoints, deletes included', async () => {
    const db = await openDb();
    const instance = db.contacts.storageInstance;
    await db.contacts.bulkInsert(Array.from({ length: 25 }, (_, i) => contact(i)));
    await (await db.contacts.findOne('c000003').exec(true)).remove();
    await (await db.contacts.findOne('c000004').exec(true)).incrementalPatch({ level: 4 });

    const seen: RxDocumentData<ContactDoc>[] = [];
    let checkpoint: unknown = undefined;
    for (let page = 0; page < 10; page++) {
      const res = await instance.getChangedDocumentsSince!(10, checkpoint);
      seen.push(...res.documents);
      checkpoint = res.checkpoint;
      if (res.documents.length < 10) break;
    }
    expect(seen.map((d) => d.id).sort()).toEqual(
      Array.from({ length: 25 }, (_, i) => contact(i).id),
    );
    // The last changes come last, in write order.
    expect(seen.slice(-2).map((d) => d.id)).toEqual(['c000003', 'c000004']);
    expect(seen.find((d) => d.id === 'c000003')!._deleted).toBe(true);

    // Nothing after the final checkpoint, until the next write.
    expect((await instance.getChangedDocumentsSince!(10, checkpoint)).documents).toEqual([]);
    await db.settings.insert({ key: 'unrelated', value: 'x' });
    await (await db.contacts.findOne('c000010').exec(true)).incrementalPatch({ note: 'later' });
    const after = await instance.getChangedDocumentsSince!(10, checkpoint);
    expect(after.documents.map((d) => d.id)).toEqual(['c000010']);
  });

  it('pages through documents written at the same instant without losing or repeating one', async () => {
    const db = await openDb();
    const instance = db.settings.storageInstance;
    const lwt = now();
    const rows = Array.from({ length: 10 }, (_, i) => ({
      document: {
        key: `same${9 - i}`,
        value: String(i),
        _deleted: false,
        _attachments: {},
        _rev: createRevision('devicex'),
        _meta: { lwt },
      },
    }));
    expect((await instance.bulkWrite(rows, 'same-time')).error).toEqual([]);
    const seen: string[] = [];
    let checkpoint: unknown = undefined;
    for (let page = 0; page < 10; page++) {
      const res = await instance.getChangedDocumentsSince!(3, checkpoint);
      seen.push(...res.documents.map((d) => d.key));
      checkpoint = res.checkpoint;
      if (res.documents.length < 3) break;
    }
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `same${i}`));
  });

  it('emits change events for inserts, updates and deletes with a usable checkpoint', async () => {
    const db = await openDb();
    const events: { op: string; id: string }[] = [];
    const sub = db.contacts.$.subscribe((ev) =>
      events.push({ op: ev.operation, id: ev.documentId }),
    );
    const bulks: unknown[] = [];
    const rawSub = db.contacts.storageInstance
      .changeStream()
      .subscribe((b) => bulks.push(b.checkpoint));

    await db.contacts.insert(contact(1));
    await (await db.contacts.findOne('c000001').exec(true)).incrementalPatch({ level: 3 });
    await (await db.contacts.findOne('c000001').exec(true)).remove();
    sub.unsubscribe();
    rawSub.unsubscribe();

    expect(events).toEqual([
      { op: 'INSERT', id: 'c000001' },
      { op: 'UPDATE', id: 'c000001' },
      { op: 'DELETE', id: 'c000001' },
    ]);
    // The checkpoint of the event before the delete yields exactly the delete.
    const since = await db.contacts.storageInstance.getChangedDocumentsSince!(10, bulks[1]);
    expect(since.documents.map((d) => [d.id, d._deleted])).toEqual([['c000001', true]]);
  });

  it('keeps everything across a restart from the same encrypted file, and only with the key', async () => {
    let db = await openDb();
    await db.contacts.bulkInsert([contact(1), contact(2)]);
    await (await db.contacts.findOne('c000002').exec(true)).incrementalPatch({ note: 'kept' });
    await (await db.contacts.findOne('c000001').exec(true)).remove();
    await db.settings.insert({ key: 'lang', value: 'de' });
    await closeDb(db);
    sqlite.close();

    expect(() => openEncrypted(file(), randomDbKey())).toThrow();

    sqlite = openEncrypted(file(), key);
    db = await openDb();
    expect((await db.contacts.find().exec()).map((d) => d.toJSON())).toEqual([
      { ...contact(2), note: 'kept' },
    ]);
    expect((await db.settings.findOne('lang').exec(true)).value).toBe('de');
    // Updating after the restart continues from the stored revision.
    await (await db.contacts.findOne('c000002').exec(true)).incrementalPatch({ level: 1 });
    expect((await db.contacts.findOne('c000002').exec(true)).level).toBe(1);
  });

  it('never writes document content in the clear to disk', async () => {
    const db = await openDb();
    const marker = 'MARKER-rxdb-plaintext-7f3a';
    await db.contacts.insert(contact(5, { note: marker }));
    await closeDb(db);
    sqlite.close();
    for (const name of readdirSync(tmp.dir)) {
      expect(readFileSync(join(tmp.dir, name)).includes(marker), name).toBe(false);
    }
    sqlite = openEncrypted(file(), key);
  });

  it('purges tombstones on cleanup and leaves live documents alone', async () => {
    const db = await openDb();
    await db.contacts.bulkInsert([contact(1), contact(2), contact(3)]);
    await db.contacts.find({ selector: { id: { $in: ['c000001', 'c000002'] } } }).remove();
    const table = db.contacts.storageInstance.internals as { table: string };
    const rows = () => sqlite.prepare(`SELECT id, deleted FROM "${table.table}" ORDER BY id`).all();
    expect(rows()).toHaveLength(3);

    // A tombstone younger than the minimum age stays.
    await db.contacts.storageInstance.cleanup(60_000);
    expect(rows()).toHaveLength(3);
    await db.contacts.cleanup(0);
    expect(rows()).toEqual([{ id: 'c000003', deleted: 0 }]);
  });

  it('keeps collections of two databases sharing one file apart, and removes only its own', async () => {
    const db = await openDb();
    await db.contacts.insert(contact(1));
    const other = await createRxDatabase<Collections>({
      name: 'other-account',
      storage: getRxStorageSqlite({ database: sqlite, tablePrefix: 'rx_' }),
      multiInstance: false,
    });
    opened.push(other);
    await other.addCollections({ contacts: { schema: contactSchema } } as never);
    expect(await other.contacts.count().exec()).toBe(0);
    await other.contacts.insert(contact(2));
    await other.remove();
    opened = opened.filter((d) => d !== other);
    expect((await db.contacts.find().exec()).map((d) => d.id)).toEqual(['c000001']);
  });

  it('refuses a table prefix that could break out of an SQL identifier', () => {
    expect(() =>
      getRxStorageSqlite({ database: sqlite, tablePrefix: 'x"; DROP TABLE y; --' }),
    ).toThrow(/table prefix/);
  });

  it('refuses to work after close with a clear error', async () => {
    const storage = getRxStorageSqlite({ database: sqlite });
    const instance = await storage.createStorageInstance<SettingDoc>({
      databaseInstanceToken: 'tok',
      databaseName: 'direct',
      collectionName: 'settings',
      schema: fillWithDefaultSettings(settingSchema),
      options: {},
      multiInstance: false,
      devMode: false,
    });
    await instance.close();
    await expect(instance.findDocumentsById(['a'], false)).rejects.toThrow(/already closed/);
  });
});

describe('query results match RxDB memory storage', () => {
  it('for random selectors, sorts, skips and limits', async () => {
    const sqliteDb = await openDb();
    const memoryDb = await createRxDatabase<Collections>({
      name: 'oracle',
      storage: getRxStorageMemory(),
      multiInstance: false,
      allowSlowCount: true,
    });
    opened.push(memoryDb);
    await memoryDb.addCollections({ contacts: { schema: contactSchema } } as never);
    // Some addresses start beyond U+FFFF or in the private-use area, where UTF-8 and UTF-16
    // order disagree.
    const unusual = ['\u{1F600}', '\uE000', '\uFFFD', ''];
    const docs = Array.from({ length: 400 }, (_, i) => {
      const c = contact(i, { level: (i * 37) % 5 });
      return { ...c, address: `${unusual[i % 4]}${c.address}` };
    });
    await sqliteDb.contacts.bulkInsert(docs);
    await memoryDb.contacts.bulkInsert(docs);
    // Some deletes, so tombstones sit in every index range.
    const gone = {
      selector: { id: { $in: docs.filter((_, i) => i % 11 === 0).map((d) => d.id) } },
    };
    await sqliteDb.contacts.find(gone).remove();
    await memoryDb.contacts.find(gone).remove();

    const levelCond = fc.oneof(
      fc.integer({ min: 0, max: 4 }),
      fc.record({ $gte: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ $gt: fc.integer({ min: 0, max: 4 }), $lte: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ $in: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) }),
    );
    const addressCond = fc.oneof(
      fc.integer({ min: 0, max: 96 }).map((n) => `user${n}@example.org`),
      fc.record({ $gt: fc.integer({ min: 0, max: 96 }).map((n) => `user${n}`) }),
      fc.record({ $lt: fc.constantFrom('\uE000', '\uFFFD', '\u{1F600}z', 'v') }),
      fc.record({ $regex: fc.constantFrom('^user1', '9@', 'example') }),
    );
    const query = fc.record(
      {
        selector: fc.record(
          { level: levelCond, address: addressCond, verified: fc.boolean() },
          { requiredKeys: [] },
        ),
        sort: fc.constantFrom(
          [{ level: 'asc' as const }, { address: 'asc' as const }],
          [{ address: 'asc' as const }],
          [{ level: 'desc' as const }, { id: 'asc' as const }],
          [{ fingerprint: 'asc' as const }],
        ),
        skip: fc.integer({ min: 0, max: 20 }),
        limit: fc.integer({ min: 1, max: 60 }),
      },
      { requiredKeys: ['selector', 'sort'] },
    );
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const mango = q as unknown as MangoQuery<ContactDoc>;
        const got = (await sqliteDb.contacts.find(mango).exec()).map((d) => d.id);
        const want = (await memoryDb.contacts.find(mango).exec()).map((d) => d.id);
        expect(got).toEqual(want);
        const countQuery = { selector: mango.selector };
        expect(await sqliteDb.contacts.count(countQuery).exec()).toBe(
          await memoryDb.contacts.count(countQuery).exec(),
        );
      }),
      { numRuns: 150 },
    );
  });
});

describe('attachments', () => {
  it('are stored, read back after a reopen, replaced and removed with their document', async () => {
    addRxPlugin(RxDBAttachmentsPlugin);
    const open = async () => {
      const db = await createRxDatabase<{ files: RxCollection<SettingDoc> }>({
        name: 'files',
        storage: getRxStorageSqlite({ database: sqlite }),
        multiInstance: false,
      });
      await db.addCollections({ files: { schema: { ...settingSchema, attachments: {} } } });
      return db;
    };
    let db = await open();
    const doc = await db.files.insert({ key: 'k', value: 'v' });
    await doc.putAttachment({
      id: 'a.txt',
      data: new Blob(['hello attachment']),
      type: 'text/plain',
    });
    await db.close();

    db = await open();
    const again = await db.files.findOne('k').exec(true);
    const att = again.getAttachment('a.txt')!;
    expect(await (await att.getData()).text()).toBe('hello attachment');
    await again
      .getLatest()
      .putAttachment({ id: 'a.txt', data: new Blob(['second']), type: 'text/plain' });
    expect(
      await (
        await db.files
          .findOne('k')
          .exec(true)
          .then((d) => d.getAttachment('a.txt')!.getData())
      ).text(),
    ).toBe('second');
    await (await db.files.findOne('k').exec(true)).remove();
    const table = (db.files.storageInstance.internals as { table: string }).table;
    expect(sqlite.prepare(`SELECT count(*) AS n FROM "${table}__att"`).get()).toEqual({ n: 0 });
    await db.close();
  });
});

describe('the open-source limit of 13 open collections', () => {
  it('is reported as a clear error, and closing a database frees its collections', async () => {
    const keys = new SyncKeys(randomBytes(32));
    const open = (name: string) =>
      createSyncedDatabase<{ a: SettingDoc; b: SettingDoc; c: SettingDoc }>({
        database: sqlite,
        name,
        keys,
        collections: {
          a: { schema: settingSchema },
          b: { schema: settingSchema },
          c: { schema: settingSchema },
        },
      });
    const dbs = [];
    for (let i = 0; i < 4; i++) dbs.push(await open(`acct${i}`));
    await expect(open('acct4')).rejects.toMatchObject({ code: 'too_many_collections' });
    await dbs.pop()!.close();
    const fifth = await open('acct4');
    expect(Object.keys(fifth.collections).sort()).toEqual(['a', 'b', 'c']);
    for (const db of [...dbs, fifth]) await db.close();
  });
});

describe('index order for text beyond the Basic Multilingual Plane', () => {
  it('matches RxDB (JavaScript string order), emoji and private-use characters included', async () => {
    const sqliteDb = await openDb();
    const memoryDb = await createRxDatabase<Collections>({
      name: 'oracle-unicode',
      storage: getRxStorageMemory(),
      multiInstance: false,
    });
    opened.push(memoryDb);
    await memoryDb.addCollections({ contacts: { schema: contactSchema } } as never);
    const names = ['a', 'z', '\u{1F600}x', '\uFFFDy', '\uE000w', '\u00E9v', '\u{10400}u', 'Zed'];
    const docs = names.map((n, i) => contact(i, { address: `${n}@example.org`, level: 2 }));
    await sqliteDb.contacts.bulkInsert(docs);
    await memoryDb.contacts.bulkInsert(docs);
    const queries: MangoQuery<ContactDoc>[] = [
      { selector: { level: 2 }, sort: [{ level: 'asc' }, { address: 'asc' }] },
      { selector: { address: { $gt: '\uE000' } }, sort: [{ address: 'asc' }] },
      { selector: { address: { $lt: '\uFFFD' } }, sort: [{ address: 'asc' }] },
    ];
    for (const q of queries) {
      const got = (await sqliteDb.contacts.find(q).exec()).map((d) => d.address);
      const want = (await memoryDb.contacts.find(q).exec()).map((d) => d.address);
      expect(got).toEqual(want);
    }
  });
});
