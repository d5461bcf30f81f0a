/**
 * Message bodies on disk, encrypted and content-addressed.
 *
 * File layout (all integers big-endian):
 *   header  = "LBB1" | chunkSize u32 | fileSalt[16]
 *   record  = nonce[12] | AES-256-GCM(chunk) | tag[16]        (one per chunk, in order)
 * Every chunk is `chunkSize` plaintext bytes except the last, which holds 0..chunkSize.
 * The chunk key is HKDF(blobKey, fileSalt), so a record moved from another file fails.
 * Associated data of chunk i = header | i u64 | last u8 | (last ? blob id : nothing):
 * reordering, truncating at a chunk boundary, dropping the end, or renaming one blob over
 * another all fail authentication (a STREAM-like construction; gluon's cache reused one
 * nonce per file and did not bind positions). Every read checks the last chunk first, so
 * even a ranged read notices a truncated or swapped file.
 *
 * The blob id is HMAC-SHA256(blobNameKey, content): equal messages share one file, and the
 * name tells an observer nothing about the content. Files are written to `tmp/`, fsynced,
 * renamed into place and the directory fsynced before `put` resolves, which is before the
 * database row that refers to the blob commits.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import { open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { StoreError } from './errors.js';
import { commitRename, fsyncDirectory } from './fs-durable.js';

const MAGIC = Buffer.from('LBB1');
const HEADER_BYTES = 24;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const RECORD_OVERHEAD = NONCE_BYTES + TAG_BYTES;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
const BLOB_ID = /^[0-9a-f]{64}$/;
const FILE_KEY_CACHE = 4096;
const FILE_KEY_INFO = Buffer.from('leapbird blob chunk key v1');

export interface BlobStoreOptions {
  dir: string;
  /** From deriveStorageKeys: `blob` and `blobName`. */
  key: Uint8Array;
  nameKey: Uint8Array;
  chunkSize?: number;
}

export interface PutResult {
  id: string;
  /** Plaintext size in bytes. */
  size: number;
}

export type BlobSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface ByteRange {
  /** First byte, inclusive (default 0). */
  start?: number;
  /** Last byte, exclusive (default: the end). */
  end?: number;
}

export class BlobStore {
  private readonly dir: string;
  private readonly tmpDir: string;
  private readonly key: Buffer;
  private readonly nameKey: Buffer;
  private readonly chunkSize: number;
  private tempCounter = 0;
  /** Derived chunk keys of recently read files: a client reads the same messages again and again. */
  private readonly fileKeys = new Map<string, Buffer>();
  /** Blobs written but whose database row may not have committed yet: not garbage. */
  private readonly inFlight = new Map<string, number>();

  constructor(options: BlobStoreOptions) {
    this.dir = options.dir;
    this.tmpDir = join(options.dir, 'tmp');
    this.key = Buffer.from(options.key);
    this.nameKey = Buffer.from(options.nameKey);
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 16 || this.chunkSize > 2 ** 24) {
      throw new RangeError('The blob chunk size must be between 16 bytes and 16 MiB.');
    }
    mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
    // Temporary files of a dead process belong to writes that never finished (a crash):
    // nothing refers to them. A live process (this one, or a second host) may still be
    // writing its own.
    for (const name of readdirSync(this.tmpDir)) {
      const pid = Number(name.split('-')[0]);
      if (!isAlive(pid)) rmSync(join(this.tmpDir, name), { force: true });
    }
  }

  /** The blob id the given content would get, without storing it. */
  idOf(content: Uint8Array): string {
    return createHmac('sha256', this.nameKey).update(content).digest('hex');
  }

  pathOf(id: string): string {
    if (!BLOB_ID.test(id)) throw new StoreError('blob_missing', `"${id}" is not a blob id.`);
    return join(this.dir, id.slice(0, 2), id);
  }

  /** Ends the protection a `put` gives its blob from garbage collection. */
  release(id: string): void {
    const count = (this.inFlight.get(id) ?? 0) - 1;
    if (count > 0) this.inFlight.set(id, count);
    else this.inFlight.delete(id);
  }

  isInFlight(id: string): boolean {
    return this.inFlight.has(id);
  }

  /**
   * Streams `source` into a new blob. Memory stays at about two chunks whatever the size.
   * Resolves only once the file and its name are on disk; the blob then counts as in use
   * until `release(id)` (call it once the row that refers to it has committed or failed).
   */
  async put(source: BlobSource): Promise<PutResult> {
    const salt = randomBytes(16);
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32BE(this.chunkSize, 4);
    salt.copy(header, 8);
    const fileKey = this.fileKey(salt);
    const hmac = createHmac('sha256', this.nameKey);
    const temp = join(this.tmpDir, `${process.pid}-${Date.now()}-${this.tempCounter++}`);
    const handle = await open(temp, 'wx', 0o600);
    let index = 0;
    let size = 0;
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    const writeChunk = async (chunk: Buffer, last: boolean, id?: Buffer) => {
      await writeAll(handle, sealChunk(fileKey, header, index++, chunk, last, id));
    };
    // Takes one chunk's worth of bytes off the front of `pending`.
    const takeChunk = (): Buffer => {
      const out = Buffer.allocUnsafe(Math.min(this.chunkSize, pendingBytes));
      let filled = 0;
      while (filled < out.length) {
        const head = pending[0]!;
        const n = Math.min(head.length, out.length - filled);
        head.copy(out, filled, 0, n);
        filled += n;
        if (n === head.length) pending.shift();
        else pending[0] = head.subarray(n);
      }
      pendingBytes -= out.length;
      return out;
    };
    try {
      await writeAll(handle, header);
      for await (const piece of source) {
        const bytes = Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
        if (bytes.length === 0) continue;
        hmac.update(bytes);
        size += bytes.length;
        pending.push(bytes);
        pendingBytes += bytes.length;
        // Keep at least one byte back: only the end of the input says which chunk is last.
        while (pendingBytes > this.chunkSize) await writeChunk(takeChunk(), false);
      }
      const id = hmac.digest();
      await writeChunk(takeChunk(), true, id);
      await handle.sync();
      await handle.close();
      const hex = id.toString('hex');
      const final = this.pathOf(hex);
      const shard = join(this.dir, hex.slice(0, 2));
      let newShard = false;
      try {
        await stat(shard);
      } catch {
        mkdirSync(shard, { recursive: true, mode: 0o700 });
        newShard = true;
      }
      this.inFlight.set(hex, (this.inFlight.get(hex) ?? 0) + 1);
      try {
        await commitRename(temp, final);
        if (newShard) await fsyncDirectory(this.dir);
      } catch (error) {
        this.release(hex);
        throw error;
      }
      return { id: hex, size };
    } catch (error) {
      await handle.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw error;
    }
  }

  async has(id: string): Promise<boolean> {
    try {
      await stat(this.pathOf(id));
      return true;
    } catch {
      return false;
    }
  }

  /** Plaintext size from the file size alone (no decryption). */
  async size(id: string): Promise<number> {
    const handle = await this.openBlob(id);
    try {
      return (await this.layout(handle, id)).size;
    } finally {
      await handle.close();
    }
  }

  /**
   * A stream of the plaintext bytes [start, end). Only the chunks that overlap the range
   * (plus the last chunk, to check the file is whole and is the blob asked for) are read
   * and decrypted.
   */
  createReadStream(id: string, range: ByteRange = {}): Readable {
    return Readable.from(this.stream(id, range), { objectMode: false });
  }

  /** The same as {@link createReadStream} without a Node stream around it (cheaper per call). */
  stream(id: string, range: ByteRange = {}): AsyncGenerator<Buffer> {
    return this.iterate(id, range);
  }

  /** Whole (or ranged) content in one buffer: for small reads only. */
  async read(id: string, range: ByteRange = {}): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of this.iterate(id, range)) parts.push(part);
    return Buffer.concat(parts);
  }

  async delete(id: string): Promise<void> {
    await unlink(this.pathOf(id)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  /** When the blob was last written (milliseconds since the epoch), or null when absent. */
  async writtenAt(id: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(id))).mtimeMs;
    } catch {
      return null;
    }
  }

  /** Every blob id on disk (for garbage collection against the database's references). */
  async list(): Promise<string[]> {
    const ids: string[] = [];
    for (const shard of await readdir(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of await readdir(join(this.dir, shard))) {
        if (BLOB_ID.test(name) && name.startsWith(shard)) ids.push(name);
      }
    }
    return ids;
  }

  private fileKey(salt: Buffer): Buffer {
    const name = salt.toString('hex');
    let key = this.fileKeys.get(name);
    if (key) {
      // Refreshed as most recently used (a Map iterates in insertion order).
      this.fileKeys.delete(name);
    } else {
      key = hkdfSha256(this.key, salt, FILE_KEY_INFO);
      if (this.fileKeys.size >= FILE_KEY_CACHE)
        this.fileKeys.delete(this.fileKeys.keys().next().value!);
    }
    this.fileKeys.set(name, key);
    return key;
  }

  private async openBlob(id: string): Promise<FileHandle> {
    try {
      return await open(this.pathOf(id), 'r');
    } catch (error) {
      throw missingOr(error, id);
    }
  }

  private async layout(handle: FileHandle, id: string): Promise<Layout> {
    const fileSize = (await handle.stat()).size;
    const header = Buffer.alloc(HEADER_BYTES);
    if (fileSize >= HEADER_BYTES) await readExactly(handle, header, 0);
    return this.parseLayout(header, fileSize, id);
  }

  private parseLayout(header: Buffer, fileSize: number, id: string): Layout {
    const corrupt = () =>
      new StoreError('blob_corrupt', `The stored copy of message ${id} is damaged or was altered.`);
    if (fileSize < HEADER_BYTES + RECORD_OVERHEAD) throw corrupt();
    if (!header.subarray(0, 4).equals(MAGIC)) throw corrupt();
    const chunkSize = header.readUInt32BE(4);
    if (chunkSize < 16 || chunkSize > 2 ** 24) throw corrupt();
    const recordSize = chunkSize + RECORD_OVERHEAD;
    const body = fileSize - HEADER_BYTES;
    const chunks = Math.ceil(body / recordSize);
    const lastRecord = body - (chunks - 1) * recordSize;
    if (lastRecord < RECORD_OVERHEAD) throw corrupt();
    const size = (chunks - 1) * chunkSize + lastRecord - RECORD_OVERHEAD;
    const fileKey = this.fileKey(header.subarray(8, 24));
    return { header, chunkSize, recordSize, chunks, lastRecord, size, fileKey, corrupt };
  }

  /**
   * The plaintext of [start, end), or null when the blob file is larger than `maxFileBytes`
   * (the caller then streams it). One synchronous read of a small file costs a few
   * microseconds from the page cache, where the asynchronous path pays five thread-pool
   * round trips (open, stat, two reads, close): that difference is most of the time a
   * client waits for a typical message.
   */
  readSmall(id: string, range: ByteRange, maxFileBytes: number): Buffer | null {
    let file: Buffer;
    try {
      const fd = openSync(this.pathOf(id), 'r');
      try {
        const fileSize = fstatSync(fd).size;
        if (fileSize > maxFileBytes) return null;
        file = Buffer.allocUnsafe(fileSize);
        let filled = 0;
        while (filled < fileSize) {
          const n = readSync(fd, file, filled, fileSize - filled, filled);
          if (n === 0) break;
          filled += n;
        }
        file = file.subarray(0, filled);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw missingOr(error, id);
    }
    const l = this.parseLayout(file.subarray(0, HEADER_BYTES), file.length, id);
    const { start, end } = clampRange(range, l.size);
    const record = (i: number) => {
      const { offset, length } = recordSpan(l, i);
      return file.subarray(offset, offset + length);
    };
    const slices = chunkSlices(l, start, end);
    // The last chunk is always checked: it proves the file is whole and is this blob.
    if (slices.at(-1)?.index !== l.chunks - 1)
      decryptChunk(l, l.chunks - 1, record(l.chunks - 1), id);
    const parts = slices.map(({ index, from, to }) =>
      decryptChunk(l, index, record(index), id).subarray(from, to),
    );
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private async *iterate(id: string, range: ByteRange): AsyncGenerator<Buffer> {
    const handle = await this.openBlob(id);
    try {
      const l = await this.layout(handle, id);
      const { start, end } = clampRange(range, l.size);
      const readChunk = async (i: number): Promise<Buffer> => {
        const { offset, length } = recordSpan(l, i);
        const record = Buffer.alloc(length);
        await readExactly(handle, record, offset);
        return decryptChunk(l, i, record, id);
      };
      const lastChunk = await readChunk(l.chunks - 1);
      for (const { index, from, to } of chunkSlices(l, start, end)) {
        const plain = index === l.chunks - 1 ? lastChunk : await readChunk(index);
        yield plain.subarray(from, to);
      }
    } finally {
      await handle.close();
    }
  }
}

interface Layout {
  header: Buffer;
  chunkSize: number;
  recordSize: number;
  chunks: number;
  lastRecord: number;
  size: number;
  fileKey: Buffer;
  corrupt: () => StoreError;
}

/**
 * HKDF-SHA256 (RFC 5869) for one 32-byte output block: HMAC(HMAC(salt, key), info | 1).
 * The same bytes as crypto.hkdfSync, which costs several times more per call through its
 * key objects and job machinery; every blob opened derives its key.
 */
function hkdfSha256(key: Buffer, salt: Buffer, info: Buffer): Buffer {
  const prk = createHmac('sha256', salt).update(key).digest();
  return createHmac('sha256', prk).update(info).update(ONE).digest();
}

const ONE = Buffer.from([1]);

function clampRange(range: ByteRange, size: number): { start: number; end: number } {
  const start = range.start ?? 0;
  const end = Math.min(range.end ?? size, size);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < 0) {
    throw new StoreError('blob_range', 'A byte range must be non-negative whole numbers.');
  }
  return { start, end };
}

/** Where chunk `index`'s record lies in the file (the last one may be short). */
function recordSpan(l: Layout, index: number): { offset: number; length: number } {
  const length = index === l.chunks - 1 ? l.lastRecord : l.recordSize;
  return { offset: HEADER_BYTES + index * l.recordSize, length };
}

/** The chunks overlapping [start, end), each with the slice of its plaintext that is inside. */
function chunkSlices(
  l: Layout,
  start: number,
  end: number,
): { index: number; from: number; to: number }[] {
  const slices: { index: number; from: number; to: number }[] = [];
  if (start >= end) return slices;
  const first = Math.floor(start / l.chunkSize);
  const final = Math.floor((end - 1) / l.chunkSize);
  for (let index = first; index <= final; index++) {
    const from = index === first ? start - index * l.chunkSize : 0;
    const to = index === final ? end - index * l.chunkSize : l.chunkSize;
    slices.push({ index, from, to });
  }
  return slices;
}

function decryptChunk(l: Layout, index: number, record: Buffer, id: string): Buffer {
  const last = index === l.chunks - 1;
  const plain = openChunk(l.fileKey, l.header, index, record, last, last ? id : undefined);
  if (!plain) throw l.corrupt();
  return plain;
}

function missingOr(error: unknown, id: string): unknown {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
    return new StoreError('blob_missing', `The stored copy of message ${id} is missing.`);
  }
  return error;
}

function chunkAad(header: Buffer, index: number, last: boolean, id?: Buffer): Buffer {
  const position = Buffer.alloc(9);
  position.writeBigUInt64BE(BigInt(index), 0);
  position[8] = last ? 1 : 0;
  return Buffer.concat(last && id ? [header, position, id] : [header, position]);
}

function sealChunk(
  key: Buffer,
  header: Buffer,
  index: number,
  chunk: Buffer,
  last: boolean,
  id?: Buffer,
): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(chunkAad(header, index, last, id));
  return Buffer.concat([nonce, cipher.update(chunk), cipher.final(), cipher.getAuthTag()]);
}

function openChunk(
  key: Buffer,
  header: Buffer,
  index: number,
  record: Buffer,
  last: boolean,
  idHex?: string,
): Buffer | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, record.subarray(0, NONCE_BYTES));
    decipher.setAAD(chunkAad(header, index, last, idHex ? Buffer.from(idHex, 'hex') : undefined));
    decipher.setAuthTag(record.subarray(record.length - TAG_BYTES));
    const body = record.subarray(NONCE_BYTES, record.length - TAG_BYTES);
    const plain = decipher.update(body);
    // GCM yields everything from update; final only checks the tag (and returns nothing).
    const rest = decipher.final();
    return rest.length ? Buffer.concat([plain, rest]) : plain;
  } catch {
    return null;
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

async function readExactly(handle: FileHandle, into: Buffer, position: number): Promise<void> {
  let filled = 0;
  while (filled < into.length) {
    const { bytesRead } = await handle.read(into, filled, into.length - filled, position + filled);
    if (bytesRead === 0) throw new StoreError('blob_corrupt', 'A stored message ends too early.');
    filled += bytesRead;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
