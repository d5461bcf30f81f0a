/** Collects a backend byte stream; views, not copies, of the chunks the backend hands out. */
export async function readAll(iter: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of iter) chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
