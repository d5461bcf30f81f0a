/**
 * Document encryption for the provider's sync store (LEAP Soledad's scheme, modernised).
 *
 * - The provider sees a pseudonymous id (HMAC of collection and primary key), so contact
 *   documents keyed by e-mail address do not tell it who the user writes to.
 * - Each document is sealed with AES-256-GCM under its own key (HMAC of a key derived from
 *   the storage secret, the collection and the id), with a random 96-bit IV.
 * - The associated data binds collection, pseudonymous id, a per-document revision number and
 *   the deleted flag: the provider cannot serve one document under another's id, flip a
 *   tombstone, or change the revision without the tag failing. Rolling back to an older,
 *   genuine ciphertext is caught by comparing its revision with the highest one this device
 *   has seen (see RevisionLedger).
 * - `hash` is an HMAC over the canonical plaintext: equal content gives an equal hash, which is
 *   what the provider compares to detect conflicts, and reveals nothing without the key.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { RxdbStoreError } from './errors.js';

/** What the provider stores per document (contracts.md). */
export interface WireDoc {
  id: string;
  deleted: boolean;
  ciphertext: string;
  hash: string;
}

/** A document as RxDB replication hands it over: plain fields plus `_deleted`. */
export type PlainDoc = Record<string, unknown> & { _deleted: boolean };

const FORMAT_VERSION = 1;
const HEADER_BYTES = 1 + 4 + 12; // version, revision (uint32 BE), IV
const TAG_BYTES = 16;
const INFO = 'leapbird/rxdb-sync/v1';
/** RxDB bookkeeping that differs between devices and must not affect content equality. */
const LOCAL_FIELDS = new Set(['_deleted', '_meta', '_rev', '_attachments']);

export class SyncKeys {
  readonly #docKeyRoot: Buffer;
  readonly #hashKey: Buffer;
  readonly #idKey: Buffer;

  /** `storageSecret` is the account's random storage secret (at least 32 bytes). */
  constructor(storageSecret: Uint8Array) {
    if (storageSecret.length < 32) {
      throw new RxdbStoreError(
        'invalid_params',
        'The storage secret must be at least 32 bytes long.',
      );
    }
    const derive = (label: string) =>
      Buffer.from(hkdfSync('sha256', storageSecret, Buffer.from(INFO), Buffer.from(label), 32));
    this.#docKeyRoot = derive('document-key');
    this.#hashKey = derive('content-hash');
    this.#idKey = derive('document-id');
  }

  /** The id the provider sees for a document. */
  wireId(collection: string, id: string): string {
    return hmac(this.#idKey, collection, id).toString('base64url');
  }

  /** Keyed hash of a document's content (not of RxDB's per-device metadata). */
  contentHash(collection: string, id: string, doc: PlainDoc): string {
    return this.#hashBody(collection, id, doc._deleted, canonicalBody(doc));
  }

  #hashBody(collection: string, id: string, deleted: boolean, body: string): string {
    return hmac(this.#hashKey, collection, id, deleted ? '1' : '0', body).toString('base64url');
  }

  encrypt(collection: string, id: string, doc: PlainDoc, revision: number): WireDoc {
    if (!Number.isSafeInteger(revision) || revision < 1 || revision > 0xffffffff) {
      throw new RxdbStoreError('invalid_params', `Document revision ${revision} is out of range.`);
    }
    const body = canonicalBody(doc);
    const wireId = this.wireId(collection, id);
    const iv = randomBytes(12);
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt8(FORMAT_VERSION, 0);
    header.writeUInt32BE(revision, 1);
    iv.copy(header, 5);
    const cipher = createCipheriv('aes-256-gcm', this.#docKey(collection, wireId), iv);
    cipher.setAAD(aad(collection, wireId, revision, doc._deleted));
    const sealed = Buffer.concat([
      header,
      cipher.update(body, 'utf8'),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return {
      id: wireId,
      deleted: doc._deleted,
      ciphertext: sealed.toString('base64'),
      hash: this.#hashBody(collection, id, doc._deleted, body),
    };
  }

  /**
   * Opens a wire document and checks every binding: the tag (collection, id, revision,
   * deleted flag), that the id inside matches the pseudonymous id, and that the hash the
   * provider reported is the hash of what is inside.
   */
  decrypt(
    collection: string,
    wire: WireDoc,
    primaryPath: string,
  ): { doc: PlainDoc; revision: number } {
    const fail = (why: string) =>
      new RxdbStoreError('decrypt_failed', `A synced document could not be opened: ${why}.`);
    if (!isWireDoc(wire)) throw fail('the provider sent a malformed document');
    const sealed = Buffer.from(wire.ciphertext, 'base64');
    if (sealed.length < HEADER_BYTES + TAG_BYTES || sealed.readUInt8(0) !== FORMAT_VERSION) {
      throw fail('unknown format');
    }
    const revision = sealed.readUInt32BE(1);
    const iv = sealed.subarray(5, HEADER_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#docKey(collection, wire.id), iv);
    decipher.setAAD(aad(collection, wire.id, revision, wire.deleted));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    let body: string;
    try {
      body = Buffer.concat([
        decipher.update(sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw fail('it was altered, swapped with another document, or sealed with another key');
    }
    const fields = JSON.parse(body) as Record<string, unknown>;
    const id = fields[primaryPath];
    if (typeof id !== 'string' || this.wireId(collection, id) !== wire.id) {
      throw fail('its id does not match the id it was stored under');
    }
    const doc: PlainDoc = { ...fields, _deleted: wire.deleted };
    const expected = Buffer.from(this.#hashBody(collection, id, wire.deleted, body));
    const claimed = Buffer.from(wire.hash);
    if (expected.length !== claimed.length || !timingSafeEqual(expected, claimed)) {
      throw fail('the provider reported a content hash that does not match its content');
    }
    return { doc, revision };
  }

  #docKey(collection: string, wireId: string): Buffer {
    return hmac(this.#docKeyRoot, collection, wireId);
  }
}

/** The plaintext that is sealed and hashed: the document without RxDB's per-device fields. */
function canonicalBody(doc: PlainDoc): string {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) if (!LOCAL_FIELDS.has(k)) fields[k] = v;
  return canonicalJson(fields);
}

function hmac(key: Buffer, ...parts: string[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) {
    h.update(Buffer.from(p, 'utf8'));
    h.update(Buffer.from([0]));
  }
  return h.digest();
}

function aad(collection: string, wireId: string, revision: number, deleted: boolean): Buffer {
  return Buffer.from(`${INFO}\0${collection}\0${wireId}\0${revision}\0${deleted ? 1 : 0}`, 'utf8');
}

/** JSON with object keys sorted at every level, so equal content always hashes the same. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function isWireDoc(value: unknown): value is WireDoc {
  const v = value as WireDoc;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.id === 'string' &&
    typeof v.deleted === 'boolean' &&
    typeof v.ciphertext === 'string' &&
    typeof v.hash === 'string'
  );
}
