import { RpcError } from '../../../shared/src/errors.js';

/**
 * Errors of the sync engine as values with a code (for programs) and a message (for the
 * person reading the add-on's status).
 */
export type SyncErrorCode =
  | 'upstream_unreachable'
  | 'upstream_refused'
  | 'no_own_key'
  | 'replay_failed'
  | 'local_store_failed';

/** An RpcError, so it reaches the add-on's status as `{ code, message }` unchanged. */
export class SyncError extends RpcError {
  constructor(
    override readonly code: SyncErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'SyncError';
  }
}

/** A person-readable description of anything thrown (imapflow errors carry responseText). */
export function describeError(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { responseText?: string; message?: string; code?: string };
    if (e.responseText) return e.responseText;
    if (e.message) return e.code ? `${e.message} (${e.code})` : e.message;
  }
  return String(error);
}

/**
 * Any failure of a pass as a SyncError: the store's own errors (disk full, store closed) are
 * local; everything else came from the connection or the server.
 */
export function toSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  const name = (error as { name?: string })?.name;
  if (name === 'BackendError' || name === 'StoreError') {
    return new SyncError(
      'local_store_failed',
      `The local mail store failed: ${describeError(error)}`,
    );
  }
  return new SyncError(
    'upstream_unreachable',
    `The mail server connection failed: ${describeError(error)}`,
  );
}
