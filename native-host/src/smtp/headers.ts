/**
 * Just enough of RFC 5322 for the submission path: the header section read off the front
 * of a stream (the body streams on untouched), unfolded fields, the addresses in To/Cc, and
 * the removal of fields that must not leave the machine (Bcc, the add-on's X-Leap-*).
 */
import addressparser from 'nodemailer/lib/addressparser';

/** A header section larger than this is not a mail header but a broken or hostile input. */
export const MAX_HEADER_BYTES = 1024 * 1024;

export interface HeaderField {
  /** Lower case. */
  name: string;
  /** Unfolded, trimmed. */
  value: string;
  /** The field as it came, folding and line ends included. */
  raw: Buffer;
}

export interface Head {
  /** The header section, without the empty line that ends it. */
  header: Buffer;
  /** The empty line (CRLF or LF) plus whatever body bytes were read with the header. */
  bodyStart: Buffer;
  /** The rest of the message. */
  rest: AsyncIterator<Uint8Array>;
}

/** Where the header section ends: its length, and where the body starts. */
function headerEnd(buffer: Buffer): { length: number; body: number } | null {
  if (buffer[0] === 0x0a) return { length: 0, body: 0 };
  if (buffer[0] === 0x0d && buffer[1] === 0x0a) return { length: 0, body: 0 };
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf === -1 && lf === -1) return null;
  if (lf === -1 || (crlf !== -1 && crlf < lf)) return { length: crlf + 2, body: crlf + 2 };
  return { length: lf + 1, body: lf + 1 };
}

/**
 * Reads the header section off the front of a message. Null when it does not end within
 * {@link MAX_HEADER_BYTES} (or the message has no body separator and is that large).
 */
export async function readHead(source: AsyncIterable<Uint8Array>): Promise<Head | null> {
  const rest = source[Symbol.asyncIterator]();
  let buffered = Buffer.alloc(0);
  for (;;) {
    const end = headerEnd(buffered);
    if (end) {
      return {
        header: buffered.subarray(0, end.length),
        bodyStart: buffered.subarray(end.body),
        rest,
      };
    }
    if (buffered.length > MAX_HEADER_BYTES) return null;
    const next = await rest.next();
    if (next.done) return { header: buffered, bodyStart: Buffer.alloc(0), rest };
    buffered = Buffer.concat([buffered, Buffer.from(next.value)]);
  }
}

export function parseFields(header: Buffer): HeaderField[] {
  const fields: HeaderField[] = [];
  let start = 0;
  while (start < header.length) {
    // A field runs until a line end that is not followed by folding white space.
    let end = start;
    for (;;) {
      const nl = header.indexOf(0x0a, end);
      if (nl === -1) {
        end = header.length;
        break;
      }
      end = nl + 1;
      const next = header[end];
      if (next !== 0x20 && next !== 0x09) break;
    }
    const raw = header.subarray(start, end);
    const text = raw.toString('utf8');
    const colon = text.indexOf(':');
    if (colon > 0) {
      fields.push({
        name: text.slice(0, colon).trim().toLowerCase(),
        value: text
          .slice(colon + 1)
          .replace(/\r?\n[ \t]/g, ' ')
          .trim(),
        raw,
      });
    }
    start = end;
  }
  return fields;
}

export function fieldValue(fields: HeaderField[], name: string): string | null {
  return fields.find((f) => f.name === name)?.value ?? null;
}

/** Lower-case addresses named in the given fields (groups flattened). */
export function addressesIn(fields: HeaderField[], names: string[]): string[] {
  return fields
    .filter((f) => names.includes(f.name))
    .flatMap((f) => addressparser(f.value, { flatten: true }))
    .map((a) => a.address.toLowerCase())
    .filter((a) => a.includes('@'));
}

/** Fields of the add-on's that steer this server and never leave the machine. */
export const isLocalControlField = (name: string) => name.startsWith('x-leap-');

/**
 * The message with the header fields `drop` selects removed; the body streams through as
 * it came. `head` must come from {@link readHead} on the same source.
 */
export async function* withoutFields(
  head: Head,
  drop: (name: string) => boolean,
): AsyncGenerator<Buffer> {
  const kept = parseFields(head.header).filter((f) => !drop(f.name));
  yield Buffer.concat([...kept.map((f) => f.raw), head.bodyStart]);
  for (let next = await head.rest.next(); !next.done; next = await head.rest.next()) {
    yield Buffer.from(next.value);
  }
}
