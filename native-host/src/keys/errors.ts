/** Errors as values for key management: a code for programs, a message for people. */
export type KeyErrorCode =
  | 'invalid_address'
  | 'network'
  | 'not_found'
  | 'invalid_response'
  | 'invalid_key'
  | 'ca_mismatch'
  | 'fingerprint_mismatch'
  | 'no_own_key';

export interface KeyError {
  code: KeyErrorCode;
  message: string;
}

export type KeyResult<T> = { ok: true; value: T } | { ok: false; error: KeyError };

export function keyOk<T>(value: T): KeyResult<T> {
  return { ok: true, value };
}

export function keyFail<T = never>(code: KeyErrorCode, message: string): KeyResult<T> {
  return { ok: false, error: { code, message } };
}
