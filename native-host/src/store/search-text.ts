/**
 * What the full-text index keeps of one message: the texts the IMAP server's SEARCH
 * evaluator looks in (imap/search.ts, through mime's bodySearchText and the evaluator's own
 * header texts), each folded with the same toLowerCase the evaluator compares with. A
 * substring of the folded needle in a folded column is then exactly the evaluator's
 * "contains, ignoring case". Pure: no I/O, no database.
 */
import { headerSearchTexts, textSearchHeaderTexts } from '../imap/index.js';
import {
  bodySearchText,
  decodeTextPart,
  parseHeaderFields,
  textPartRanges,
  type BodyStructure,
  type PartLayout,
  type TextBody,
} from '../mime/index.js';

/** The index's columns, in table order. */
export const SEARCH_COLUMNS = [
  'body',
  'headers',
  'subject',
  'hfrom',
  'hto',
  'hcc',
  'hbcc',
] as const;
export type SearchColumn = (typeof SEARCH_COLUMNS)[number];
export type SearchDocument = Record<SearchColumn, string>;

/** Pieces of one column are joined by a line break; needles with one are not indexed. */
const JOIN = '\n';

/** The header fields with their own column, and whether they are address fields. */
const FIELD_COLUMNS: [SearchColumn, string, boolean][] = [
  ['subject', 'subject', false],
  ['hfrom', 'from', true],
  ['hto', 'to', true],
  ['hcc', 'cc', true],
  ['hbcc', 'bcc', true],
];

/**
 * The document of a message given its header (as UTF-8 text), its structure and its text
 * parts with their raw bodies (`textPartRanges` in order).
 */
export function searchDocument(
  header: string,
  bodyStructure: BodyStructure,
  textParts: readonly { part: TextBody; bytes: Buffer }[],
): SearchDocument {
  const decoded = textParts.map(({ part, bytes }) => decodeTextPart(bytes, part));
  const headers = parseHeaderFields(header);
  const doc = {
    body: fold(bodySearchText(bodyStructure, decoded)),
    headers: textSearchHeaderTexts(headers).map(fold).join(JOIN),
  } as SearchDocument;
  for (const [column, field, address] of FIELD_COLUMNS) {
    doc[column] = headerSearchTexts(headers, field, address).map(fold).join(JOIN);
  }
  return doc;
}

/** The document of a whole raw message, analysed. */
export function searchDocumentOf(
  raw: Buffer,
  analysis: { bodyStructure: BodyStructure; layout: PartLayout },
): SearchDocument {
  const ranges = textPartRanges(analysis.bodyStructure, analysis.layout);
  return searchDocument(
    raw.subarray(0, analysis.layout.headerEnd).toString('utf8'),
    analysis.bodyStructure,
    ranges.map((r) => ({ part: r.part, bytes: raw.subarray(r.start, r.end) })),
  );
}

/**
 * The FTS5 query for "contains `needle`, ignoring case" in the given columns, or null when
 * the index cannot answer it exactly: the trigram tokenizer finds nothing shorter than three
 * characters, and a line break could span two joined pieces.
 */
export function matchQuery(columns: readonly SearchColumn[], needle: string): string | null {
  const folded = fold(needle);
  if (/[\n\0]/.test(folded) || [...folded].length < 3) return null;
  return `{${columns.join(' ')}} : "${folded.replace(/"/g, '""')}"`;
}

/** The evaluator's case folding (imap/search.ts includesFolded). */
function fold(text: string): string {
  return text.toLowerCase();
}
