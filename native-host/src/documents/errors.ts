import { RpcError } from '../../../shared/src/errors.js';

export type DocumentsErrorCode =
  /** A record or setting that would store something the key manager cannot use. */
  | 'invalid_record'
  | 'invalid_setting'
  | 'invalid_params'
  /** Replication asked for without a provider session (a legacy account has no sync store). */
  | 'no_session'
  /** RxDB's open-source build allows 13 collections per process: about four accounts. */
  | 'too_many_open'
  | 'closed';

/** Failures of an account's synced documents: `code` for programs, `message` for people. */
export class DocumentsError extends RpcError {
  constructor(
    override readonly code: DocumentsErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'DocumentsError';
  }
}
