/**
 * Splitting an envelope that is too large for one native message into chunks, and putting
 * it back together. Chunks carry base64 of the UTF-8 JSON so their size is predictable
 * (JSON-escaping a slice could grow it up to six times).
 */
import type { ChunkEnvelope, Envelope } from './rpc.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Bytes of JSON that still fit once base64-encoded (4/3) into a chunk of `maxBytes`. */
function sliceBytesFor(maxBytes: number): number {
  const envelopeOverhead = 200;
  return Math.floor(((maxBytes - envelopeOverhead) * 3) / 4 / 3) * 3;
}

export function byteLength(text: string): number {
  return encoder.encode(text).byteLength;
}

/** Returns the envelope as is when it fits, otherwise the chunks to send in order. */
export function toSendable(envelope: Envelope, maxBytes: number, chunkId: string): Envelope[] {
  const json = JSON.stringify(envelope);
  const bytes = encoder.encode(json);
  if (bytes.byteLength <= maxBytes) return [envelope];
  const slice = sliceBytesFor(maxBytes);
  const count = Math.ceil(bytes.byteLength / slice);
  const chunks: ChunkEnvelope[] = [];
  for (let index = 0; index < count; index++) {
    const part = bytes.subarray(index * slice, (index + 1) * slice);
    chunks.push({ type: 'chunk', id: chunkId, index, count, data: toBase64(part) });
  }
  return chunks;
}

/**
 * Most chunks one envelope may have: 1024 chunks of the sender's slice (about 768 KiB from
 * the host) is far beyond the 256 MiB a whole message may have, so honest senders never
 * come near it, while a crafted count cannot make the receiver set aside work for billions.
 */
export const MAX_CHUNK_COUNT = 1024;
const MAX_CHUNK_ID_LENGTH = 128;

export interface ChunkAssemblerOptions {
  /** Largest whole envelope, in bytes of JSON (the same bound a single message has). */
  maxTotalBytes?: number;
  /** A reassembly with no new chunk for this long is dropped. */
  idleMs?: number;
  /** Told when an unfinished reassembly is dropped (expired, or cut short by another message). */
  onDrop?: (error: Error) => void;
}

interface Reassembly {
  id: string;
  count: number;
  parts: Uint8Array[];
  bytes: number;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Puts one chunked envelope back together. A sender writes an envelope's chunks back to back,
 * in order (`toSendable` and a synchronous send loop; native messaging keeps the order), so
 * there is only ever one reassembly: any other message, a chunk out of order, one more
 * than its count or past the size bound ends it, and so does silence. Its memory is bounded
 * by `maxTotalBytes` and the work per chunk by the chunk's own size.
 */
export class ChunkAssembler {
  private current: Reassembly | null = null;
  private readonly maxTotalBytes: number;
  private readonly idleMs: number;

  constructor(private readonly options: ChunkAssemblerOptions = {}) {
    this.maxTotalBytes = options.maxTotalBytes ?? 256 * 1024 * 1024;
    this.idleMs = options.idleMs ?? 30_000;
  }

  /** The whole envelope's JSON text once its last chunk is in, null before. */
  add(chunk: ChunkEnvelope): string | null {
    const { id, index, count, data } = chunk;
    if (id.length > MAX_CHUNK_ID_LENGTH) throw this.refuse('a chunk id is too long');
    const where = `chunk ${index} of ${count} of ${id}`;
    if (!Number.isInteger(count) || count < 1 || count > MAX_CHUNK_COUNT)
      throw this.refuse(`${where}: a message has 1 to ${MAX_CHUNK_COUNT} chunks`);
    if (this.current && this.current.id !== id)
      this.drop('another message arrived before its last chunk');
    const entry = this.current ?? this.begin(id, count, where, index);
    if (entry.count !== count || index !== entry.parts.length)
      throw this.refuse(
        `${where} does not follow chunk ${entry.parts.length - 1} of ${entry.count}`,
      );
    // base64 is 4 characters for 3 bytes: refuse before decoding what could not fit anyway.
    if (entry.bytes + Math.floor((data.length * 3) / 4) > this.maxTotalBytes + 2)
      throw this.refuse(`${id} exceeds ${this.maxTotalBytes} bytes`);
    const part = fromBase64(data);
    if (part === null) throw this.refuse(`${where} is not base64`);
    entry.parts.push(part);
    entry.bytes += part.byteLength;
    if (entry.bytes > this.maxTotalBytes)
      throw this.refuse(`${id} exceeds ${this.maxTotalBytes} bytes`);
    if (entry.parts.length < entry.count) {
      entry.timer = this.expiry(entry.timer);
      return null;
    }
    this.clear();
    const whole = new Uint8Array(entry.bytes);
    let offset = 0;
    for (const p of entry.parts) {
      whole.set(p, offset);
      offset += p.byteLength;
    }
    try {
      return decoder.decode(whole);
    } catch {
      throw new Error(`chunked message ${id} is not UTF-8`);
    }
  }

  /** Another (unchunked) message arrived: an unfinished reassembly will never be completed. */
  interrupt(): void {
    if (this.current) this.drop('another message arrived before its last chunk');
  }

  /** Unfinished reassemblies (0 or 1). */
  get inFlight(): number {
    return this.current ? 1 : 0;
  }

  private begin(id: string, count: number, where: string, index: number): Reassembly {
    if (index !== 0) throw this.refuse(`${where} arrived without the chunks before it`);
    this.current = { id, count, parts: [], bytes: 0, timer: this.expiry() };
    return this.current;
  }

  private expiry(previous?: ReturnType<typeof setTimeout>): ReturnType<typeof setTimeout> {
    if (previous !== undefined) clearTimeout(previous);
    const timer = setTimeout(
      () => this.drop(`no chunk came for ${Math.round(this.idleMs / 1000)} s`),
      this.idleMs,
    );
    // In Node, a pending reassembly must not keep the process alive.
    (timer as { unref?: () => void }).unref?.();
    return timer;
  }

  private drop(why: string): void {
    const entry = this.current;
    if (!entry) return;
    this.clear();
    this.options.onDrop?.(
      new Error(
        `dropped the unfinished chunked message ${entry.id} (${entry.parts.length} of ${entry.count} chunks): ${why}`,
      ),
    );
  }

  /** Ends the reassembly in progress; returns the error to throw for the chunk at hand. */
  private refuse(why: string): Error {
    this.clear();
    return new Error(why);
  }

  private clear(): void {
    if (this.current) clearTimeout(this.current.timer);
    this.current = null;
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  const step = 0x8000;
  for (let i = 0; i < bytes.byteLength; i += step) {
    binary += String.fromCharCode(...bytes.subarray(i, i + step));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array | null {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return null;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
