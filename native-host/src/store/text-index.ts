/**
 * The full-text index: an FTS5 table with the trigram tokenizer in the account's SQLCipher
 * database (so it is encrypted at rest with everything else), one document per stored
 * content (copies and moves share it, as they share the blob), keeping the folded texts of
 * search-text.ts. A trigram phrase query is a substring test, so for a needle of three
 * characters or more the index answers BODY, TEXT, SUBJECT, FROM, TO, CC and BCC exactly as
 * the IMAP server's evaluator would.
 *
 * Exactness: triggers on `contents` create a pending document row with every content and
 * drop the document with it, in the same transaction, so expunge, move and mailbox deletion
 * keep the index exact whatever path removes the content. The text is written in the
 * transaction that stores the message. Contents whose document is not written yet (older
 * stores, an index being rebuilt) or too big to index are "unsure": searches hand those to
 * the evaluator.
 */
import type { Migration, SqliteDatabase, Statement } from './database.js';
import { SEARCH_COLUMNS, type SearchDocument } from './search-text.js';

export const SEARCH_NAMESPACE = 'search';

/**
 * What the documents were made with. Bump it when search-text.ts, mime/text.ts or the
 * evaluator's header texts change what a message's text is: every document is then written
 * again (in the background), since an index that disagrees with the evaluator is wrong.
 */
export const SEARCH_TEXT_VERSION = 1;

/** Document states in search_docs. */
export const DOC_PENDING = 0;
export const DOC_INDEXED = 1;
/** Too much text to index: always evaluated from the message. */
export const DOC_TOO_BIG = 2;

export const SEARCH_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'full-text index (FTS5 trigram, contentless) with one document per content',
    up: (db) =>
      db.exec(`
        CREATE TABLE search_docs (
          id INTEGER PRIMARY KEY,
          blob_id TEXT NOT NULL UNIQUE,
          state INTEGER NOT NULL DEFAULT ${DOC_PENDING}
        ) STRICT;
        CREATE INDEX search_docs_unsure ON search_docs (blob_id) WHERE state <> ${DOC_INDEXED};
        CREATE TABLE search_meta (
          name TEXT PRIMARY KEY,
          value INTEGER NOT NULL
        ) STRICT;
        INSERT INTO search_meta (name, value) VALUES ('text_version', ${SEARCH_TEXT_VERSION});
        CREATE VIRTUAL TABLE search_text USING fts5(
          ${SEARCH_COLUMNS.join(', ')},
          tokenize = 'trigram case_sensitive 1',
          content = '', contentless_delete = 1
        );
        CREATE TRIGGER search_docs_for_content AFTER INSERT ON contents BEGIN
          INSERT OR IGNORE INTO search_docs (blob_id) VALUES (NEW.blob_id);
        END;
        CREATE TRIGGER search_docs_drop_content AFTER DELETE ON contents BEGIN
          DELETE FROM search_text
            WHERE rowid = (SELECT id FROM search_docs WHERE blob_id = OLD.blob_id);
          DELETE FROM search_docs WHERE blob_id = OLD.blob_id;
        END;
        INSERT INTO search_docs (blob_id) SELECT blob_id FROM contents;
      `),
  },
];

/** How far a rebuild has come: documents written of those pending when it started. */
export interface IndexProgress {
  done: number;
  total: number;
}

/** A pending document for the rebuild to write. */
export interface PendingDoc {
  blobId: string;
  bodyStructure: string;
  layout: string;
  header: string | null;
}

export class TextIndex {
  private readonly sql: (text: string) => Statement;

  constructor(
    private readonly db: SqliteDatabase,
    sql: (text: string) => Statement,
  ) {
    this.sql = sql;
  }

  /**
   * Brings the index to this program's version: made when missing (a new store, a store of
   * an older version, tables lost), emptied for rewriting when written by another text
   * version. Runs at open, after the mail migrations.
   */
  static prepare(database: {
    raw: SqliteDatabase;
    registerMigrations(namespace: string, migrations: readonly Migration[]): number;
  }): void {
    const db = database.raw;
    const present = db
      .prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search_text'`)
      .get();
    if (!present) {
      // The version row says there is an index but the table is gone: start it again.
      db.transaction(() => {
        db.exec(`DROP TRIGGER IF EXISTS search_docs_for_content;
          DROP TRIGGER IF EXISTS search_docs_drop_content;
          DROP TABLE IF EXISTS search_docs; DROP TABLE IF EXISTS search_meta;`);
        db.prepare('DELETE FROM schema_version WHERE namespace = ?').run(SEARCH_NAMESPACE);
      })();
    }
    database.registerMigrations(SEARCH_NAMESPACE, SEARCH_MIGRATIONS);
    const version = db
      .prepare(`SELECT value FROM search_meta WHERE name = 'text_version'`)
      .pluck()
      .get() as number | undefined;
    if (version !== SEARCH_TEXT_VERSION) {
      db.transaction(() => {
        db.exec(`INSERT INTO search_text (search_text) VALUES ('delete-all')`);
        db.exec(`UPDATE search_docs SET state = ${DOC_PENDING}`);
        db.prepare(
          `INSERT INTO search_meta (name, value) VALUES ('text_version', ?)
           ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
        ).run(SEARCH_TEXT_VERSION);
      })();
    }
  }

  /**
   * Writes the document of a content whose row was just inserted; in the same transaction.
   * `doc` null: too big to index. Returns false when the content has no pending document
   * (it was written already, or the content is gone).
   */
  write(blobId: string, doc: SearchDocument | null): boolean {
    const row = this.sql(
      `UPDATE search_docs SET state = ? WHERE blob_id = ? AND state = ${DOC_PENDING} RETURNING id`,
    ).get(doc ? DOC_INDEXED : DOC_TOO_BIG, blobId) as { id: number } | undefined;
    if (!row) return false;
    if (doc) {
      this.sql(
        `INSERT INTO search_text (rowid, ${SEARCH_COLUMNS.join(', ')})
         VALUES (?, ${SEARCH_COLUMNS.map(() => '?').join(', ')})`,
      ).run(row.id, ...SEARCH_COLUMNS.map((c) => doc[c]));
    }
    return true;
  }

  /** The SQL condition "the content of `m` matches `query`" (an FTS5 query, one parameter). */
  static matchSql(): string {
    return `m.blob_id IN (SELECT d.blob_id FROM search_docs d WHERE d.id IN
      (SELECT rowid FROM search_text WHERE search_text MATCH ?))`;
  }

  /** UIDs of a mailbox whose content the index cannot answer for, ascending. */
  unsureUids(mailboxId: number): number[] {
    // From the (usually empty) partial index to the messages, not the other way round.
    return this.sql(
      `SELECT m.uid FROM search_docs d INDEXED BY search_docs_unsure
         JOIN messages m INDEXED BY messages_by_blob ON m.blob_id = d.blob_id
       WHERE d.state <> ${DOC_INDEXED} AND m.mailbox_id = ? ORDER BY m.uid`,
    )
      .pluck()
      .all(mailboxId) as number[];
  }

  pendingCount(): number {
    return this.sql(
      // The partial index's own condition spelled out: SQLite does not infer it from `= 0`.
      `SELECT count(*) FROM search_docs INDEXED BY search_docs_unsure
       WHERE state <> ${DOC_INDEXED} AND state = ${DOC_PENDING}`,
    )
      .pluck()
      .get() as number;
  }

  /** Up to `limit` pending documents with what is needed to write them. */
  pending(limit: number): PendingDoc[] {
    return (
      this.sql(
        `SELECT d.blob_id, c.body_structure, c.layout, h.header
         FROM search_docs d INDEXED BY search_docs_unsure
           JOIN contents c ON c.blob_id = d.blob_id
           LEFT JOIN content_headers h ON h.blob_id = d.blob_id
         WHERE d.state <> ${DOC_INDEXED} AND d.state = ${DOC_PENDING} LIMIT ?`,
      ).all(limit) as {
        blob_id: string;
        body_structure: string;
        layout: string;
        header: string | null;
      }[]
    ).map((r) => ({
      blobId: r.blob_id,
      bodyStructure: r.body_structure,
      layout: r.layout,
      header: r.header,
    }));
  }

  /** Bytes the index takes in the database file (its shadow tables), for benchmarks. */
  sizeBytes(): number {
    return this.db
      .prepare(
        `SELECT coalesce(sum(pgsize), 0) FROM dbstat
         WHERE name LIKE 'search_text%' OR name LIKE 'search_docs%'`,
      )
      .pluck()
      .get() as number;
  }
}
