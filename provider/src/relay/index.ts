export { relayToDomain } from './outbound.js';
export { routeMessage, startRelay } from './server.js';
