import { RpcError } from '../../../../shared/src/errors.js';

/**
 * Failures of the synced document store and its replication. `code` is for programs
 * (`closed`, `not_found`, `invalid_params`, `decrypt_failed`, `rollback`, `sync_http`,
 * `sync_protocol`), `message` for people.
 */
export class RxdbStoreError extends RpcError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'RxdbStoreError';
  }
}
