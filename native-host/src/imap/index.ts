/** The local IMAP server and the storage interface it serves from. */
export * from './backend.js';
export {
  DEFAULT_IMAP_LIMITS,
  ImapServerError,
  startImapServer,
  type ImapServer,
  type ImapServerLimits,
  type ImapServerOptions,
} from './server.js';
export { MemoryBackend, MemoryAccount, type MemoryBackendOptions } from './memory/index.js';
/** The IMAP wire forms of ENVELOPE and BODYSTRUCTURE, for backends that keep them precomputed. */
export {
  envelope as encodeEnvelope,
  bodyStructure as encodeBodyStructure,
} from './protocol/encoder.js';
/** SEARCH's header semantics, for backends that evaluate header keys themselves. */
export {
  headerDay,
  headerFieldMatches,
  headerSearchTexts,
  textSearchHeaderTexts,
} from './search.js';
