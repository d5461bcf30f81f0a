export { LocalDelivery, bounceMessage, type Bounce } from './local.js';
export { createLmtp, type Lmtp } from './lmtp.js';
export { encryptOnReceipt, isEncryptedTo, headersOf } from './pgpmime.js';
export {
  startMx,
  localRecipient,
  readMessage,
  smtpError,
  toSmtpError,
  MAX_RECIPIENTS,
} from './server.js';
