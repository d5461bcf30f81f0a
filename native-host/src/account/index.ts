/**
 * Accounts: setting one up at a provider, resuming it when Thunderbird starts, and running
 * everything an account needs (store, keys, local IMAP and SMTP, outbox, sync).
 */
export { AccountService, type AccountServiceOptions } from './service.js';
export { AccountRegistry, type AccountRecord } from './registry.js';
export { AccountRuntime } from './runtime.js';
export { indexProgressOf, syncProgressOf } from './progress.js';
