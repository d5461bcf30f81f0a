import { RpcError } from '../../../shared/src/errors.js';

/**
 * Everything that can go wrong in the store that a caller may want to act on. The message
 * is for a person; the code is for a program (retry with another key, ask for the
 * password again, re-fetch a damaged message from upstream). Mailbox operations report
 * through the IMAP backend's BackendError instead, which the server maps to IMAP codes.
 */
export type StoreErrorCode =
  | 'bad_secret'
  | 'wrong_key'
  | 'schema_too_new'
  | 'migration_failed'
  | 'bad_wrapped_secret'
  | 'bad_recovery_record'
  | 'wrong_password'
  | 'blob_missing'
  | 'blob_corrupt'
  | 'blob_range';

export class StoreError extends RpcError {
  constructor(
    override readonly code: StoreErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'StoreError';
  }
}

export function isStoreError(value: unknown, code?: StoreErrorCode): value is StoreError {
  return value instanceof StoreError && (code === undefined || value.code === code);
}
