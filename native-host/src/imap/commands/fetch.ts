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

async function readAll(iter: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of iter) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Keeps (or drops, for .NOT) the header fields named, each with its continuation lines. */
export function filterHeader(header: Buffer, names: string[], exclude: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const text = header.toString('latin1');
  const out: string[] = [];
  let keep = false;
  for (const line of text.split(/(?<=\n)/)) {
    if (line === '\r\n' || line === '\n') break;
    if (line[0] !== ' ' && line[0] !== '\t') {
      const colon = line.indexOf(':');
      const name = (colon < 0 ? '' : line.slice(0, colon)).trim().toLowerCase();
      keep = colon > 0 && wanted.has(name) !== exclude;
    }
    if (keep) out.push(line.endsWith('\r\n') ? line : line.replace(/\n?$/, '\r\n'));
  }
  // The blank line that ends a header is part of these sections (RFC 3501 6.4.5).
  out.push('\r\n');
  return Buffer.from(out.join(''), 'latin1');
}

function clip(
  length: number,
  partial: BodySectionRequest['partial'],
): { start: number; end: number } {
  if (!partial) return { start: 0, end: length };
  const start = Math.min(partial.start, length);
  return { start, end: Math.min(length, start + partial.length) };
}

/** Writes one BODY[...] item: from a buffer when it had to be built, streamed otherwise. */
async function sendSection(
  session: ImapSession,
  mailboxId: string,
  meta: MessageMeta,
  section: BodySectionRequest,
  separator: string,
): Promise<void> {
  const layout = meta.layout;
  const range =
    section.path.length === 0 && section.text === null
      ? { start: 0, end: meta.size }
      : layout
        ? sectionRange(layout, section.path, section.text, meta.size)
        : null;
  if (!range) {
    await session.sendPart(`${separator}${section.label} NIL`);
    return;
  }
  if (section.fields) {
    const header = await readAll(await session.account.readMessage(mailboxId, meta.uid, range));
    const filtered = filterHeader(header, section.fields, section.text === 'HEADER.FIELDS.NOT');
    const { start, end } = clip(filtered.length, section.partial);
    await session.sendPart(`${separator}${section.label} {${end - start}}\r\n`);
    await session.sendBytes(filtered.subarray(start, end));
    return;
  }
  const { start, end } = clip(range.end - range.start, section.partial);
  const length = end - start;
  await session.sendPart(`${separator}${section.label} {${length}}\r\n`);
  if (length === 0) return;
  let sent = 0;
  const stream = await session.account.readMessage(mailboxId, meta.uid, {
    start: range.start + start,
    end: range.start + end,
  });
  for await (const chunk of stream) {
    const piece = chunk.subarray(0, length - sent);
    if (piece.length) await session.sendBytes(piece);
    sent += piece.length;
    if (sent >= length) break;
  }
  if (sent < length) {
    // The literal length is already on the wire: the only honest way out is to end the connection.
    throw new BackendError('unavailable', 'The message is shorter than its index says.');
  }
}

async function sendMessage(
  session: ImapSession,
  request: FetchRequest,
  meta: MessageMeta,
  seq: number,
  withUid: boolean,
): Promise<void> {
  const { mailbox } = session.selected!;
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
  for (const [index, section] of request.sections.entries()) {
    await sendSection(session, mailbox.id, meta, section, items.length || index > 0 ? ' ' : '');
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
    for await (const meta of session.account.fetch(mailbox.id, ranges, options)) {
      const seq = tracker.seqOf(meta.uid);
      if (!seq) continue;
      let flagsChanged = false;
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
          flagsChanged = true;
        }
      }
      // Flags that changed because of this FETCH are reported with it (RFC 3501 6.4.5).
      const effective = flagsChanged && !request.flags ? { ...request, flags: true } : request;
      await sendMessage(session, effective, meta, seq, uid || request.uid);
    }
    return ok('FETCH completed');
  },
};
