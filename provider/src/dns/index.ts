export { DnsClient, parseResolverAddress, type ResolverAddress } from './client.js';
export {
  buildQuery,
  parseAnswer,
  type DnsResult,
  type DnsStatus,
  type MxRecord,
  type RecordType,
  type TlsaRecord,
} from './message.js';
export {
  checkDane,
  peerChain,
  recordMatches,
  tlsaFor,
  usableTlsa,
  type DaneResult,
} from './dane.js';
