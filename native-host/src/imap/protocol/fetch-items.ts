/**
 * The FETCH attribute grammar (RFC 3501 6.4.5, RFC 7162 MODSEQ/CHANGEDSINCE) parsed into a
 * request that says what to send; commands/fetch.ts decides how to get it.
 */
import type { SectionText } from '../../mime/index.js';
import { ParseError, type CommandReader } from './parser.js';

export interface BodySectionRequest {
  /** BODY.PEEK or the RFC822.* forms that do not set \Seen. */
  peek: boolean;
  path: number[];
  text: SectionText;
  /** Field names of HEADER.FIELDS(.NOT), as the client wrote them. */
  fields: string[] | null;
  partial: { start: number; length: number } | null;
  /** Name of the item in the response, e.g. `BODY[HEADER.FIELDS (FROM)]`, `RFC822.TEXT`. */
  label: string;
  /**
   * RFC 3516 BINARY[...] (`content`, the transfer encoding undone) or BINARY.SIZE[...]
   * (`size`, its length); absent for BODY.
   */
  binary?: 'content' | 'size';
}

export interface FetchRequest {
  uid: boolean;
  flags: boolean;
  internalDate: boolean;
  size: boolean;
  envelope: boolean;
  bodyStructure: boolean;
  /** Non-extensible BODY (no section). */
  body: boolean;
  modseq: boolean;
  sections: BodySectionRequest[];
  changedSince: number | null;
  /** RFC 7162 3.2.6: also report the UIDs expunged since CHANGEDSINCE. */
  vanished: boolean;
}

const MAX_SECTIONS = 64;
const MAX_FIELDS = 256;

function emptyRequest(): FetchRequest {
  return {
    uid: false,
    flags: false,
    internalDate: false,
    size: false,
    envelope: false,
    bodyStructure: false,
    body: false,
    modseq: false,
    sections: [],
    changedSince: null,
    vanished: false,
  };
}

function readSection(reader: CommandReader, peek: boolean): BodySectionRequest {
  reader.expect('[');
  const path: number[] = [];
  let text: SectionText = null;
  let fields: string[] | null = null;
  let spec = '';
  if (!reader.maybe(']')) {
    while (reader.peek() >= 0x30 && reader.peek() <= 0x39) {
      path.push(reader.nzNumber());
      if (path.length > 100) throw new ParseError('Section too deep');
      if (!reader.maybe('.')) break;
    }
    const trailingDot = path.length > 0 && reader.peek() !== 0x5d;
    if (path.length === 0 || trailingDot) {
      const word = reader.word();
      if (word === 'HEADER' || word === 'TEXT') text = word;
      else if (word === 'HEADER.FIELDS' || word === 'HEADER.FIELDS.NOT') text = word;
      else if (word === 'MIME' && path.length > 0) text = 'MIME';
      else throw new ParseError(`Invalid section ${word}`);
      if (text === 'HEADER.FIELDS' || text === 'HEADER.FIELDS.NOT') {
        reader.sp();
        const list: string[] = [];
        reader.list(() => {
          if (list.length >= MAX_FIELDS) throw new ParseError('Too many header fields');
          list.push(reader.astring());
        }, false);
        fields = list;
      }
    }
    reader.expect(']');
    spec = path.join('.');
    if (text) spec += (spec ? '.' : '') + text;
    if (fields) spec += ` (${fields.join(' ')})`;
  }
  let partial: BodySectionRequest['partial'] = null;
  if (reader.maybe('<')) {
    const start = reader.number();
    reader.expect('.');
    const length = reader.nzNumber();
    reader.expect('>');
    partial = { start, length };
  }
  return {
    peek,
    path,
    text,
    fields,
    partial,
    label: `BODY[${spec}]${partial ? `<${partial.start}>` : ''}`,
  };
}

function readAttribute(reader: CommandReader, request: FetchRequest): void {
  const name = reader.word();
  switch (name) {
    case 'UID':
      request.uid = true;
      return;
    case 'FLAGS':
      request.flags = true;
      return;
    case 'INTERNALDATE':
      request.internalDate = true;
      return;
    case 'RFC822.SIZE':
      request.size = true;
      return;
    case 'ENVELOPE':
      request.envelope = true;
      return;
    case 'BODYSTRUCTURE':
      request.bodyStructure = true;
      return;
    case 'MODSEQ':
      request.modseq = true;
      return;
    case 'RFC822':
      request.sections.push({
        peek: false,
        path: [],
        text: null,
        fields: null,
        partial: null,
        label: 'RFC822',
      });
      return;
    case 'RFC822.HEADER':
      request.sections.push({
        peek: true,
        path: [],
        text: 'HEADER',
        fields: null,
        partial: null,
        label: 'RFC822.HEADER',
      });
      return;
    case 'RFC822.TEXT':
      request.sections.push({
        peek: false,
        path: [],
        text: 'TEXT',
        fields: null,
        partial: null,
        label: 'RFC822.TEXT',
      });
      return;
    case 'BODY':
    case 'BODY.PEEK':
      if (reader.peek() !== 0x5b) {
        if (name === 'BODY.PEEK') throw new ParseError('BODY.PEEK needs a section');
        request.body = true;
        return;
      }
      if (request.sections.length >= MAX_SECTIONS) throw new ParseError('Too many body sections');
      request.sections.push(readSection(reader, name === 'BODY.PEEK'));
      return;
    case 'BINARY':
    case 'BINARY.PEEK':
    case 'BINARY.SIZE': {
      if (request.sections.length >= MAX_SECTIONS) throw new ParseError('Too many body sections');
      const size = name === 'BINARY.SIZE';
      let section = readSection(reader, name !== 'BINARY');
      if (size && section.text) throw new ParseError('BINARY.SIZE takes a part number only');
      // RFC 3516 gives BINARY.SIZE no partial; Dovecot ignores one, and so does this server.
      if (size) section = { ...section, partial: null, label: section.label.replace(/<\d+>$/, '') };
      const label = section.label.replace(/^BODY/, size ? 'BINARY.SIZE' : 'BINARY');
      request.sections.push({ ...section, label, binary: size ? 'size' : 'content' });
      return;
    }
    default:
      throw new ParseError(`Unknown FETCH item ${name}`);
  }
}

/** Reads `(items)`, a macro or a single item, then an optional `(CHANGEDSINCE n)`. */
export function readFetchRequest(reader: CommandReader): FetchRequest {
  const request = emptyRequest();
  if (reader.peek() === 0x28) {
    reader.list(() => readAttribute(reader, request), false);
  } else if (reader.peekWord('ALL') || reader.peekWord('FAST') || reader.peekWord('FULL')) {
    const macro = reader.word();
    request.flags = request.internalDate = request.size = true;
    if (macro !== 'FAST') request.envelope = true;
    if (macro === 'FULL') request.body = true;
  } else {
    readAttribute(reader, request);
  }
  if (reader.maybeSp()) {
    reader.list(() => {
      const modifier = reader.word();
      if (modifier === 'VANISHED') {
        request.vanished = true;
        return;
      }
      if (modifier !== 'CHANGEDSINCE') throw new ParseError(`Unknown FETCH modifier ${modifier}`);
      reader.sp();
      request.changedSince = reader.number64();
      request.modseq = true;
    }, false);
  }
  reader.end();
  if (request.vanished && request.changedSince === null) {
    throw new ParseError('VANISHED needs CHANGEDSINCE');
  }
  return request;
}
