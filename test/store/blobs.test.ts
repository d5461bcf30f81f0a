import { createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BlobStore, StoreError } from '../../native-host/src/store/index.js';
import { tempDir } from './helpers.js';

const CHUNK = 64;
const RECORD = CHUNK + 28;
const HEADER = 24;

async function withBlobs(fn: (blobs: BlobStore, dir: string) => Promise<void>, chunkSize = CHUNK) {
  const { dir, remove } = await tempDir('blobs-');
  try {
    await fn(
      new BlobStore({ dir, key: randomBytes(32), nameKey: randomBytes(32), chunkSize }),
      dir,
    );
  } finally {
    await remove();
  }
}

async function failure(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreError);
  return (error as StoreError).code;
}

function* pieces(data: Buffer, size: number) {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

describe('blob store', () => {
  it('round-trips contents of every size around chunk boundaries, in any input pieces', () =>
    withBlobs(async (blobs) => {
      for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17]) {
        const data = randomBytes(size);
        const { id, size: stored } = await blobs.put(pieces(data, 7));
        expect(stored).toBe(size);
        expect(id).toBe(blobs.idOf(data));
        expect((await blobs.read(id)).equals(data)).toBe(true);
        expect(await blobs.size(id)).toBe(size);
      }
    }));

  it('writes the documented format: an outside reader with the key can decrypt it', async () => {
    const { dir, remove } = await tempDir('blobs-');
    try {
      const key = randomBytes(32);
      const blobs = new BlobStore({ dir, key, nameKey: randomBytes(32), chunkSize: CHUNK });
      const content = randomBytes(CHUNK + 10);
      const { id } = await blobs.put([content]);
      const file = readFileSync(blobs.pathOf(id));
      const header = file.subarray(0, HEADER);
      // The chunk key is HKDF-SHA256 with the file's salt, exactly as node:crypto computes it.
      const chunkKey = Buffer.from(
        hkdfSync('sha256', key, header.subarray(8, 24), 'leapbird blob chunk key v1', 32),
      );
      const open = (index: number, record: Buffer, last: boolean) => {
        const position = Buffer.alloc(9);
        position.writeBigUInt64BE(BigInt(index));
        position[8] = last ? 1 : 0;
        const decipher = createDecipheriv('aes-256-gcm', chunkKey, record.subarray(0, 12));
        decipher.setAAD(
          Buffer.concat(last ? [header, position, Buffer.from(id, 'hex')] : [header, position]),
        );
        decipher.setAuthTag(record.subarray(record.length - 16));
        return Buffer.concat([
          decipher.update(record.subarray(12, record.length - 16)),
          decipher.final(),
        ]);
      };
      const first = open(0, file.subarray(HEADER, HEADER + RECORD), false);
      const second = open(1, file.subarray(HEADER + RECORD), true);
      expect(Buffer.concat([first, second]).equals(content)).toBe(true);
      // And the store reads it back, whole and through the small-file path.
      expect((await blobs.read(id)).equals(content)).toBe(true);
      expect(
        blobs
          .readSmall(id, { start: 5, end: CHUNK + 3 }, 1 << 20)!
          .equals(content.subarray(5, CHUNK + 3)),
      ).toBe(true);
      expect(blobs.readSmall(id, {}, 10)).toBeNull();
    } finally {
      await remove();
    }
  });

  it('names blobs by a keyed hash: equal content shares a file, the name reveals nothing', () =>
    withBlobs(async (blobs, dir) => {
      const data = Buffer.from('hello world');
      const a = await blobs.put([data]);
      const b = await blobs.put(pieces(data, 3));
      expect(a.id).toBe(b.id);
      expect(a.id).not.toBe(createHash('sha256').update(data).digest('hex'));
      expect(await blobs.list()).toEqual([a.id]);
      const other = new BlobStore({ dir, key: randomBytes(32), nameKey: randomBytes(32) });
      expect(other.idOf(data)).not.toBe(a.id);
    }));

  it('reads byte ranges, decrypting only the chunks they need', () =>
    withBlobs(async (blobs) => {
      const data = randomBytes(5 * CHUNK + 10);
      const { id } = await blobs.put([data]);
      for (const [start, end] of [
        [0, 1],
        [CHUNK - 1, CHUNK + 1],
        [70, 300],
        [5 * CHUNK, 5 * CHUNK + 10],
        [100, 100],
        [300, 10_000],
      ] as const) {
        expect((await blobs.read(id, { start, end })).equals(data.subarray(start, end))).toBe(true);
      }
      // Damage chunk 2: reads of chunks 0-1 still work (chunk 2 was never decrypted for them).
      const path = blobs.pathOf(id);
      const file = readFileSync(path);
      file[HEADER + 2 * RECORD + 20]! ^= 1;
      writeFileSync(path, file);
      expect(
        (await blobs.read(id, { start: 0, end: 2 * CHUNK })).equals(data.subarray(0, 128)),
      ).toBe(true);
      expect(await failure(blobs.read(id, { start: 2 * CHUNK, end: 2 * CHUNK + 1 }))).toBe(
        'blob_corrupt',
      );
      expect(await failure(blobs.read(id))).toBe('blob_corrupt');
    }));

  it('detects a flipped bit, truncation, reordered chunks and a blob renamed over another', () =>
    withBlobs(async (blobs) => {
      const data = randomBytes(4 * CHUNK + 5);
      const fresh = async () => {
        const { id } = await blobs.put([data]);
        return { id, path: blobs.pathOf(id), file: readFileSync(blobs.pathOf(id)) };
      };
      const damaged = async (mutate: (file: Buffer) => Buffer) => {
        const { id, path, file } = await fresh();
        writeFileSync(path, mutate(Buffer.from(file)));
        const code = await failure(blobs.read(id));
        await blobs.delete(id);
        return code;
      };
      expect(await damaged((f) => ((f[HEADER + 40]! ^= 0x80), f))).toBe('blob_corrupt');
      expect(await damaged((f) => ((f[5]! ^= 1), f))).toBe('blob_corrupt');
      // Cut at a chunk boundary: the remaining last chunk was not written as the last one.
      expect(await damaged((f) => f.subarray(0, HEADER + 2 * RECORD))).toBe('blob_corrupt');
      expect(await damaged((f) => f.subarray(0, f.length - 3))).toBe('blob_corrupt');
      expect(
        await damaged((f) =>
          Buffer.concat([
            f.subarray(0, HEADER),
            f.subarray(HEADER + RECORD, HEADER + 2 * RECORD),
            f.subarray(HEADER, HEADER + RECORD),
            f.subarray(HEADER + 2 * RECORD),
          ]),
        ),
      ).toBe('blob_corrupt');
      // Another valid blob put in this one's place.
      const { id, path } = await fresh();
      const other = await blobs.put([randomBytes(100)]);
      writeFileSync(path, readFileSync(blobs.pathOf(other.id)));
      expect(await failure(blobs.read(id))).toBe('blob_corrupt');
      expect(await failure(blobs.read(id, { start: 0, end: 1 }))).toBe('blob_corrupt');
      expect(await failure(blobs.read('0'.repeat(64)))).toBe('blob_missing');
    }));

  it('leaves no temporary file behind when the source fails', () =>
    withBlobs(async (blobs, dir) => {
      const failing = (async function* () {
        yield randomBytes(1000);
        throw new Error('network went away');
      })();
      await expect(blobs.put(failing)).rejects.toThrow('network went away');
      expect(readdirSync(`${dir}/tmp`)).toEqual([]);
      expect(await blobs.list()).toEqual([]);
    }));

  it('clears unfinished writes of dead processes at open, never those of live ones', () =>
    withBlobs(async (_blobs, dir) => {
      writeFileSync(`${dir}/tmp/99999999-1-0`, 'left by a crashed host');
      writeFileSync(`${dir}/tmp/${process.pid}-1-0`, 'being written by a live host');
      new BlobStore({ dir, key: randomBytes(32), nameKey: randomBytes(32) });
      expect(readdirSync(`${dir}/tmp`)).toEqual([`${process.pid}-1-0`]);
    }));

  it('streams a 200 MB message in and out without holding it in memory', async () => {
    await withBlobs(async (blobs) => {
      const total = 200 * 1024 * 1024;
      const piece = randomBytes(1024 * 1024);
      const baseline = process.memoryUsage();
      let peak = 0;
      const sample = () => {
        const now = process.memoryUsage();
        peak = Math.max(peak, now.rss - baseline.rss, now.arrayBuffers - baseline.arrayBuffers);
      };
      const written = createHash('sha256');
      const source = (async function* () {
        for (let sent = 0; sent < total; sent += piece.length) {
          // Each piece differs, so the blob is not one repeated chunk.
          piece.writeUInt32BE(sent / piece.length, 0);
          written.update(piece);
          sample();
          yield Buffer.from(piece);
        }
      })();
      const { id, size } = await blobs.put(source);
      expect(size).toBe(total);
      expect(statSync(blobs.pathOf(id)).size).toBeGreaterThan(total);
      const read = createHash('sha256');
      let bytes = 0;
      for await (const chunk of blobs.createReadStream(id)) {
        read.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        if (bytes % (1024 * 1024) < 65536) sample();
      }
      expect(bytes).toBe(total);
      expect(read.digest('hex')).toBe(written.digest('hex'));
      // Whole-message buffering would need 200 MB or more; streaming needs a few chunks
      // (plus garbage the collector has not reclaimed yet).
      expect(peak).toBeLessThan(100 * 1024 * 1024);
    }, 64 * 1024);
  });
});
