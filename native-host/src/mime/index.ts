/**
 * MIME analysis: one pass over a raw message yields its ENVELOPE, BODYSTRUCTURE and the
 * byte ranges of every part, so the IMAP server answers FETCH without parsing messages.
 */
export { analyzeMessage, createMimeAnalyzer, type MimeAnalyzer } from './analyze.js';
export { findPart, sectionRange, type SectionRange, type SectionText } from './section.js';
export {
  decodeHeaderBytes,
  parseAddressList,
  parseHeaderFields,
  type HeaderField as TextHeaderField,
} from './header.js';
export {
  addressesIn,
  buildEntity,
  fieldText,
  fieldValue,
  fieldValues,
  findHeaderEnd,
  isFieldName,
  MAX_HEADER_BYTES,
  parseHeader,
  readHead,
  rewriteHeader,
  rewriteHeaderStream,
  serialiseFields,
  splitMessage,
  type Head,
  type HeaderField,
  type HeaderRewrite,
  type SplitMessage,
} from './head.js';
export type {
  BasicBody,
  BodyDisposition,
  BodyExtension,
  BodyFields,
  BodyParams,
  BodyStructure,
  Envelope,
  EnvelopeAddress,
  MessageAnalysis,
  MessageBody,
  MultipartBody,
  PartLayout,
  TextBody,
} from './types.js';
export {
  attachmentNames,
  bodySearchText,
  decodeTextPart,
  decodeTransferEncoding,
  htmlToText,
  textPartRanges,
  type TextPartRange,
} from './text.js';
