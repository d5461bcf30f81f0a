import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SyncKeys, type WireDoc } from '../../native-host/src/store/rxdb/index.js';

const keys = new SyncKeys(randomBytes(64));
const doc = {
  id: 'bob@beta.test',
  level: 3,
  verified: true,
  nested: { b: 1, a: [1, 2] },
  _deleted: false,
};

function sealed(): WireDoc {
  return keys.encrypt('contacts', doc.id, doc, 7);
}

describe('document sealing for the sync store', () => {
  it('round-trips a document with its revision and hides id and content', () => {
    const wire = sealed();
    expect(keys.decrypt('contacts', wire, 'id')).toEqual({ doc, revision: 7 });
    expect(JSON.stringify(wire)).not.toContain('bob');
    expect(JSON.stringify(wire)).not.toContain('beta.test');
    // Fresh IV each time, same pseudonymous id and content hash.
    const again = sealed();
    expect(again.ciphertext).not.toBe(wire.ciphertext);
    expect(again.id).toBe(wire.id);
    expect(again.hash).toBe(wire.hash);
  });

  it('hashes content, not key order or RxDB metadata', () => {
    const reordered = {
      _deleted: false,
      nested: { a: [1, 2], b: 1 },
      verified: true,
      level: 3,
      id: doc.id,
      _rev: '5-abc',
      _meta: { lwt: 1 },
    };
    expect(keys.contentHash('contacts', doc.id, reordered)).toBe(
      keys.contentHash('contacts', doc.id, doc),
    );
    expect(keys.contentHash('contacts', doc.id, { ...doc, level: 4 })).not.toBe(
      keys.contentHash('contacts', doc.id, doc),
    );
    expect(keys.contentHash('contacts', doc.id, { ...doc, _deleted: true })).not.toBe(
      keys.contentHash('contacts', doc.id, doc),
    );
    // Another storage secret gives unrelated hashes and ids.
    const other = new SyncKeys(randomBytes(64));
    expect(other.contentHash('contacts', doc.id, doc)).not.toBe(
      keys.contentHash('contacts', doc.id, doc),
    );
    expect(other.wireId('contacts', doc.id)).not.toBe(keys.wireId('contacts', doc.id));
  });

  it('rejects any changed byte of the ciphertext', () => {
    const wire = sealed();
    const bytes = Buffer.from(wire.ciphertext, 'base64');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (at, x) => {
          const bad = Buffer.from(bytes);
          bad[at] = bad[at]! ^ x;
          expect(() =>
            keys.decrypt('contacts', { ...wire, ciphertext: bad.toString('base64') }, 'id'),
          ).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
        },
      ),
    );
  });

  it('binds the id, the collection, the deleted flag, the hash and the key', () => {
    const wire = sealed();
    const other = keys.encrypt('contacts', 'carol@beta.test', { ...doc, id: 'carol@beta.test' }, 1);
    const cases: [string, () => unknown][] = [
      ['served under another id', () => keys.decrypt('contacts', { ...wire, id: other.id }, 'id')],
      ['served from another collection', () => keys.decrypt('settings', wire, 'id')],
      ['tombstone flag flipped', () => keys.decrypt('contacts', { ...wire, deleted: true }, 'id')],
      ['hash replaced', () => keys.decrypt('contacts', { ...wire, hash: other.hash }, 'id')],
      ['other storage secret', () => new SyncKeys(randomBytes(64)).decrypt('contacts', wire, 'id')],
      ['not a document', () => keys.decrypt('contacts', { id: 'x' } as WireDoc, 'id')],
      ['truncated', () => keys.decrypt('contacts', { ...wire, ciphertext: 'AQID' }, 'id')],
    ];
    for (const [what, attempt] of cases) {
      expect(attempt, what).toThrow(expect.objectContaining({ code: 'decrypt_failed' }));
    }
  });

  it('refuses a short storage secret and out-of-range revisions', () => {
    expect(() => new SyncKeys(randomBytes(16))).toThrow(/at least 32 bytes/);
    expect(() => keys.encrypt('contacts', doc.id, doc, 0)).toThrow(/out of range/);
    expect(() => keys.encrypt('contacts', doc.id, doc, 2 ** 32)).toThrow(/out of range/);
  });
});
