/**
 * An RxStorage over SQLite (better-sqlite3-multiple-ciphers), so RxDB documents live inside
 * the account's SQLCipher database instead of RxDB's non-persistent Node storages.
 *
 * One table per RxDB storage instance (database, collection, schema version). Each row keeps
 * the document JSON plus one column per RxDB index holding RxDB's own "indexable string" for
 * that index (as a BLOB that sorts like a JavaScript string), with a B-tree index on it: a
 * query plan's [startKeys, endKeys] range then becomes a range scan on that column, and the
 * ordering SQLite returns is the ordering RxDB's query planner assumed. Whatever the index does not satisfy is finished with RxDB's
 * query matcher and sort comparator.
 *
 * better-sqlite3 is synchronous, so every bulkWrite reads the current revisions and writes in
 * one SQLite transaction without yielding: no other write can slip in between the conflict
 * check and the write.
 */
import type { Database, Statement } from 'better-sqlite3-multiple-ciphers';
import { Blob } from 'node:buffer';
import { Subject, type Observable } from 'rxjs';
import {
  categorizeBulkWriteRows,
  ensureRxStorageInstanceParamsAreCorrect,
  getIndexableStringMonad,
  getPrimaryFieldOfPrimaryKey,
  getQueryMatcher,
  getSortComparator,
  getStartIndexStringFromLowerBound,
  getStartIndexStringFromUpperBound,
  now,
  RXDB_VERSION,
  type BulkWriteRow,
  type EventBulk,
  type PreparedQuery,
  type RxDocumentData,
  type RxJsonSchema,
  type RxStorage,
  type RxStorageBulkWriteResponse,
  type RxStorageChangeEvent,
  type RxStorageCountResult,
  type RxStorageDefaultCheckpoint,
  type RxStorageInstance,
  type RxStorageInstanceCreationParams,
  type RxStorageQueryResult,
  type StringKeys,
} from 'rxdb';
import { RxdbStoreError } from './errors.js';

export const SQLITE_RX_STORAGE_NAME = 'leapbird-sqlite';

export interface SqliteRxStorageSettings {
  /** An open (and, for real accounts, keyed) better-sqlite3 database; the caller owns it. */
  database: Database;
  /** Prepended to every table this storage creates, so it can share a database. */
  tablePrefix?: string;
}

export interface SqliteStorageInternals {
  database: Database;
  table: string;
}

/** Per-instance options; there are none yet, RxDB requires the type. */
export type SqliteInstanceCreationOptions = Record<string, never>;

export type SqliteRxStorage = RxStorage<SqliteStorageInternals, SqliteInstanceCreationOptions>;

type DocRow = { json: string };

interface IndexColumn {
  column: string;
  fields: string[];
  toIndexString: (doc: RxDocumentData<unknown>) => string;
}

const PREFIX_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/;

export function getRxStorageSqlite(settings: SqliteRxStorageSettings): SqliteRxStorage {
  const prefix = settings.tablePrefix ?? 'rx_';
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new RxdbStoreError(
      'invalid_params',
      `The table prefix "${prefix}" must be letters, digits and underscores, starting with a letter or underscore.`,
    );
  }
  return {
    name: SQLITE_RX_STORAGE_NAME,
    rxdbVersion: RXDB_VERSION,
    async createStorageInstance<RxDocType>(
      params: RxStorageInstanceCreationParams<RxDocType, SqliteInstanceCreationOptions>,
    ) {
      ensureRxStorageInstanceParamsAreCorrect(params);
      return new SqliteStorageInstance<RxDocType>(settings.database, prefix, params);
    },
  };
}

/**
 * SQL identifiers are built from RxDB names; anything outside [a-z0-9] is hex-escaped so two
 * different names can never map to the same table.
 */
function escapeName(name: string): string {
  return name.replace(/[^a-z0-9]/g, (c) => `_${c.codePointAt(0)!.toString(16)}_`);
}

function tableNameFor(
  prefix: string,
  databaseName: string,
  collectionName: string,
  version: number,
): string {
  return `${prefix}${escapeName(databaseName)}__${escapeName(collectionName)}__v${version}`;
}

class SqliteStorageInstance<RxDocType> implements RxStorageInstance<
  RxDocType,
  SqliteStorageInternals,
  SqliteInstanceCreationOptions,
  RxStorageDefaultCheckpoint
> {
  readonly databaseName: string;
  readonly collectionName: string;
  readonly schema: Readonly<RxJsonSchema<RxDocumentData<RxDocType>>>;
  readonly options: Readonly<SqliteInstanceCreationOptions>;
  readonly internals: Readonly<SqliteStorageInternals>;

  private readonly db: Database;
  private readonly table: string;
  private readonly attachmentTable: string | undefined;
  private readonly primaryPath: StringKeys<RxDocType>;
  private readonly indexColumns: IndexColumn[];
  private readonly changes$ = new Subject<
    EventBulk<RxStorageChangeEvent<RxDocType>, RxStorageDefaultCheckpoint>
  >();
  private closed = false;

  private readonly upsertStmt: Statement;
  private readonly statements = new Map<string, Statement<unknown[], unknown>>();
  private readonly changesStmt: Statement<unknown[], DocRow>;
  private readonly writeBatch: (
    rows: { id: string; doc: RxDocumentData<RxDocType> }[],
    attachments: AttachmentChanges,
  ) => void;

  constructor(
    db: Database,
    prefix: string,
    params: RxStorageInstanceCreationParams<RxDocType, SqliteInstanceCreationOptions>,
  ) {
    this.db = db;
    this.databaseName = params.databaseName;
    this.collectionName = params.collectionName;
    this.schema = params.schema;
    this.options = params.options;
    this.primaryPath = getPrimaryFieldOfPrimaryKey(
      params.schema.primaryKey,
    ) as StringKeys<RxDocType>;
    this.table = tableNameFor(
      prefix,
      params.databaseName,
      params.collectionName,
      params.schema.version,
    );
    this.attachmentTable = params.schema.attachments ? `${this.table}__att` : undefined;
    this.internals = { database: db, table: this.table };

    this.indexColumns = (params.schema.indexes ?? []).map((index, i) => {
      const fields = (Array.isArray(index) ? index : [index]) as string[];
      return {
        column: `ix${i}`,
        fields,
        toIndexString: getIndexableStringMonad(
          params.schema,
          fields,
        ) as IndexColumn['toIndexString'],
      };
    });

    const t = this.quotedTable;
    const ixDefs = this.indexColumns.map((c) => `, ${c.column} BLOB NOT NULL`).join('');
    db.exec(
      `CREATE TABLE IF NOT EXISTS ${t} (id TEXT PRIMARY KEY NOT NULL, json TEXT NOT NULL,` +
        ` deleted INTEGER NOT NULL, lwt REAL NOT NULL${ixDefs})`,
    );
    db.exec(`CREATE INDEX IF NOT EXISTS "${this.table}__lwt" ON ${t} (lwt, id)`);
    db.exec(`CREATE INDEX IF NOT EXISTS "${this.table}__del" ON ${t} (deleted, lwt)`);
    for (const c of this.indexColumns) {
      db.exec(`CREATE INDEX IF NOT EXISTS "${this.table}__${c.column}" ON ${t} (${c.column})`);
    }
    if (this.attachmentTable) {
      db.exec(
        `CREATE TABLE IF NOT EXISTS "${this.attachmentTable}" (doc_id TEXT NOT NULL,` +
          ` att_id TEXT NOT NULL, digest TEXT NOT NULL, data BLOB NOT NULL,` +
          ` PRIMARY KEY (doc_id, att_id))`,
      );
    }

    const cols = ['id', 'json', 'deleted', 'lwt', ...this.indexColumns.map((c) => c.column)];
    this.upsertStmt = db.prepare(
      `INSERT OR REPLACE INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
    );
    this.changesStmt = db.prepare(
      `SELECT json FROM ${t} WHERE lwt > ? OR (lwt = ? AND id > ?) ORDER BY lwt, id LIMIT ?`,
    );
    const putAttachment = this.attachmentTable
      ? db.prepare(`INSERT OR REPLACE INTO "${this.attachmentTable}" VALUES (?, ?, ?, ?)`)
      : undefined;
    const deleteAttachment = this.attachmentTable
      ? db.prepare(`DELETE FROM "${this.attachmentTable}" WHERE doc_id = ? AND att_id = ?`)
      : undefined;
    this.writeBatch = db.transaction((rows, attachments) => {
      for (const { id, doc } of rows) {
        this.upsertStmt.run(
          id,
          JSON.stringify(doc),
          doc._deleted ? 1 : 0,
          doc._meta.lwt,
          ...this.indexColumns.map((c) => sortKey(c.toIndexString(doc))),
        );
      }
      for (const a of attachments.put)
        putAttachment!.run(a.documentId, a.attachmentId, a.digest, a.data);
      for (const a of attachments.remove) deleteAttachment!.run(a.documentId, a.attachmentId);
    });
  }

  private get quotedTable(): string {
    return `"${this.table}"`;
  }

  private ensureOpen(): void {
    if (this.closed) {
      throw new RxdbStoreError(
        'closed',
        `The local document store "${this.collectionName}" was already closed.`,
      );
    }
  }

  async bulkWrite(
    documentWrites: BulkWriteRow<RxDocType>[],
    context: string,
  ): Promise<RxStorageBulkWriteResponse<RxDocType>> {
    this.ensureOpen();
    // Attachment bodies arrive as Blobs, which can only be read asynchronously; read them all
    // first so the conflict check and the write below run without yielding.
    const attachmentBytes = this.attachmentTable
      ? await readAttachmentBodies(documentWrites)
      : new Map<Blob, Buffer>();
    this.ensureOpen();

    const ids = documentWrites.map((row) => row.document[this.primaryPath] as unknown as string);
    const inDb = new Map<string, RxDocumentData<RxDocType>>();
    for (const doc of this.readByIds(ids)) inDb.set(doc[this.primaryPath] as string, doc);

    const categorized = categorizeBulkWriteRows<RxDocType>(
      this,
      this.primaryPath,
      inDb,
      documentWrites,
      context,
    );
    const written = [...categorized.bulkInsertDocs, ...categorized.bulkUpdateDocs].map((row) => ({
      id: row.document[this.primaryPath] as unknown as string,
      doc: row.document,
    }));
    const put = [...categorized.attachmentsAdd, ...categorized.attachmentsUpdate].map((a) => ({
      documentId: a.documentId,
      attachmentId: a.attachmentId,
      digest: a.digest,
      data: attachmentBytes.get(a.attachmentData.data as Blob)!,
    }));
    this.writeBatch(written, { put, remove: categorized.attachmentsRemove });

    if (categorized.eventBulk.events.length > 0 && categorized.newestRow) {
      const newest = categorized.newestRow.document;
      categorized.eventBulk.checkpoint = {
        id: newest[this.primaryPath] as unknown as string,
        lwt: newest._meta.lwt,
      };
      this.changes$.next(categorized.eventBulk);
    }
    return { error: categorized.errors };
  }

  private readByIds(ids: string[]): RxDocumentData<RxDocType>[] {
    const out: RxDocumentData<RxDocType>[] = [];
    // SQLite limits bound parameters per statement; 500 stays well under every build's limit.
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      for (const r of this.byIdsStatement(chunk.length).all(...chunk)) {
        out.push(JSON.parse(r.json) as RxDocumentData<RxDocType>);
      }
    }
    return out;
  }

  private byIdsStatement(n: number): Statement<unknown[], DocRow> {
    const marks = new Array<string>(n).fill('?').join(',');
    return this.statement(`SELECT json FROM ${this.quotedTable} WHERE id IN (${marks})`);
  }

  /** Prepared statements by SQL text; queries repeat, and preparing costs more than running. */
  private statement<R = DocRow>(sql: string): Statement<unknown[], R> {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt as Statement<unknown[], R>;
  }

  async findDocumentsById(
    ids: string[],
    withDeleted: boolean,
  ): Promise<RxDocumentData<RxDocType>[]> {
    this.ensureOpen();
    const docs = this.readByIds(ids);
    return withDeleted ? docs : docs.filter((d) => !d._deleted);
  }

  async query(preparedQuery: PreparedQuery<RxDocType>): Promise<RxStorageQueryResult<RxDocType>> {
    this.ensureOpen();
    return { documents: this.runQuery(preparedQuery) };
  }

  private runQuery(prepared: PreparedQuery<RxDocType>): RxDocumentData<RxDocType>[] {
    const { query, queryPlan } = prepared;
    const skip = query.skip ?? 0;
    const limit = typeof query.limit === 'number' ? query.limit : Infinity;
    const indexed = this.indexRange(prepared);
    const matcher =
      queryPlan.selectorSatisfiedByIndex && indexed
        ? undefined
        : getQueryMatcher(this.schema, query);
    const mustSort = !(queryPlan.sortSatisfiedByIndex && indexed);

    const scan = indexed
      ? `SELECT json FROM ${this.quotedTable} WHERE ${indexed.where} ORDER BY ${indexed.column}`
      : `SELECT json FROM ${this.quotedTable}`;
    const params = indexed ? indexed.params : [];
    if (!matcher && !mustSort) {
      // Fully answered by the index: let SQLite skip and limit too.
      return this.statement(`${scan} LIMIT ? OFFSET ?`)
        .all(...params, Number.isFinite(limit) ? limit : -1, skip)
        .map((r) => JSON.parse(r.json) as RxDocumentData<RxDocType>);
    }

    const stmt = this.statement(scan);
    const found: RxDocumentData<RxDocType>[] = [];
    for (const row of stmt.iterate(...params)) {
      const doc = JSON.parse(row.json) as RxDocumentData<RxDocType>;
      if (matcher && !matcher(doc)) continue;
      found.push(doc);
      // Rows arrive in the requested order, so stop reading as soon as the page is full.
      if (!mustSort && found.length >= skip + limit) break;
    }
    if (mustSort) found.sort(getSortComparator(this.schema, query));
    return found.slice(skip, skip + limit);
  }

  /** The SQL range scan for the query plan's index, or undefined if no column backs it. */
  private indexRange(
    prepared: PreparedQuery<RxDocType>,
  ): { where: string; column: string; params: Buffer[] } | undefined {
    const plan = prepared.queryPlan;
    const key = plan.index.join(',');
    const col = this.indexColumns.find((c) => c.fields.join(',') === key);
    if (!col) return undefined;
    const lower = getStartIndexStringFromLowerBound(this.schema, plan.index, plan.startKeys);
    const upper = getStartIndexStringFromUpperBound(this.schema, plan.index, plan.endKeys);
    const ge = plan.inclusiveStart ? '>=' : '>';
    const le = plan.inclusiveEnd ? '<=' : '<';
    return {
      where: `${col.column} ${ge} ? AND ${col.column} ${le} ?`,
      column: col.column,
      params: [sortKey(lower), sortKey(upper)],
    };
  }

  async count(preparedQuery: PreparedQuery<RxDocType>): Promise<RxStorageCountResult> {
    this.ensureOpen();
    const indexed = this.indexRange(preparedQuery);
    const { skip = 0, limit } = preparedQuery.query;
    if (indexed && preparedQuery.queryPlan.selectorSatisfiedByIndex) {
      const { n } = this.statement<{ n: number }>(
        `SELECT COUNT(*) AS n FROM ${this.quotedTable} WHERE ${indexed.where}`,
      ).get(...indexed.params)!;
      const afterSkip = Math.max(0, n - skip);
      return {
        count: typeof limit === 'number' ? Math.min(afterSkip, limit) : afterSkip,
        mode: 'fast',
      };
    }
    // Counting needs every candidate parsed and matched: RxDB calls that "slow" and refuses it
    // unless the database allows slow counts.
    return { count: this.runQuery(preparedQuery).length, mode: 'slow' };
  }

  async getChangedDocumentsSince(
    limit: number,
    checkpoint?: RxStorageDefaultCheckpoint,
  ): Promise<{ documents: RxDocumentData<RxDocType>[]; checkpoint: RxStorageDefaultCheckpoint }> {
    this.ensureOpen();
    const lwt = checkpoint ? checkpoint.lwt : -1;
    const id = checkpoint ? checkpoint.id : '';
    const documents = this.changesStmt
      .all(lwt, lwt, id, limit)
      .map((r) => JSON.parse(r.json) as RxDocumentData<RxDocType>);
    const last = documents[documents.length - 1];
    return {
      documents,
      checkpoint: last
        ? { id: last[this.primaryPath] as unknown as string, lwt: last._meta.lwt }
        : (checkpoint ?? { id: '', lwt: 0 }),
    };
  }

  changeStream(): Observable<
    EventBulk<RxStorageChangeEvent<RxDocType>, RxStorageDefaultCheckpoint>
  > {
    this.ensureOpen();
    return this.changes$.asObservable();
  }

  async cleanup(minimumDeletedTime: number): Promise<boolean> {
    this.ensureOpen();
    const before = now() - minimumDeletedTime;
    this.db.transaction(() => {
      if (this.attachmentTable) {
        this.db
          .prepare(
            `DELETE FROM "${this.attachmentTable}" WHERE doc_id IN` +
              ` (SELECT id FROM ${this.quotedTable} WHERE deleted = 1 AND lwt <= ?)`,
          )
          .run(before);
      }
      this.db.prepare(`DELETE FROM ${this.quotedTable} WHERE deleted = 1 AND lwt <= ?`).run(before);
    })();
    return true;
  }

  async getAttachmentData(documentId: string, attachmentId: string, digest: string): Promise<Blob> {
    this.ensureOpen();
    const row = this.attachmentTable
      ? this.db
          .prepare<unknown[], { data: Buffer; digest: string }>(
            `SELECT data, digest FROM "${this.attachmentTable}" WHERE doc_id = ? AND att_id = ?`,
          )
          .get(documentId, attachmentId)
      : undefined;
    if (!row || row.digest !== digest) {
      throw new RxdbStoreError(
        'not_found',
        `Attachment "${attachmentId}" of document "${documentId}" does not exist in this version.`,
      );
    }
    return new Blob([row.data]);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.changes$.complete();
    }
    return Promise.resolve();
  }

  async remove(): Promise<void> {
    this.ensureOpen();
    this.db.exec(`DROP TABLE IF EXISTS ${this.quotedTable}`);
    if (this.attachmentTable) this.db.exec(`DROP TABLE IF EXISTS "${this.attachmentTable}"`);
    await this.close();
  }
}

/**
 * RxDB compares index strings as JavaScript does, by UTF-16 code unit; SQLite compares TEXT by
 * UTF-8 bytes, which orders characters beyond U+FFFF differently (an emoji would fall outside
 * a range ending in RxDB's U+FFFF "maximum"). Big-endian UTF-16 bytes compared with memcmp
 * give exactly JavaScript's order.
 */
function sortKey(indexString: string): Buffer {
  return Buffer.from(indexString, 'utf16le').swap16();
}

interface AttachmentChanges {
  put: { documentId: string; attachmentId: string; digest: string; data: Buffer }[];
  remove: { documentId: string; attachmentId: string }[];
}

async function readAttachmentBodies<T>(rows: BulkWriteRow<T>[]): Promise<Map<Blob, Buffer>> {
  const out = new Map<Blob, Buffer>();
  for (const row of rows) {
    for (const att of Object.values(row.document._attachments ?? {})) {
      const data = (att as { data?: Blob }).data;
      if (data && !out.has(data)) out.set(data, Buffer.from(await data.arrayBuffer()));
    }
  }
  return out;
}
