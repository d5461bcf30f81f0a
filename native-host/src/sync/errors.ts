/**
 * Errors of the sync engine as values with a code (for programs) and a message (for the
 * person reading the add-on's status).
 */
export type SyncErrorCode =
  'upstream_unreachable' | 'upstream_refused' | 'no_own_key' | 'replay_failed' | 'stopped';

export class SyncError extends Error {
  constructor(
    readonly code: SyncErrorCode,
    message: string,
  ) {
    super(message);
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
