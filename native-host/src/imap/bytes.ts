import { MessageBytes } from './backend.js';

/** Collects a backend byte stream; views, not copies, of the chunks the backend hands out. */
export async function readAll(iter: AsyncIterable<Uint8Array>): Promise<Buffer> {
  if (iter instanceof MessageBytes) return asBuffer(iter.bytes);
  const chunks: Buffer[] = [];
  for await (const c of iter) chunks.push(asBuffer(c));
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
