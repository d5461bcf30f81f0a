/**
 * RFC 3501 section specs resolved against a message's part layout: which bytes
 * BODY[1.2.MIME] or BODY[3.TEXT] refer to.
 */
import type { PartLayout } from './types.js';

export type SectionText = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME' | null;

export interface SectionRange {
  start: number;
  end: number;
}

/**
 * The part a numeric path names, or null when it does not exist. Part 1 of a non-multipart
 * message (or of a message/rfc822 part whose body is not multipart) is its body (RFC 3501 6.4.5).
 */
export function findPart(layout: PartLayout, path: number[]): PartLayout | null {
  let node = layout;
  // Only a message (the root, or one encapsulated in a message/rfc822 part) has a part 1 that
  // is its own body when it is not multipart.
  let atMessage = true;
  for (const n of path) {
    if (node.kind === 'multipart') {
      const child = node.children[n - 1];
      if (!child) return null;
      node = child;
      atMessage = false;
    } else if (n === 1 && atMessage) {
      atMessage = false;
    } else if (node.kind === 'message' && !atMessage) {
      // Numbering below a message/rfc822 part continues with the encapsulated message's parts.
      const inner = node.children[0]!;
      const child =
        inner.kind === 'multipart' ? inner.children[n - 1] : n === 1 ? inner : undefined;
      if (!child) return null;
      node = child;
      atMessage = false;
    } else {
      return null;
    }
  }
  return node;
}

/**
 * The byte range of BODY[path.text]. For HEADER / HEADER.FIELDS(.NOT) the range is the header
 * to be filtered by the caller. Null when the section does not exist.
 */
export function sectionRange(
  layout: PartLayout,
  path: number[],
  text: SectionText,
  totalSize: number,
): SectionRange | null {
  if (path.length === 0) {
    if (text === null) return { start: 0, end: totalSize };
    if (text === 'TEXT') return { start: layout.headerEnd, end: layout.bodyEnd };
    if (text === 'MIME') return null;
    return { start: layout.headerStart, end: layout.headerEnd };
  }
  const part = findPart(layout, path);
  if (!part) return null;
  if (text === 'MIME') return { start: part.headerStart, end: part.headerEnd };
  if (text === null) {
    // BODY[n] is the body of the part without its MIME header.
    return { start: part.headerEnd, end: part.bodyEnd };
  }
  // HEADER/TEXT apply to the message encapsulated in a message/rfc822 part only.
  if (part.kind !== 'message') return null;
  const inner = part.children[0]!;
  if (text === 'TEXT') return { start: inner.headerEnd, end: inner.bodyEnd };
  return { start: inner.headerStart, end: inner.headerEnd };
}
