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

/** Collects chunks per id; returns the whole envelope's JSON text once the last one is in. */
export class ChunkAssembler {
  private readonly pending = new Map<
    string,
    { count: number; parts: Uint8Array[]; have: number }
  >();

  constructor(private readonly maxTotalBytes = 256 * 1024 * 1024) {}

  add(chunk: ChunkEnvelope): string | null {
    if (
      !Number.isInteger(chunk.count) ||
      chunk.count < 1 ||
      chunk.index < 0 ||
      chunk.index >= chunk.count
    ) {
      this.pending.delete(chunk.id);
      throw new Error(`chunk ${chunk.index}/${chunk.count} of ${chunk.id} is out of range`);
    }
    let entry = this.pending.get(chunk.id);
    if (!entry) {
      entry = { count: chunk.count, parts: new Array<Uint8Array>(chunk.count), have: 0 };
      this.pending.set(chunk.id, entry);
    }
    if (entry.count !== chunk.count) {
      this.pending.delete(chunk.id);
      throw new Error(`chunks of ${chunk.id} disagree on their count`);
    }
    if (!entry.parts[chunk.index]) entry.have++;
    entry.parts[chunk.index] = fromBase64(chunk.data);
    const total = entry.parts.reduce((sum, p) => sum + (p?.byteLength ?? 0), 0);
    if (total > this.maxTotalBytes) {
      this.pending.delete(chunk.id);
      throw new Error(`chunked message ${chunk.id} exceeds ${this.maxTotalBytes} bytes`);
    }
    if (entry.have < entry.count) return null;
    this.pending.delete(chunk.id);
    const whole = new Uint8Array(total);
    let offset = 0;
    for (const part of entry.parts) {
      whole.set(part, offset);
      offset += part.byteLength;
    }
    return decoder.decode(whole);
  }

  get inFlight(): number {
    return this.pending.size;
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

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
