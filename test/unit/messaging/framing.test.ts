import { describe, expect, it } from 'vitest';
import {
  FrameDecoder,
  encodeFrame,
  type Decoded,
} from '../../../native-host/src/messaging/index.js';
import { bytesCopied } from '../../helpers/copies.js';

function frameOf(body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32LE(body.byteLength, 0);
  return Buffer.concat([header, body]);
}

describe('native-messaging framing', () => {
  it('decodes a frame delivered one byte at a time', () => {
    const decoder = new FrameDecoder(1024);
    const bytes = encodeFrame({ hello: 'wörld' });
    const results = [];
    for (const byte of bytes) results.push(...decoder.push(Buffer.from([byte])));
    expect(results).toEqual([{ kind: 'message', value: { hello: 'wörld' } }]);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('decodes several frames arriving in one chunk, in order', () => {
    const decoder = new FrameDecoder(1024);
    const chunk = Buffer.concat([encodeFrame(1), encodeFrame('two'), encodeFrame({ three: [3] })]);
    expect(decoder.push(chunk).map((d) => d.kind === 'message' && d.value)).toEqual([
      1,
      'two',
      { three: [3] },
    ]);
  });

  it('keeps a partial frame until the rest arrives', () => {
    const decoder = new FrameDecoder(1024);
    const bytes = Buffer.concat([encodeFrame('first'), encodeFrame('second')]);
    const cut = bytes.byteLength - 3;
    expect(decoder.push(bytes.subarray(0, cut))).toHaveLength(1);
    expect(decoder.pendingBytes).toBeGreaterThan(0);
    expect(decoder.push(bytes.subarray(cut))).toEqual([{ kind: 'message', value: 'second' }]);
  });

  it('reports a zero-length frame as an empty message and stays usable', () => {
    const decoder = new FrameDecoder(1024);
    const results = decoder.push(Buffer.concat([frameOf(Buffer.alloc(0)), encodeFrame('after')]));
    expect(results[0]).toMatchObject({
      kind: 'error',
      error: { code: 'bad_json', message: 'The message is an empty message.' },
    });
    expect(results[1]).toEqual({ kind: 'message', value: 'after' });
  });

  it('rejects invalid UTF-8 and invalid JSON with clear errors, then carries on', () => {
    const decoder = new FrameDecoder(1024);
    const results = decoder.push(
      Buffer.concat([
        frameOf(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
        frameOf(Buffer.from('{"a":')),
        encodeFrame({ ok: true }),
      ]),
    );
    expect(results.map((r) => (r.kind === 'error' ? r.error.code : 'message'))).toEqual([
      'bad_utf8',
      'bad_json',
      'message',
    ]);
    expect(results[2]).toEqual({ kind: 'message', value: { ok: true } });
  });

  it('skips an oversized frame without buffering it and decodes the next one', () => {
    const decoder = new FrameDecoder(100);
    const big = encodeFrame('x'.repeat(5000));
    const results = [];
    // Deliver the oversized frame in small pieces: it must never be held whole.
    for (let i = 0; i < big.byteLength; i += 64) {
      results.push(...decoder.push(big.subarray(i, i + 64)));
      expect(decoder.pendingBytes).toBeLessThanOrEqual(5002 + 4);
    }
    results.push(...decoder.push(encodeFrame('next')));
    expect(results[0]).toMatchObject({ kind: 'error', error: { code: 'message_too_large' } });
    expect(results.slice(1)).toEqual([{ kind: 'message', value: 'next' }]);
  });

  it('copies a large frame a bounded number of times when its length comes split from it', () => {
    // Found by test/fuzz/messaging.test.ts: with the 4-byte length in a read of its own,
    // every later read made the decoder copy everything buffered so far, quadratic in the
    // frame size (an 8 MiB frame in 1 KiB reads took 12 s; one of 64 MiB, hours).
    const stream = encodeFrame('x'.repeat(4 * 1024 * 1024));
    const decoder = new FrameDecoder(8 * 1024 * 1024);
    const results: Decoded[] = [];
    const copied = bytesCopied(() => {
      results.push(...decoder.push(stream.subarray(0, 2)));
      for (let at = 2; at < stream.length; at += 1024) {
        results.push(...decoder.push(stream.subarray(at, at + 1024)));
      }
    });
    expect(results.map((r) => r.kind)).toEqual(['message']);
    expect(copied).toBeLessThanOrEqual(3 * stream.length);
  });

  it('writes the length little-endian, as Thunderbird reads it', () => {
    const frame = encodeFrame('é');
    expect(frame.readUInt32LE(0)).toBe(Buffer.byteLength('"é"'));
    expect(frame.subarray(4).toString('utf8')).toBe('"é"');
  });
});
