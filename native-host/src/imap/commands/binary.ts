/**
 * RFC 3516 BINARY[part] and BINARY.SIZE[part]: a part's content with its transfer encoding
 * undone. A leaf part is decoded; a message or multipart is converted as a whole, as
 * Dovecot does: every base64 or quoted-printable part inside decoded and its
 * Content-Transfer-Encoding field rewritten to `binary`, everything else kept byte for byte.
 * Any part in an encoding the server does not know makes it NO [UNKNOWN-CTE].
 */
import { readAll } from '../bytes.js';
import {
  decodeTransferEncoding,
  findPart,
  type BodyStructure,
  type PartLayout,
} from '../../mime/index.js';
import type { BodySectionRequest } from '../protocol/fetch-items.js';
import type { ImapSession } from '../session.js';
import { CommandRefusal } from './types.js';

export type BinarySection =
  /** `literal8`: sent as `~{n}`, which may carry NULs; else as a plain literal. */
  | { kind: 'content'; bytes: Buffer; literal8: boolean }
  | { kind: 'missing' }
  | { kind: 'size'; size: number };

/** The body structure node at a section path, walked as mime's findPart walks the layout. */
function structureAt(body: BodyStructure, path: number[]): BodyStructure | null {
  let node = body;
  let atMessage = true;
  for (const n of path) {
    if (node.kind === 'multipart') {
      const child = node.parts[n - 1];
      if (!child) return null;
      node = child;
    } else if (n === 1 && atMessage) {
      // Part 1 of a message that is not multipart is its body.
    } else if (node.kind === 'message' && !atMessage) {
      const inner: BodyStructure = node.body;
      const child = inner.kind === 'multipart' ? inner.parts[n - 1] : n === 1 ? inner : undefined;
      if (!child) return null;
      node = child;
    } else {
      return null;
    }
    atMessage = false;
  }
  return node;
}

const CTE_FIELD = /^content-transfer-encoding[ \t]*:.*(?:\r?\n[ \t].*)*\r?\n/im;

const IDENTITY = new Set(['7bit', '8bit', 'binary']);

/**
 * The entity with its transfer encodings undone. `raw` holds the message from offset
 * `base` on (the layout's offsets are absolute in the message).
 */
function convert(
  raw: Buffer,
  base: number,
  layout: PartLayout,
  body: BodyStructure,
  withHeader: boolean,
): Buffer {
  const slice = (from: number, to: number) => raw.subarray(from - base, to - base);
  const header = slice(layout.headerStart, layout.headerEnd);
  if (body.kind === 'multipart' || body.kind === 'message') {
    const children = body.kind === 'multipart' ? body.parts : [body.body];
    const out: Buffer[] = withHeader ? [header] : [];
    let pos = layout.headerEnd;
    layout.children.forEach((child, i) => {
      out.push(slice(pos, child.headerStart));
      out.push(convert(raw, base, child, children[i]!, true));
      pos = child.bodyEnd;
    });
    out.push(slice(pos, layout.bodyEnd));
    return Buffer.concat(out);
  }
  const content = slice(layout.headerEnd, layout.bodyEnd);
  const encoding = body.encoding.toLowerCase();
  if (IDENTITY.has(encoding))
    return withHeader ? slice(layout.headerStart, layout.bodyEnd) : content;
  const decoded = decodeTransferEncoding(content, encoding);
  if (!decoded) throw new CommandRefusal('UNKNOWN-CTE', 'Unknown Content-Transfer-Encoding');
  if (!withHeader) return decoded;
  const text = header
    .toString('latin1')
    .replace(CTE_FIELD, 'Content-Transfer-Encoding: binary\r\n');
  return Buffer.concat([Buffer.from(text, 'latin1'), decoded]);
}

const DECODED = new Set(['base64', 'quoted-printable']);

/** Whether a part of the message is in an encoding BINARY undoes. */
function isEncoded(body: BodyStructure): boolean {
  if (body.kind === 'multipart') return body.parts.some(isEncoded);
  const own = DECODED.has(body.encoding.toLowerCase());
  return body.kind === 'message' ? own || isEncoded(body.body) : own;
}

/** BINARY[path]<partial> or BINARY.SIZE[path] of one message. */
export async function binarySection(
  session: ImapSession,
  mailboxId: string,
  uid: number,
  section: BodySectionRequest,
): Promise<BinarySection> {
  let layout: PartLayout | undefined;
  let structure: BodyStructure | undefined;
  let size = 0;
  for await (const meta of session.account.fetch(mailboxId, [{ start: uid, end: uid }], {
    want: { layout: true, bodyStructure: true },
  })) {
    ({ layout, bodyStructure: structure, size } = meta);
  }
  if (!layout || !structure) return { kind: 'missing' };
  const part = section.path.length ? findPart(layout, section.path) : layout;
  const body = section.path.length ? structureAt(structure, section.path) : structure;
  if (!part || !body) return { kind: 'missing' };
  // Only the part's bytes are read (its MIME header too, which stays unused for a leaf).
  const start = section.path.length ? part.headerStart : 0;
  const end = section.path.length ? part.bodyEnd : size;
  const raw = await readAll(await session.account.readMessage(mailboxId, uid, { start, end }));
  const converted = convert(raw, start, part, body, section.path.length === 0);
  if (section.binary === 'size') return { kind: 'size', size: converted.length };
  const { partial } = section;
  const from = partial ? Math.min(partial.start, converted.length) : 0;
  const bytes = partial
    ? converted.subarray(from, Math.min(converted.length, from + partial.length))
    : converted;
  // A NUL needs literal8 (RFC 3516 4.3); otherwise Dovecot's choice: literal8 once any part
  // of the message is base64 or quoted-printable.
  return { kind: 'content', bytes, literal8: isEncoded(structure) || bytes.includes(0) };
}
