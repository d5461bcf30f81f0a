/**
 * Native messaging under hostile input: whatever arrives on the host's stdin, the framing
 * gives messages or typed errors in order and stays in step, its work grows with the input
 * and not with how the input is cut; chunk reassembly keeps at most one message of bounded
 * size and recovers for the next honest one; the RPC peer never throws and answers every
 * request once.
 */
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChunkAssembler, MAX_CHUNK_COUNT, toSendable } from '../../shared/src/chunking.js';
import { RpcError } from '../../shared/src/errors.js';
import { RpcPeer } from '../../shared/src/rpc-peer.js';
import type { ChunkEnvelope, Envelope, MethodSpec } from '../../shared/src/rpc.js';
import {
  FrameDecoder,
  FramingError,
  encodeFrame,
  openStdioChannel,
  type Decoded,
} from '../../native-host/src/messaging/index.js';
import { bytesCopied } from '../helpers/copies.js';
import { fuzzRuns, fuzzTimeout, heapGrowth, MiB } from './runs.js';

// More runs (LEAPBIRD_FUZZ_RUNS) get more time.
vi.setConfig({ testTimeout: fuzzTimeout(60_000) });

const MAX_FRAME = 2048;

function frameOf(length: number, body: Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32LE(length, 0);
  return Buffer.concat([header, body]);
}

/** One frame on the wire and what the decoder must make of it. */
type Frame = { bytes: Buffer; expect: (d: Decoded) => void };

const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => encodeFrame(v).length - 4 <= MAX_FRAME);
const frame: fc.Arbitrary<Frame> = fc.oneof(
  json.map((value) => ({
    bytes: encodeFrame(value),
    expect: (d: Decoded) =>
      expect(d).toEqual({ kind: 'message', value: JSON.parse(JSON.stringify(value)) }),
  })),
  // Up to the largest frame allowed.
  fc.integer({ min: 0, max: MAX_FRAME - 2 }).map((n) => ({
    bytes: encodeFrame('x'.repeat(n)),
    expect: (d: Decoded) => expect(d).toEqual({ kind: 'message', value: 'x'.repeat(n) }),
  })),
  // Bytes that are rarely JSON and often not UTF-8.
  fc.uint8Array({ maxLength: 64 }).map((body) => ({
    bytes: frameOf(body.length, body),
    expect: (d: Decoded) => {
      if (d.kind === 'message') return;
      expect(d.error).toBeInstanceOf(FramingError);
      expect(['bad_utf8', 'bad_json']).toContain(d.error.code);
    },
  })),
  // Declared too large, with its body: skipped, and the stream stays in step.
  fc.integer({ min: MAX_FRAME + 1, max: 3 * MAX_FRAME }).map((length) => ({
    bytes: frameOf(length, Buffer.alloc(length, 0x7b)),
    expect: (d: Decoded) =>
      expect(d).toMatchObject({ kind: 'error', error: { code: 'message_too_large' } }),
  })),
);

/** `data` in pieces of the given sizes (cycled), the last piece whatever is left. */
function cut(data: Buffer, sizes: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    pieces.push(data.subarray(at, at + size));
    at += size;
  }
  return pieces;
}
const pieceSizes = fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 });

describe('framing', () => {
  it('decodes any run of frames, however cut, to one result per frame, in order', () => {
    let worst = 0;
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 12 }), pieceSizes, (frames, sizes) => {
        const stream = Buffer.concat(frames.map((f) => f.bytes));
        const decoder = new FrameDecoder(MAX_FRAME);
        const out: Decoded[] = [];
        const copied = bytesCopied(() => {
          for (const piece of cut(stream, sizes)) out.push(...decoder.push(piece));
        });
        expect(out).toHaveLength(frames.length);
        frames.forEach((f, i) => f.expect(out[i]!));
        expect(decoder.pendingBytes).toBe(0);
        // Each byte is copied a bounded number of times, however small the pieces.
        expect(copied).toBeLessThanOrEqual(3 * stream.length + 64);
        worst = Math.max(worst, stream.length ? copied / stream.length : 0);
      }),
      { numRuns: fuzzRuns(400) },
    );
    console.log(`[fuzz] framing: at most ${worst.toFixed(2)} bytes copied per byte received`);
  });

  it('turns any bytes into messages or typed errors without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), pieceSizes, (bytes, sizes) => {
        const decoder = new FrameDecoder(MAX_FRAME);
        for (const piece of cut(Buffer.from(bytes), sizes)) {
          for (const d of decoder.push(piece)) {
            if (d.kind === 'error') {
              expect(['message_too_large', 'bad_utf8', 'bad_json']).toContain(d.error.code);
              expect(d.error.message.length).toBeGreaterThan(10);
            }
          }
        }
        // What is left is the unfinished frame: its header said how long it would be.
        expect(decoder.pendingBytes).toBeLessThanOrEqual(bytes.length + 0xffffffff);
      }),
      { numRuns: fuzzRuns(400) },
    );
  });
});

describe('chunk reassembly', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const MAX_TOTAL = 4096;
  const base64 = fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b).toString('base64'));
  const hostileChunk: fc.Arbitrary<ChunkEnvelope> = fc.record({
    type: fc.constant('chunk' as const),
    id: fc.oneof(fc.constantFrom('a', 'b', ''), fc.string({ minLength: 100, maxLength: 200 })),
    index: fc.oneof(
      fc.integer({ min: -2, max: 6 }),
      fc.constantFrom(NaN, 0.5, 2 ** 32, MAX_CHUNK_COUNT, -0),
    ),
    count: fc.oneof(
      fc.integer({ min: -1, max: 6 }),
      fc.constantFrom(NaN, Infinity, 1.5, 2 ** 32, MAX_CHUNK_COUNT, MAX_CHUNK_COUNT + 1),
    ),
    data: fc.oneof(base64, fc.string({ maxLength: 40 }), fc.constant('')),
  });

  it('accepts, waits or refuses in words; holds at most one message of bounded size; then takes the next honest one', () => {
    fc.assert(
      fc.property(
        fc.array(hostileChunk, { maxLength: 30 }),
        fc.string({ maxLength: 2000 }),
        (chunks, text) => {
          const dropped: Error[] = [];
          const assembler = new ChunkAssembler({
            maxTotalBytes: MAX_TOTAL,
            onDrop: (e) => dropped.push(e),
          });
          for (const chunk of chunks) {
            try {
              const whole = assembler.add(chunk);
              if (whole !== null) expect(Buffer.byteLength(whole)).toBeLessThanOrEqual(MAX_TOTAL);
            } catch (error) {
              expect(error).toBeInstanceOf(Error);
              expect((error as Error).message.length).toBeGreaterThan(10);
            }
            expect(assembler.inFlight).toBeLessThanOrEqual(1);
          }
          for (const e of dropped) expect(e.message).toMatch(/^dropped the unfinished/);
          // An honest sender's next message comes through whatever came before it.
          const envelope: Envelope = { type: 'event', name: 'text', data: text };
          const parts = toSendable(envelope, 600, 'honest');
          let whole: string | null = null;
          for (const part of parts) {
            // What RpcPeer does with a message that is no chunk.
            if (part.type === 'chunk') whole = assembler.add(part);
            else assembler.interrupt();
          }
          if (parts.length > 1) expect(JSON.parse(whole!)).toEqual(envelope);
          expect(assembler.inFlight).toBe(0);
        },
      ),
      { numRuns: fuzzRuns(400) },
    );
  });

  it('lets any unfinished message expire', () => {
    vi.useFakeTimers();
    fc.assert(
      fc.property(fc.array(hostileChunk, { minLength: 1, maxLength: 10 }), (chunks) => {
        const assembler = new ChunkAssembler({ maxTotalBytes: MAX_TOTAL, idleMs: 1000 });
        for (const chunk of chunks) {
          try {
            assembler.add(chunk);
          } catch {
            // refused: tested above
          }
        }
        vi.advanceTimersByTime(1001);
        expect(assembler.inFlight).toBe(0);
      }),
      { numRuns: fuzzRuns(200) },
    );
  });
});

type HostMethods = { echo: MethodSpec<unknown, unknown> };

describe('RPC peer', () => {
  /** Envelope-like values: right and wrong types in every field, chunks of real envelopes. */
  const value = fc.jsonValue({ maxDepth: 2 });
  const envelopeLike = fc.oneof(
    value,
    fc.record(
      {
        type: fc.constantFrom('request', 'response', 'event', 'chunk', 'other'),
        id: fc.oneof(fc.string({ maxLength: 8 }), value),
        method: fc.oneof(fc.constantFrom('echo', 'missing', '__proto__', 'constructor'), value),
        params: value,
        result: value,
        error: fc.oneof(value, fc.record({ code: fc.string(), message: fc.string() })),
        name: fc.oneof(fc.string({ maxLength: 8 }), value),
        data: value,
        index: fc.oneof(fc.nat(3), value),
        count: fc.oneof(fc.nat(3), value),
      },
      { requiredKeys: ['type'] },
    ),
  );

  it('never throws, answers every request and reports the rest in words', async () => {
    const growth = await heapGrowth('RPC peer', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(envelopeLike, { maxLength: 20 }),
          fc.boolean(),
          async (messages, chunked) => {
            const sent: Envelope[] = [];
            const errors: RpcError[] = [];
            const peer = new RpcPeer<HostMethods, HostMethods, Record<string, unknown>, never>({
              idPrefix: 'h',
              send: (e) => sent.push(JSON.parse(JSON.stringify(e)) as Envelope),
              maxIncomingBytes: 64 * 1024,
              timeoutMs: 1000,
              onProtocolError: (e) => errors.push(e),
            });
            peer.handle('echo', (params) => params);
            peer.on('progress', () => {
              throw new Error('a listener that fails');
            });
            // Half of the runs get each message as the chunks an honest sender would make.
            messages.forEach((message, i) => {
              const wire = chunked
                ? toSendable(message as Envelope, 300, `c${i}`)
                : [JSON.parse(JSON.stringify(message ?? null)) as unknown];
              for (const part of wire) expect(() => peer.receive(part)).not.toThrow();
            });
            await new Promise((resolve) => setTimeout(resolve, 0));
            const requests = (messages as unknown[])
              .filter(
                (m) =>
                  typeof m === 'object' &&
                  m !== null &&
                  (m as { type?: unknown }).type === 'request' &&
                  typeof (m as { id?: unknown }).id === 'string' &&
                  typeof (m as { method?: unknown }).method === 'string' &&
                  'params' in m,
              )
              .map((m) => m as { id: string });
            for (const { id } of requests) {
              const answers = sent.filter((e) => e.type === 'response' && e.id === id);
              expect(answers.length).toBeGreaterThanOrEqual(
                requests.filter((r) => r.id === id).length,
              );
            }
            for (const e of sent) expect(e.type).toBe('response');
            for (const e of errors) {
              expect(e).toBeInstanceOf(RpcError);
              expect(e.message.length).toBeGreaterThan(5);
            }
            peer.close();
          },
        ),
        { numRuns: fuzzRuns(300) },
      );
    });
    // Nothing of the runs stays behind (no reassembly, no pending call): far below 16 MiB.
    expect(growth).toBeLessThan(16 * MiB);
  });
});

describe("the host's stdio channel", () => {
  it('answers framed requests among garbage frames with well-formed frames only', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 6 }).map((id) => ({
              request: `r${id}`,
              bytes: encodeFrame({ type: 'request', id: `r${id}`, method: 'echo', params: id }),
            })),
            frame.map((f) => ({ request: null, bytes: f.bytes })),
          ),
          { maxLength: 12 },
        ),
        pieceSizes,
        async (frames, sizes) => {
          const input = new PassThrough();
          const output = new PassThrough();
          const received = new FrameDecoder(1024 * 1024);
          const replies: Decoded[] = [];
          output.on('data', (chunk: Buffer) => replies.push(...received.push(chunk)));
          const peer: RpcPeer<
            HostMethods,
            HostMethods,
            Record<string, unknown>,
            never
          > = new RpcPeer({ idPrefix: 'h', send: (e) => channel.send(e), timeoutMs: 1000 });
          peer.handle('echo', (params) => params);
          const channel = openStdioChannel({
            input,
            output,
            maxIncomingBytes: MAX_FRAME,
            onMessage: (m) => peer.receive(m),
            onFramingError: (e) => expect(e).toBeInstanceOf(RpcError),
            onClose: () => undefined,
          });
          for (const piece of cut(Buffer.concat(frames.map((f) => f.bytes)), sizes))
            input.write(piece);
          input.end();
          await new Promise((resolve) => setTimeout(resolve, 0));
          for (const reply of replies) expect(reply.kind).toBe('message');
          const ids = replies.map((r) =>
            r.kind === 'message' ? (r.value as { id: string }).id : '',
          );
          for (const f of frames) if (f.request) expect(ids).toContain(f.request);
          peer.close();
        },
      ),
      { numRuns: fuzzRuns(200) },
    );
  });
});
