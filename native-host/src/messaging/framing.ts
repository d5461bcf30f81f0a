/**
 * Native-messaging framing: a 4-byte little-endian length, then that many bytes of UTF-8
 * JSON. Pure: bytes in, messages or errors out, so split reads, several frames per
 * chunk and every kind of garbage are unit-testable without a process.
 */

export type FramingErrorCode = 'message_too_large' | 'bad_utf8' | 'bad_json';

export class FramingError extends Error {
  constructor(
    readonly code: FramingErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FramingError';
  }
}

export type Decoded = { kind: 'message'; value: unknown } | { kind: 'error'; error: FramingError };

const HEADER_BYTES = 4;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of an oversized frame still to be thrown away. */
  private discarding = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /**
   * Feed bytes as they arrive. An oversized frame is reported once and then skipped
   * without being buffered, so the stream stays in step and usable.
   */
  push(chunk: Buffer): Decoded[] {
    const out: Decoded[] = [];
    if (this.discarding > 0) {
      const skip = Math.min(this.discarding, chunk.byteLength);
      this.discarding -= skip;
      chunk = chunk.subarray(skip);
    }
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.byteLength;
    }
    while (this.buffered >= HEADER_BYTES && this.discarding === 0) {
      const length = this.peekHeader();
      if (length > this.maxFrameBytes) {
        this.take(HEADER_BYTES);
        out.push({
          kind: 'error',
          error: new FramingError(
            'message_too_large',
            `A message of ${length} bytes exceeds the limit of ${this.maxFrameBytes} bytes.`,
          ),
        });
        const skip = Math.min(length, this.buffered);
        this.take(skip);
        this.discarding = length - skip;
        continue;
      }
      if (this.buffered < HEADER_BYTES + length) break;
      this.take(HEADER_BYTES);
      out.push(parseBody(this.take(length)));
    }
    return out;
  }

  /** Bytes received but not yet part of a whole frame (a truncated frame at EOF). */
  get pendingBytes(): number {
    return this.buffered + this.discarding;
  }

  private peekHeader(): number {
    // A header split across reads is joined once and kept joined: joining afresh on every
    // later read would copy the whole buffered frame each time, quadratic in its size.
    if (this.chunks[0]!.byteLength < HEADER_BYTES) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.readUInt32LE(0);
  }

  private take(count: number): Buffer {
    if (count === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    let result: Buffer;
    if (first.byteLength >= count) {
      result = first.subarray(0, count);
      if (first.byteLength === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
    } else {
      const whole = Buffer.concat(this.chunks);
      result = whole.subarray(0, count);
      this.chunks = whole.byteLength > count ? [whole.subarray(count)] : [];
    }
    this.buffered -= count;
    return result;
  }
}

function parseBody(body: Buffer): Decoded {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return {
      kind: 'error',
      error: new FramingError('bad_utf8', 'The message is not valid UTF-8.'),
    };
  }
  try {
    return { kind: 'message', value: JSON.parse(text) as unknown };
  } catch {
    const what = body.byteLength === 0 ? 'an empty message' : 'not valid JSON';
    return { kind: 'error', error: new FramingError('bad_json', `The message is ${what}.`) };
  }
}

export function encodeFrame(value: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(body.byteLength, 0);
  return Buffer.concat([header, body]);
}
