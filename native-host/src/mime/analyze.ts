/**
 * One streaming pass over a raw message: only headers and boundary lines are kept, so a
 * 200 MB message needs no more memory than its headers. Malformed MIME never throws: a part
 * whose boundary never comes ends with its parent, a header without its blank line ends at
 * the next boundary, and a broken Content-Type falls back to the default.
 */
import {
  decodeHeaderBytes,
  firstField,
  parseAddressList,
  parseContentType,
  parseHeaderFields,
  parseParameterized,
  type HeaderField,
} from './header.js';
import type {
  BodyExtension,
  BodyStructure,
  Envelope,
  MessageAnalysis,
  PartLayout,
} from './types.js';

/** Header bytes kept per part; the rest of an absurdly long header is counted but not parsed. */
const MAX_HEADER_BYTES = 256 * 1024;
/** Bytes of each line kept for boundary matching (RFC 2046 limits boundaries to 70 chars). */
const MAX_LINE_PREFIX = 1024;
/** Nesting beyond this is treated as opaque content, so hostile input cannot blow the stack. */
const MAX_DEPTH = 64;

interface Part {
  layout: PartLayout;
  headerChunks: Uint8Array[];
  headerBytes: number;
  inHeader: boolean;
  defaultType: string;
  fields: HeaderField[];
  /** For multiparts: the boundary, and whether the close delimiter was seen. */
  boundary: string | null;
  closed: boolean;
  /** Before the first boundary of a multipart. */
  preamble: boolean;
  lfAtBodyStart: number;
  lfAtBodyEnd: number;
  childParts: Part[];
  depth: number;
  /** The message inside a message/rfc822 part. */
  encapsulated: boolean;
}

export interface MimeAnalyzer {
  write(chunk: Uint8Array): void;
  end(): MessageAnalysis;
}

function newPart(start: number, defaultType: string, depth: number): Part {
  return {
    layout: { headerStart: start, headerEnd: start, bodyEnd: start, kind: 'leaf', children: [] },
    headerChunks: [],
    headerBytes: 0,
    inHeader: true,
    defaultType,
    fields: [],
    boundary: null,
    closed: false,
    preamble: true,
    lfAtBodyStart: 0,
    lfAtBodyEnd: 0,
    childParts: [],
    depth,
    encapsulated: false,
  };
}

export function createMimeAnalyzer(): MimeAnalyzer {
  const root = newPart(0, 'text/plain', 0);
  /** Open parts, outermost first. */
  const stack: Part[] = [root];
  let offset = 0;
  let lfCount = 0;
  // The line being assembled: its start, a bounded prefix, and its full length so far.
  let lineStart = 0;
  let linePrefix: Uint8Array[] = [];
  let linePrefixLen = 0;
  // The previous complete line, for the CRLF that belongs to a following boundary.
  let prevEolLen = 0;
  /** The previous line was a close delimiter "--b--" (lastLineWasClose: the current one is). */
  let previousWasClose = false;
  let lastLineWasClose = false;
  /** The part whose header the previous line (the empty one) ended (lastHeaderEnded: this one). */
  let previousHeaderEnded: Part | null = null;
  let lastHeaderEnded: Part | null = null;
  let ended = false;
  /** Last byte of the previous chunk, to see a CR split from its LF across chunks. */
  let lastByte = -1;

  const endHeader = (part: Part, at: number) => {
    part.inHeader = false;
    part.layout.headerEnd = at;
    part.lfAtBodyStart = lfCount;
    const text = decodeHeaderBytes(concat(part.headerChunks, part.headerBytes));
    part.headerChunks = [];
    part.fields = parseHeaderFields(text);
    if (part.depth >= MAX_DEPTH) return;
    const ct = parseContentType(firstField(part.fields, 'content-type'), part.defaultType);
    const encoding = (firstField(part.fields, 'content-transfer-encoding') ?? '7bit').toLowerCase();
    const boundary = ct.params?.find(([k]) => k.toLowerCase() === 'boundary')?.[1];
    if (ct.type === 'multipart' && boundary) {
      part.layout.kind = 'multipart';
      part.boundary = boundary;
    } else if (
      ct.type === 'message' &&
      (ct.subtype === 'rfc822' || ct.subtype === 'global') &&
      !['base64', 'quoted-printable'].includes(encoding)
    ) {
      // The encapsulated message starts right at the body.
      part.layout.kind = 'message';
      const child = newPart(at, 'text/plain', part.depth + 1);
      child.encapsulated = true;
      part.childParts.push(child);
      stack.push(child);
    }
  };

  const closePart = (part: Part, end: number, lfAtEnd: number) => {
    if (part.inHeader) {
      // The part is already off the stack (its callers pop first): what endHeader pushes is
      // its message child, empty, which closes here too. Comparing with the top instead
      // would take the parent for such a child and close it early.
      const depth = stack.length;
      endHeader(part, end);
      if (stack.length > depth) closePart(stack.pop()!, end, lfAtEnd);
    }
    part.layout.bodyEnd = end;
    part.lfAtBodyEnd = lfAtEnd;
  };

  /** A boundary line at `start` ends the body of every part above `level` one line earlier. */
  const closeAbove = (level: number, start: number) => {
    // The line break before a boundary belongs to the boundary, except right after a close
    // delimiter, whose line break ends that line (Dovecot counts it into the enclosing part),
    // and right after the empty line that ends the header of an encapsulated message, which
    // keeps that line as Dovecot does.
    const eol = previousWasClose || previousHeaderEnded?.encapsulated ? 0 : prevEolLen;
    const end = Math.max(start - eol, 0);
    const lfAtEnd = lfCount - (eol > 0 ? 1 : 0);
    while (stack.length - 1 > level) {
      const part = stack.pop()!;
      // A part's body can never start after the boundary that ends it.
      closePart(part, Math.max(end, part.layout.headerStart), lfAtEnd);
      // A boundary right after the empty line of any other header takes that line's break,
      // as Dovecot does: the header ends before it and the body is empty (never a negative
      // size).
      if (part.layout.headerEnd > part.layout.bodyEnd) {
        part.layout.headerEnd = part.layout.bodyEnd;
        for (const child of part.childParts) clampPart(child, part.layout.bodyEnd);
      }
    }
  };

  const onLine = (
    start: number,
    length: number,
    prefix: Uint8Array,
    hasLf: boolean,
    eolLen: number,
  ) => {
    // Boundary lines: check every open multipart, innermost first.
    if (prefix[0] === 0x2d && prefix[1] === 0x2d) {
      for (let level = stack.length - 1; level >= 0; level--) {
        const part = stack[level]!;
        if (part.boundary === null || part.inHeader) continue;
        const kind = matchBoundary(prefix, part.boundary);
        if (kind === null) continue;
        if (part.closed && kind === 'close') continue;
        closeAbove(level, start);
        lastLineWasClose = kind === 'close';
        if (kind === 'close') {
          part.closed = true;
        } else if (!part.closed) {
          part.preamble = false;
          const isDigest = firstContentSubtype(part) === 'digest';
          const child = newPart(
            start + length,
            isDigest ? 'message/rfc822' : 'text/plain',
            part.depth + 1,
          );
          part.childParts.push(child);
          stack.push(child);
        }
        if (hasLf) lfCount++;
        return;
      }
    }
    const top = stack[stack.length - 1]!;
    if (top.inHeader) {
      if (hasLf && length === eolLen) {
        lfCount++;
        lastHeaderEnded = top;
        endHeader(top, start + length);
        return;
      }
      if (top.headerBytes < MAX_HEADER_BYTES) {
        const keep = prefix.subarray(
          0,
          Math.min(prefix.length, MAX_HEADER_BYTES - top.headerBytes),
        );
        top.headerChunks.push(keep);
        top.headerBytes += keep.length;
      }
    }
    if (hasLf) lfCount++;
  };

  const feedLine = (chunk: Uint8Array, from: number, to: number) => {
    if (linePrefixLen < MAX_LINE_PREFIX + 2 || stack[stack.length - 1]!.inHeader) {
      const room =
        (stack[stack.length - 1]!.inHeader ? MAX_HEADER_BYTES : MAX_LINE_PREFIX + 2) -
        linePrefixLen;
      if (room > 0) {
        const piece = chunk.subarray(from, Math.min(to, from + room));
        linePrefix.push(piece);
        linePrefixLen += piece.length;
      }
    }
  };

  const completeLine = (end: number, hasLf: boolean, crBeforeLf: boolean) => {
    const prefix = concat(linePrefix, linePrefixLen);
    const length = end - lineStart;
    const eolLen = hasLf ? (crBeforeLf && length >= 2 ? 2 : 1) : 0;
    onLine(lineStart, length, prefix, hasLf, eolLen);
    prevEolLen = eolLen;
    previousWasClose = lastLineWasClose;
    lastLineWasClose = false;
    previousHeaderEnded = lastHeaderEnded;
    lastHeaderEnded = null;
    lineStart = end;
    linePrefix = [];
    linePrefixLen = 0;
  };

  return {
    write(chunk: Uint8Array) {
      if (ended) throw new Error('MIME analyzer already ended');
      let pos = 0;
      while (pos < chunk.length) {
        const lf = chunk.indexOf(0x0a, pos);
        if (lf < 0) {
          feedLine(chunk, pos, chunk.length);
          offset += chunk.length - pos;
          break;
        }
        feedLine(chunk, pos, lf + 1);
        offset += lf + 1 - pos;
        pos = lf + 1;
        completeLine(offset, true, (lf > 0 ? chunk[lf - 1] : lastByte) === 0x0d);
      }
      if (chunk.length) lastByte = chunk[chunk.length - 1]!;
    },
    end(): MessageAnalysis {
      if (ended) throw new Error('MIME analyzer already ended');
      ended = true;
      if (offset > lineStart) completeLine(offset, false, false);
      // EOF ends every open part; the last line's terminator belongs to the body here.
      while (stack.length) closePart(stack.pop()!, offset, lfCount);
      const bodyStructure = buildStructure(root);
      return {
        envelope: buildEnvelope(root.fields),
        bodyStructure,
        layout: root.layout,
        size: offset,
      };
    },
  };
}

/** Moves a part (an empty message/rfc822 inside one just shortened) to end by `limit`. */
function clampPart(part: Part, limit: number): void {
  const layout = part.layout;
  layout.headerStart = Math.min(layout.headerStart, limit);
  layout.headerEnd = Math.min(layout.headerEnd, limit);
  layout.bodyEnd = Math.min(layout.bodyEnd, limit);
  for (const child of part.childParts) clampPart(child, limit);
}

function firstContentSubtype(part: Part): string {
  return parseContentType(firstField(part.fields, 'content-type'), part.defaultType).subtype;
}

/** "--boundary" (with optional trailing whitespace) or "--boundary--". */
function matchBoundary(line: Uint8Array, boundary: string): 'part' | 'close' | null {
  const b = boundary;
  if (line.length < b.length + 2) return null;
  for (let i = 0; i < b.length; i++) if (line[i + 2] !== b.charCodeAt(i)) return null;
  let i = b.length + 2;
  let kind: 'part' | 'close' = 'part';
  if (line[i] === 0x2d && line[i + 1] === 0x2d) {
    kind = 'close';
    i += 2;
  }
  for (; i < line.length; i++) {
    const c = line[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return null;
  }
  return kind;
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function buildEnvelope(fields: HeaderField[]): Envelope {
  const from = parseAddressList(firstField(fields, 'from'));
  const sender = parseAddressList(firstField(fields, 'sender')) ?? from;
  const replyTo = parseAddressList(firstField(fields, 'reply-to')) ?? from;
  return {
    date: firstField(fields, 'date'),
    subject: firstField(fields, 'subject'),
    from,
    sender,
    replyTo,
    to: parseAddressList(firstField(fields, 'to')),
    cc: parseAddressList(firstField(fields, 'cc')),
    bcc: parseAddressList(firstField(fields, 'bcc')),
    inReplyTo: firstField(fields, 'in-reply-to'),
    messageId: firstField(fields, 'message-id'),
  };
}

function extension(fields: HeaderField[]): BodyExtension {
  const disp = firstField(fields, 'content-disposition');
  const parsedDisp = disp === null ? null : parseParameterized(disp);
  const lang = firstField(fields, 'content-language');
  const languages = lang
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    disposition:
      parsedDisp && parsedDisp.value ? { type: parsedDisp.value, params: parsedDisp.params } : null,
    language: languages && languages.length ? languages : null,
    location: firstField(fields, 'content-location'),
  };
}

function lineCount(part: Part): number {
  // Line breaks in the body, as Dovecot and Cyrus count them: a last line without one does
  // not count (the CRLF before a boundary belongs to the boundary).
  return Math.max(part.lfAtBodyEnd - part.lfAtBodyStart, 0);
}

function buildStructure(part: Part): BodyStructure {
  const ct = parseContentType(firstField(part.fields, 'content-type'), part.defaultType);
  const ext = extension(part.fields);
  if (part.layout.kind === 'multipart') {
    part.layout.children = part.childParts.map((c) => c.layout);
    const parts = part.childParts.map(buildStructure);
    if (parts.length === 0) {
      // RFC 3501 requires at least one part; an empty multipart is shown with one empty text part.
      const empty = newPart(part.layout.headerEnd, 'text/plain', part.depth + 1);
      empty.layout.bodyEnd = empty.layout.headerEnd = part.layout.headerEnd;
      part.layout.children = [empty.layout];
      parts.push(buildStructure(empty));
    }
    return { kind: 'multipart', subtype: ct.subtype, params: ct.params, parts, ...ext };
  }
  const fields = {
    type: ct.type,
    subtype: ct.subtype,
    params: ct.params,
    id: firstField(part.fields, 'content-id'),
    description: firstField(part.fields, 'content-description'),
    encoding: (firstField(part.fields, 'content-transfer-encoding') ?? '7bit').trim() || '7bit',
    size: Math.max(part.layout.bodyEnd - part.layout.headerEnd, 0),
    md5: firstField(part.fields, 'content-md5'),
    ...ext,
  };
  if (part.layout.kind === 'message') {
    const child = part.childParts[0]!;
    part.layout.children = [child.layout];
    return {
      kind: 'message',
      ...fields,
      envelope: buildEnvelope(child.fields),
      body: buildStructure(child),
      lines: lineCount(part),
    };
  }
  if (ct.type === 'text') return { kind: 'text', ...fields, lines: lineCount(part) };
  return { kind: 'basic', ...fields };
}

/** Analyses a whole message given at once or as a stream of chunks. */
export async function analyzeMessage(
  source: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<MessageAnalysis> {
  const analyzer = createMimeAnalyzer();
  if (source instanceof Uint8Array) {
    analyzer.write(source);
  } else {
    for await (const chunk of source) analyzer.write(chunk);
  }
  return analyzer.end();
}
