/** The local IMAP server and the storage interface it serves from. */
export * from './backend.js';
