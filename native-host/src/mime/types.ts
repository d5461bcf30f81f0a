/**
 * The result of analysing a raw RFC 5322 message once (at insert time), shaped after the
 * RFC 3501 ENVELOPE and BODYSTRUCTURE grammar so that an IMAP FETCH never parses a message.
 * Everything here is plain data (JSON-serialisable) so a store can keep it as a column.
 *
 * Header strings are the raw header text (folding removed, encoded words left untouched as
 * RFC 3501 requires); 8-bit bytes are decoded as UTF-8 when valid, else as Latin-1.
 */

/** One ENVELOPE address: (name adl mailbox host). A group start has host null, a group end has mailbox and host null. */
export interface EnvelopeAddress {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

/** RFC 3501 section 7.4.2 ENVELOPE, field by field in wire order. */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

/** Parameter list in the order the header gave it ("body-fld-param"); null when empty. */
export type BodyParams = [name: string, value: string][] | null;

export interface BodyDisposition {
  type: string;
  params: BodyParams;
}

/** The extension data every part can carry (disposition, language, location). */
export interface BodyExtension {
  disposition: BodyDisposition | null;
  language: string[] | null;
  location: string | null;
}

/** Fields shared by every non-multipart body ("body-fields"). */
export interface BodyFields extends BodyExtension {
  /** Lower-case media type and subtype; the encoder upper-cases per convention. */
  type: string;
  subtype: string;
  params: BodyParams;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding as given (default "7BIT"). */
  encoding: string;
  /** Size of the body in octets, as stored. */
  size: number;
  md5: string | null;
}

export interface BasicBody extends BodyFields {
  kind: 'basic';
}

export interface TextBody extends BodyFields {
  kind: 'text';
  /** Number of lines of the body. */
  lines: number;
}

export interface MessageBody extends BodyFields {
  kind: 'message';
  envelope: Envelope;
  body: BodyStructure;
  lines: number;
}

export interface MultipartBody extends BodyExtension {
  kind: 'multipart';
  subtype: string;
  params: BodyParams;
  parts: BodyStructure[];
}

export type BodyStructure = BasicBody | TextBody | MessageBody | MultipartBody;

/**
 * Where each part lives in the raw message, so BODY[1.2]<0.1000> reads only the bytes it
 * needs. Offsets are absolute in the raw message, end-exclusive.
 * - The root layout is the whole message: its header is the message header (HEADER), its
 *   body is TEXT.
 * - A multipart's `children` are its parts (numbered 1..n).
 * - A message/rfc822 part has exactly one child: the encapsulated message, whose header is
 *   the part's HEADER section and whose body is its TEXT section.
 */
export interface PartLayout {
  headerStart: number;
  /** End of the header including the blank line that ends it; equals bodyStart. */
  headerEnd: number;
  bodyEnd: number;
  /** 'multipart' | 'message' | 'leaf': how `children` must be read. */
  kind: 'multipart' | 'message' | 'leaf';
  children: PartLayout[];
}

export interface MessageAnalysis {
  envelope: Envelope;
  bodyStructure: BodyStructure;
  layout: PartLayout;
  /** Total size in octets (RFC822.SIZE). */
  size: number;
}
