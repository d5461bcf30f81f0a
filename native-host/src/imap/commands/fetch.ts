import { readAll } from '../bytes.js';
import { BackendError, type MessageMeta } from '../backend.js';
import { sectionRange } from '../../mime/index.js';
import { bodyStructure, dateTime, envelope, flagList } from '../protocol/encoder.js';
import {
  readFetchRequest,
  type BodySectionRequest,
  type FetchRequest,
} from '../protocol/fetch-items.js';
import type { ImapSession } from '../session.js';
import { binarySection } from './binary.js';
import { reportVanished } from './qresync.js';
import { SELECTED, bad, ok, type Command } from './types.js';

/** Messages prepared ahead of the one being written. */
const PREFETCH = 8;
/** Sections up to this size are read whole while preparing; larger ones are streamed. */
const READ_AHEAD_BYTES = 256 * 1024;

/** Lower-cased field names per request list: a FETCH asks the same list of every message. */
const wantedNames = new WeakMap<string[], Set<string>>();

/**
 * Keeps (or drops, for .NOT) the header fields named, each with its continuation lines.
 * Works on, and returns, the header as a latin1 string (one byte per character, so nothing
 * is lost): this runs for every message of a client's header scan, and an ASCII result
 * goes out with the response text without a buffer of its own.
 */
export function filterHeader(text: string, names: string[], exclude: boolean): string {
  let wanted = wantedNames.get(names);
  if (!wanted) wantedNames.set(names, (wanted = new Set(names.map((n) => n.toLowerCase()))));
  let out = '';
  let keep = false;
  for (let pos = 0; pos < text.length;) {
    const lf = text.indexOf('\n', pos);
    const end = lf < 0 ? text.length : lf + 1;
    const contentEnd = lf < 0 ? end : lf > pos && text.charCodeAt(lf - 1) === 0x0d ? lf - 1 : lf;
    if (contentEnd === pos) break; // the blank line ending the header
    const first = text.charCodeAt(pos);
    if (first !== 0x20 && first !== 0x09) {
      const colon = text.indexOf(':', pos);
      const name =
        colon > pos && colon < contentEnd ? text.slice(pos, colon).trim().toLowerCase() : null;
      keep = name !== null && wanted.has(name) !== exclude;
    }
    if (keep) out += text.slice(pos, contentEnd) + '\r\n';
    pos = end;
  }
  // The blank line that ends a header is part of these sections (RFC 3501 6.4.5).
  return out + '\r\n';
}

function clip(
  length: number,
  partial: BodySectionRequest['partial'],
): { start: number; end: number } {
  if (!partial) return { start: 0, end: length };
  const start = Math.min(partial.start, length);
  return { start, end: Math.min(length, start + partial.length) };
}

/** A BODY[...] item ready to write: nothing is written before every section could be opened. */
type PreparedSection =
  | { label: string; kind: 'missing' }
  | { label: string; kind: 'bytes'; bytes: Buffer }
  /** ASCII only, so its length in characters is its length in octets. */
  | { label: string; kind: 'ascii'; text: string }
  | { label: string; kind: 'stream'; length: number; stream: AsyncIterable<Uint8Array> }
  /** RFC 3516: BINARY[...] content (a literal8) and BINARY.SIZE[...] (a number). */
  | { label: string; kind: 'binary'; bytes: Buffer; literal8: boolean }
  | { label: string; kind: 'size'; size: number };

async function prepareSection(
  session: ImapSession,
  mailboxId: string,
  meta: MessageMeta,
  section: BodySectionRequest,
): Promise<PreparedSection> {
  const { label } = section;
  if (section.binary && section.text === null) {
    const binary = await binarySection(session, mailboxId, meta.uid, section);
    if (binary.kind === 'missing') return { label, kind: 'missing' };
    return binary.kind === 'size'
      ? { label, kind: 'size', size: binary.size }
      : { label, kind: 'binary', bytes: binary.bytes, literal8: binary.literal8 };
  }
  const inMeta = sectionFromMeta(meta, section);
  if (inMeta) return inMeta;
  const layout =
    meta.layout ??
    (section.path.length || section.text
      ? await layoutOf(session, mailboxId, meta.uid)
      : undefined);
  const range =
    section.path.length === 0 && section.text === null
      ? { start: 0, end: meta.size }
      : layout
        ? sectionRange(layout, section.path, section.text, meta.size)
        : null;
  if (!range) return { label, kind: 'missing' };
  if (section.fields || section.text === 'HEADER' || section.text === 'MIME') {
    // Header sections are small: read whole, then filtered and clipped.
    const bytes = await readAll(await session.account.readMessage(mailboxId, meta.uid, range));
    return headerSection(section, bytes.toString('latin1'));
  }
  const { start, end } = clip(range.end - range.start, section.partial);
  if (end === start) return { label, kind: 'bytes', bytes: Buffer.alloc(0) };
  const stream = await session.account.readMessage(mailboxId, meta.uid, {
    start: range.start + start,
    end: range.start + end,
  });
  // Small sections are read ahead (see PREFETCH); big ones stream when written.
  if (end - start <= READ_AHEAD_BYTES) {
    const bytes = await readAll(stream);
    if (bytes.length < end - start) {
      throw new BackendError('unavailable', 'The message is shorter than its index says.');
    }
    return { label, kind: 'bytes', bytes: bytes.subarray(0, end - start) };
  }
  return { label, kind: 'stream', length: end - start, stream };
}

/** The section when the FETCH row already holds it (the message header), else null. */
function sectionFromMeta(meta: MessageMeta, section: BodySectionRequest): PreparedSection | null {
  if (!isTopHeader(section) || meta.header === undefined) return null;
  return headerSection(section, meta.header);
}

/** BODY[HEADER], BODY[HEADER.FIELDS (...)] and .NOT of the message itself, not of a part. */
function isTopHeader(section: BodySectionRequest): boolean {
  return section.path.length === 0 && (section.text === 'HEADER' || section.fields !== null);
}

/** A header section from the header as a latin1 string (see MessageMeta.header). */
function headerSection(section: BodySectionRequest, header: string): PreparedSection {
  const { label, fields, partial } = section;
  const filtered = fields
    ? filterHeader(header, fields, section.text === 'HEADER.FIELDS.NOT')
    : header;
  const { start, end } = clip(filtered.length, partial);
  const text = filtered.slice(start, end);
  return NOT_ASCII.test(text)
    ? { label, kind: 'bytes', bytes: Buffer.from(text, 'latin1') }
    : { label, kind: 'ascii', text };
}

const NOT_ASCII = /[\u0080-\uffff]/;

/** The part layout when the backend left it out of the FETCH rows (it had the header instead). */
async function layoutOf(session: ImapSession, mailboxId: string, uid: number) {
  for await (const meta of session.account.fetch(mailboxId, [{ start: uid, end: uid }], {
    want: { layout: true },
  })) {
    return meta.layout;
  }
  return undefined;
}

function literalLength(section: PreparedSection): number {
  switch (section.kind) {
    case 'missing':
      // A section that does not exist is an empty string, as Dovecot sends it.
      return 0;
    case 'bytes':
    case 'binary':
      return section.bytes.length;
    case 'size':
      return 0;
    case 'ascii':
      return section.text.length;
    case 'stream':
      return section.length;
  }
}

/** Writes a section that streams from the backend (the literal's length is sent first). */
async function writeStream(
  session: ImapSession,
  section: Extract<PreparedSection, { kind: 'stream' }>,
): Promise<void> {
  let sent = 0;
  for await (const chunk of section.stream) {
    const piece = chunk.subarray(0, section.length - sent);
    if (piece.length) await session.sendBytes(piece);
    sent += piece.length;
    if (sent >= section.length) break;
  }
  if (sent < section.length) {
    // The literal's length is on the wire already: ending the connection is the only honest way out.
    session.close();
    throw new BackendError('unavailable', 'The message is shorter than its index says.');
  }
}

interface PreparedMessage {
  meta: MessageMeta;
  request: FetchRequest;
  sections: PreparedSection[];
}

/**
 * Everything one FETCH response needs, read before any of it is written; null when the
 * message vanished meanwhile (it is then left out). Sets \Seen for non-PEEK body fetches.
 * Returned at once, without a promise, when nothing needs reading or changing: a client's
 * header scan of a whole mailbox is thousands of such messages.
 */
function prepareMessage(
  session: ImapSession,
  request: FetchRequest,
  meta: MessageMeta,
  marksSeen: boolean,
): PreparedMessage | Promise<PreparedMessage | null> {
  if (!marksSeen || meta.flags.includes('\\Seen')) {
    const sections: PreparedSection[] = [];
    for (const section of request.sections) {
      const prepared = sectionFromMeta(meta, section);
      if (!prepared) break;
      sections.push(prepared);
    }
    if (sections.length === request.sections.length) return { meta, request, sections };
  }
  return readMessageParts(session, request, meta, marksSeen);
}

async function readMessageParts(
  session: ImapSession,
  request: FetchRequest,
  meta: MessageMeta,
  marksSeen: boolean,
): Promise<PreparedMessage | null> {
  const { mailbox } = session.selected!;
  let effective = request;
  if (marksSeen && !meta.flags.includes('\\Seen')) {
    const result = await session.account.storeFlags(
      mailbox.id,
      [{ start: meta.uid, end: meta.uid }],
      { operation: 'add', flags: ['\\Seen'] },
      { origin: session },
    );
    const changed = result.changed[0];
    if (changed) {
      meta.flags = changed.flags;
      meta.modseq = changed.modseq;
      // Flags that changed because of this FETCH are reported with it (RFC 3501 6.4.5).
      if (!request.flags) effective = { ...request, flags: true };
    }
  }
  const sections: PreparedSection[] = [];
  try {
    for (const section of request.sections) {
      sections.push(await prepareSection(session, mailbox.id, meta, section));
    }
  } catch (error) {
    if (error instanceof BackendError && error.code === 'nonexistent') return null;
    throw error;
  }
  return { meta, request: effective, sections };
}

/**
 * Queues one FETCH response; a promise only when it has to wait (a streamed section, or
 * output to flush), so a run of small responses costs no promise each.
 */
function writeMessage(
  session: ImapSession,
  { meta, request, sections }: PreparedMessage,
  seq: number,
  withUid: boolean,
): Promise<void> | undefined {
  // UID comes first: Thunderbird expects it there in UID FETCH responses (proton-bridge#204).
  const items: string[] = [];
  if (withUid) items.push(`UID ${meta.uid}`);
  if (request.flags) {
    const { tracker } = session.selected!;
    items.push(`FLAGS ${flagList(tracker.flagsOf(meta.uid, meta.flags))}`);
    // A change from elsewhere still pending is no newer than what this answer says.
    tracker.reported(meta.uid, meta.modseq);
  }
  if (request.internalDate) items.push(`INTERNALDATE ${dateTime(meta.internalDate)}`);
  if (request.size) items.push(`RFC822.SIZE ${meta.size}`);
  if (request.envelope) {
    const wire = meta.encoded?.envelope ?? (meta.envelope && envelope(meta.envelope));
    if (wire) items.push(`ENVELOPE ${wire}`);
  }
  if (request.bodyStructure) {
    const wire =
      meta.encoded?.bodyStructure ??
      (meta.bodyStructure && bodyStructure(meta.bodyStructure, true));
    if (wire) items.push(`BODYSTRUCTURE ${wire}`);
  }
  if (request.body && meta.bodyStructure)
    items.push(`BODY ${bodyStructure(meta.bodyStructure, false)}`);
  if (request.modseq || session.condstore) items.push(`MODSEQ (${meta.modseq})`);
  session.queueText(`* ${seq} FETCH (${items.join(' ')}`);
  const rest = sections.entries();
  const writeSections = (): Promise<void> | undefined => {
    for (const [index, section] of rest) {
      const length = literalLength(section);
      const separator = items.length || index > 0 ? ' ' : '';
      if (section.kind === 'size') {
        session.queueText(`${separator}${section.label} ${section.size}`);
        continue;
      }
      const literal8 = section.kind === 'binary' && section.literal8 ? '~' : '';
      session.queueText(`${separator}${section.label} ${literal8}{${length}}\r\n`);
      if (section.kind === 'ascii') session.queueText(section.text);
      if ((section.kind === 'bytes' || section.kind === 'binary') && length)
        session.queueBytes(section.bytes);
      if (section.kind === 'stream') {
        return writeStream(session, section).then(() => writeSections());
      }
    }
    session.queueText(')\r\n');
    return session.outputFull ? session.flushOutput() : undefined;
  };
  return writeSections();
}

export const fetch: Command = {
  states: SELECTED,
  uidVariant: true,
  allowsExpunge: (uid) => uid,
  announcesNewMail: false,
  async run({ session, reader, uid }) {
    reader.sp();
    const set = reader.sequenceSet();
    reader.sp();
    const request = readFetchRequest(reader);
    const { tracker, mailbox, readOnly } = session.selected!;
    const ranges = uid ? tracker.uidSetToUids(set) : tracker.sequenceToUids(set);
    if (request.vanished && (!uid || !session.qresync)) {
      return bad('VANISHED needs UID FETCH and QRESYNC enabled');
    }
    if (request.modseq) session.condstore = true;
    if (request.vanished) await reportVanished(session, request.changedSince!, ranges);
    // The message's own header comes with the rows; other sections need the part layout.
    const needsHeader = request.sections.some(isTopHeader);
    const needsLayout = request.sections.some(
      (s) => !isTopHeader(s) && (s.path.length > 0 || s.text !== null),
    );
    const marksSeen = !readOnly && request.sections.some((s) => !s.peek);
    const want = {
      envelope: request.envelope,
      bodyStructure: request.bodyStructure || request.body,
      layout: needsLayout,
      header: needsHeader,
      // BODY (the non-extensible form) is made from the object; everything else can be wire.
      encoded: !request.body,
    };
    const options =
      request.changedSince === null ? { want } : { want, changedSince: request.changedSince };
    // Messages that need reading are read a few ahead of the one being written, so a store's
    // per-message latency (blob file, decryption) overlaps with writing; the window bounds
    // the memory. Messages ready at once skip it while nothing is waiting before them.
    const window: { seq: number; prepared: Promise<PreparedMessage | null> }[] = [];
    const writeNext = async () => {
      const head = window.shift()!;
      const prepared = await head.prepared;
      if (prepared) await writeMessage(session, prepared, head.seq, uid || request.uid);
    };
    try {
      for await (const meta of session.account.fetch(mailbox.id, ranges, options)) {
        const seq = tracker.seqOf(meta.uid);
        if (!seq) continue;
        const prepared = prepareMessage(session, request, meta, marksSeen);
        if (!(prepared instanceof Promise) && window.length === 0) {
          const written = writeMessage(session, prepared, seq, uid || request.uid);
          if (written) await written;
          continue;
        }
        // Failures surface when the message's turn comes; until then they are not "unhandled".
        const pending = Promise.resolve(prepared);
        pending.catch(() => {});
        window.push({ seq, prepared: pending });
        if (window.length >= PREFETCH) await writeNext();
      }
      while (window.length) await writeNext();
    } finally {
      window.length = 0;
    }
    return ok('FETCH completed');
  },
};
