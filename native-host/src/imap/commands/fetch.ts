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
import { SELECTED, ok, type Command } from './types.js';

const CRLF = Buffer.from('\r\n');
/** Messages prepared ahead of the one being written. */
const PREFETCH = 8;
/** Sections up to this size are read whole while preparing; larger ones are streamed. */
const READ_AHEAD_BYTES = 256 * 1024;

/** Keeps (or drops, for .NOT) the header fields named, each with its continuation lines. */
export function filterHeader(header: Buffer, names: string[], exclude: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const out: Buffer[] = [];
  let keep = false;
  for (let pos = 0; pos < header.length;) {
    const lf = header.indexOf(0x0a, pos);
    const end = lf < 0 ? header.length : lf + 1;
    const contentEnd = lf < 0 ? end : lf > pos && header[lf - 1] === 0x0d ? lf - 1 : lf;
    if (contentEnd === pos) break; // the blank line ending the header
    const first = header[pos];
    if (first !== 0x20 && first !== 0x09) {
      const colon = header.indexOf(0x3a, pos);
      const name =
        colon > pos && colon < contentEnd
          ? header.toString('latin1', pos, colon).trim().toLowerCase()
          : null;
      keep = name !== null && wanted.has(name) !== exclude;
    }
    if (keep) out.push(header.subarray(pos, contentEnd), CRLF);
    pos = end;
  }
  // The blank line that ends a header is part of these sections (RFC 3501 6.4.5).
  out.push(CRLF);
  return Buffer.concat(out);
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
  | { label: string; kind: 'stream'; length: number; stream: AsyncIterable<Uint8Array> };

async function prepareSection(
  session: ImapSession,
  mailboxId: string,
  meta: MessageMeta,
  section: BodySectionRequest,
): Promise<PreparedSection> {
  const { label } = section;
  const range =
    section.path.length === 0 && section.text === null
      ? { start: 0, end: meta.size }
      : meta.layout
        ? sectionRange(meta.layout, section.path, section.text, meta.size)
        : null;
  if (!range) return { label, kind: 'missing' };
  if (section.fields) {
    const header = await readAll(await session.account.readMessage(mailboxId, meta.uid, range));
    const filtered = filterHeader(header, section.fields, section.text === 'HEADER.FIELDS.NOT');
    const { start, end } = clip(filtered.length, section.partial);
    return { label, kind: 'bytes', bytes: filtered.subarray(start, end) };
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

async function writeSection(
  session: ImapSession,
  section: PreparedSection,
  separator: string,
): Promise<void> {
  // A section that does not exist is an empty string, as Dovecot sends it.
  if (section.kind === 'missing') return session.sendPart(`${separator}${section.label} {0}\r\n`);
  if (section.kind === 'bytes') {
    await session.sendPart(`${separator}${section.label} {${section.bytes.length}}\r\n`);
    if (section.bytes.length) await session.sendBytes(section.bytes);
    return;
  }
  await session.sendPart(`${separator}${section.label} {${section.length}}\r\n`);
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
 */
async function prepareMessage(
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

async function writeMessage(
  session: ImapSession,
  { meta, request, sections }: PreparedMessage,
  seq: number,
  withUid: boolean,
): Promise<void> {
  // UID comes first: Thunderbird expects it there in UID FETCH responses (proton-bridge#204).
  const items: string[] = [];
  if (withUid) items.push(`UID ${meta.uid}`);
  if (request.flags) items.push(`FLAGS ${flagList(meta.flags)}`);
  if (request.internalDate) items.push(`INTERNALDATE ${dateTime(meta.internalDate)}`);
  if (request.size) items.push(`RFC822.SIZE ${meta.size}`);
  if (request.envelope && meta.envelope) items.push(`ENVELOPE ${envelope(meta.envelope)}`);
  if (request.bodyStructure && meta.bodyStructure)
    items.push(`BODYSTRUCTURE ${bodyStructure(meta.bodyStructure, true)}`);
  if (request.body && meta.bodyStructure)
    items.push(`BODY ${bodyStructure(meta.bodyStructure, false)}`);
  if (request.modseq || session.condstore) items.push(`MODSEQ (${meta.modseq})`);
  await session.sendPart(`* ${seq} FETCH (${items.join(' ')}`);
  for (const [index, section] of sections.entries()) {
    await writeSection(session, section, items.length || index > 0 ? ' ' : '');
  }
  await session.sendPart(')\r\n');
}

export const fetch: Command = {
  states: SELECTED,
  uidVariant: true,
  allowsExpunge: (uid) => uid,
  async run({ session, reader, uid }) {
    reader.sp();
    const set = reader.sequenceSet();
    reader.sp();
    const request = readFetchRequest(reader);
    const { tracker, mailbox, readOnly } = session.selected!;
    const ranges = uid ? tracker.uidSetToUids(set) : tracker.sequenceToUids(set);
    if (request.modseq) session.condstore = true;
    const needsLayout = request.sections.some((s) => s.path.length > 0 || s.text !== null);
    const marksSeen = !readOnly && request.sections.some((s) => !s.peek);
    const want = {
      envelope: request.envelope,
      bodyStructure: request.bodyStructure || request.body,
      layout: needsLayout,
    };
    const options =
      request.changedSince === null ? { want } : { want, changedSince: request.changedSince };
    // Messages are read a few ahead of the one being written, so a store's per-message
    // latency (blob file, decryption) overlaps with writing; the window bounds the memory.
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
        // Failures surface when the message's turn comes; until then they are not "unhandled".
        prepared.catch(() => {});
        window.push({ seq, prepared });
        if (window.length >= PREFETCH) await writeNext();
      }
      while (window.length) await writeNext();
    } finally {
      window.length = 0;
    }
    return ok('FETCH completed');
  },
};
