/**
 * Synced-document figures, each next to an anchor run in the same script:
 *
 * 1. Opening an encrypted account database holding 50,000 RxDB documents on the project's
 *    SQLite storage (open + count + an indexed query), against RxDB's memory storage, which
 *    has to be refilled with the 50,000 documents at every start because it does not persist.
 * 2. Replicating 10,000 documents through the reference provider (push from one device, pull
 *    into a fresh one), end-to-end encrypted, against the same documents replicated with the
 *    same client and provider in plaintext (JSON as "ciphertext", SHA-256 as hash).
 *
 *   npx tsx bench/rxdb-replication.ts [docs=50000] [replicated=10000]
 */
import https from 'node:https';
import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3-multiple-ciphers';
import { createRxDatabase, type RxCollection, type WithDeleted } from 'rxdb';
import { replicateRxCollection } from 'rxdb/plugins/replication';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  createSyncedDatabase,
  createSyncStoreClient,
  getRxStorageSqlite,
  replicateEncrypted,
  RevisionLedger,
  SyncKeys,
  type SyncCheckpoint,
  type SyncStoreClient,
} from '../native-host/src/store/rxdb/index.js';
import { newAccount, startTestProvider } from '../test/provider/helpers.js';
import { contactSchema, type ContactDoc } from '../test/rxdb/helpers/schemas.js';
import { openEncrypted, randomDbKey, tempDir } from '../test/rxdb/helpers/sqlite.js';

const DOCS = Number(process.argv[2] ?? 50_000);
const REPLICATED = Number(process.argv[3] ?? 10_000);
const BATCH = 500;

type Db = Awaited<ReturnType<typeof createRxDatabase<{ contacts: RxCollection<ContactDoc> }>>>;

function docs(n: number, tag: string): ContactDoc[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${tag}${String(i).padStart(6, '0')}`,
    address: `person${i}@example.org`,
    fingerprint: createHash('sha1').update(String(i)).digest('hex'),
    level: i % 5,
    verified: i % 2 === 0,
    note: `contact ${i} seen in 2026`,
  }));
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const out = await fn();
  return [performance.now() - t0, out];
}

async function openAndQuery(db: Db): Promise<void> {
  const n = await db.contacts.count().exec();
  if (n !== DOCS) throw new Error(`expected ${DOCS} documents, found ${n}`);
  const hit = await db.contacts
    .findOne({ selector: { address: `person${Math.floor(DOCS / 2)}@example.org` } })
    .exec();
  if (!hit) throw new Error('indexed query found nothing');
}

async function openBenchmark(dir: string): Promise<void> {
  const file = `${dir}/open.db`;
  const key = randomDbKey();
  const all = docs(DOCS, 'o');
  const create = async (sqlite: Database.Database, name: string) => {
    const db = await createRxDatabase<{ contacts: RxCollection<ContactDoc> }>({
      name,
      storage: getRxStorageSqlite({ database: sqlite }),
      multiInstance: false,
    });
    await db.addCollections({ contacts: { schema: contactSchema } });
    return db;
  };
  let sqlite = openEncrypted(file, key);
  const [insertMs] = await time(async () => {
    const db = await create(sqlite, 'open');
    await db.contacts.bulkInsert(all);
    await db.close();
  });
  sqlite.close();

  const [openMs] = await time(async () => {
    sqlite = openEncrypted(file, key);
    const db = await create(sqlite, 'open');
    await openAndQuery(db);
    await db.close();
  });
  sqlite.close();

  const [memoryMs] = await time(async () => {
    const db = await createRxDatabase<{ contacts: RxCollection<ContactDoc> }>({
      name: 'memory',
      storage: getRxStorageMemory(),
      multiInstance: false,
    });
    await db.addCollections({ contacts: { schema: contactSchema } });
    await db.contacts.bulkInsert(all);
    await openAndQuery(db);
    await db.remove();
  });

  console.log(`\n${DOCS} documents (encrypted SQLite file)`);
  console.log(`  first insert:                           ${insertMs.toFixed(0)} ms`);
  console.log(`  open + count + indexed query:           ${openMs.toFixed(0)} ms`);
  console.log(`  anchor, memory storage refill + same:   ${memoryMs.toFixed(0)} ms`);
  console.log(`  ratio open / anchor:                    ${(openMs / memoryMs).toFixed(3)}`);
}

/** The anchor: the same RxDB replication and sync store, documents sent in the clear. */
function replicatePlain(
  collection: RxCollection<ContactDoc>,
  client: SyncStoreClient,
  remote: string,
) {
  const toWire = (d: WithDeleted<ContactDoc>) => {
    const json = JSON.stringify(d);
    return {
      id: d.id,
      deleted: d._deleted,
      ciphertext: json,
      hash: createHash('sha256').update(json).digest('hex'),
    };
  };
  const fromWire = (w: { ciphertext: string }) =>
    JSON.parse(w.ciphertext) as WithDeleted<ContactDoc>;
  return replicateRxCollection<ContactDoc, SyncCheckpoint>({
    replicationIdentifier: `plain|${remote}`,
    collection,
    live: false,
    waitForLeadership: false,
    pull: {
      batchSize: BATCH,
      handler: async (cp, n) => {
        const res = await client.pull(remote, cp ?? null, n);
        return { documents: res.documents.map(fromWire), checkpoint: res.checkpoint ?? cp! };
      },
    },
    push: {
      batchSize: BATCH,
      handler: async (rows) =>
        (
          await client.push(
            remote,
            rows.map((r) => ({
              assumedMasterState: r.assumedMasterState ? toWire(r.assumedMasterState) : null,
              newDocumentState: toWire(r.newDocumentState),
            })),
          )
        ).map(fromWire),
    },
  });
}

async function replicationBenchmark(dir: string): Promise<void> {
  const provider = await startTestProvider('bench.test');
  try {
    const account = await newAccount(provider, 'bench');
    const client = createSyncStoreClient({
      baseUrl: `${provider.apiUrl}/1/sync`,
      token: () => account.token,
      agent: new https.Agent({ ca: provider.caCertPem, keepAlive: true }),
      servername: provider.domain,
    });
    const secret = randomBytes(64);
    const keys = new SyncKeys(secret);
    let deviceNo = 0;
    const device = async () => {
      const sqlite = openEncrypted(`${dir}/device${++deviceNo}.db`, randomDbKey());
      const db = await createSyncedDatabase<{ contacts: ContactDoc }>({
        database: sqlite,
        name: `device${deviceNo}`,
        keys,
        collections: { contacts: { schema: contactSchema } },
      });
      return { db, sqlite, ledger: new RevisionLedger(sqlite) };
    };

    const run = async (mode: 'encrypted' | 'plain', round: number) => {
      const remote = `bench-${mode}-${round}`;
      const start = (d: Awaited<ReturnType<typeof device>>) =>
        mode === 'encrypted'
          ? replicateEncrypted({
              collection: d.db.contacts,
              client,
              keys,
              ledger: d.ledger,
              remoteCollection: remote,
              remoteId: provider.domain,
              live: false,
              pushBatchSize: BATCH,
              pullBatchSize: BATCH,
            }).state
          : replicatePlain(d.db.contacts, client, remote);
      const from = await device();
      await from.db.contacts.bulkInsert(docs(REPLICATED, `${mode[0]!}${round}-`));
      const [pushMs] = await time(async () => {
        const state = start(from);
        await state.awaitInitialReplication();
        await state.cancel();
      });
      const to = await device();
      const [pullMs] = await time(async () => {
        const state = start(to);
        await state.awaitInitialReplication();
        await state.cancel();
      });
      const got = await to.db.contacts.count().exec();
      if (got !== REPLICATED) throw new Error(`${mode}: pulled ${got} of ${REPLICATED}`);
      for (const d of [from, to]) {
        await d.db.close();
        d.sqlite.close();
      }
      return { pushMs, pullMs };
    };

    // Alternating rounds, best of two, so a busy moment or a warm-up does not pick the winner.
    const rounds = {
      encrypted: [] as { pushMs: number; pullMs: number }[],
      plain: [] as { pushMs: number; pullMs: number }[],
    };
    for (let round = 0; round < 2; round++) {
      rounds.encrypted.push(await run('encrypted', round));
      rounds.plain.push(await run('plain', round));
    }
    const best = (rs: { pushMs: number; pullMs: number }[]) => ({
      pushMs: Math.min(...rs.map((r) => r.pushMs)),
      pullMs: Math.min(...rs.map((r) => r.pullMs)),
    });
    const enc = best(rounds.encrypted);
    const plain = best(rounds.plain);
    const rate = (ms: number) => ((REPLICATED / ms) * 1000).toFixed(0);
    console.log(
      `\nReplicating ${REPLICATED} documents through the reference provider (batches of ${BATCH}, best of 2)`,
    );
    console.log(`  push, encrypted:  ${enc.pushMs.toFixed(0)} ms = ${rate(enc.pushMs)} docs/s`);
    console.log(`  pull, encrypted:  ${enc.pullMs.toFixed(0)} ms = ${rate(enc.pullMs)} docs/s`);
    console.log(
      `  anchor push, plaintext: ${plain.pushMs.toFixed(0)} ms = ${rate(plain.pushMs)} docs/s`,
    );
    console.log(
      `  anchor pull, plaintext: ${plain.pullMs.toFixed(0)} ms = ${rate(plain.pullMs)} docs/s`,
    );
    console.log(
      `  ratio push encrypted / plaintext time: ${(enc.pushMs / plain.pushMs).toFixed(2)}`,
    );
    console.log(
      `  ratio pull encrypted / plaintext time: ${(enc.pullMs / plain.pullMs).toFixed(2)}`,
    );
  } finally {
    await provider.cleanup();
  }
}

const tmp = tempDir('bench');
try {
  await openBenchmark(tmp.dir);
  await replicationBenchmark(tmp.dir);
  console.log(`\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
} finally {
  tmp.remove();
}
