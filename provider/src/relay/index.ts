export {
  relayToDomain,
  type DnsDeliveryOptions,
  type OutboundConfig,
  type Protection,
} from './outbound.js';
export { StsCache } from './mta-sts-fetch.js';
export { parseStsPolicy, parseStsRecord, mxAllowed, type StsPolicy } from './mta-sts.js';
export { orderMx } from './discover.js';
export { dotStuff } from './smtp-client.js';
export { routeMessage, startRelay } from './server.js';
