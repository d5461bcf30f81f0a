/**
 * Errors as values: every function of this module that can meet bad input (a broken key, a
 * truncated armour, a message for someone else) returns one of these instead of throwing,
 * so the sync engine and the SMTP server can keep going and show the message to a person.
 */
export type CryptoErrorCode =
  | 'invalid_key'
  | 'no_usable_key'
  | 'malformed_message'
  | 'malformed_armor'
  | 'wrong_key'
  | 'decryption_failed'
  | 'encryption_failed'
  | 'signing_failed'
  | 'too_deep'
  /** Decompressing the message would pass the message size limit: a bomb, not mail. */
  | 'too_large'
  /** Inline PGP with text outside the armored block: only part of it would be protected. */
  | 'partly_encrypted';

export interface CryptoError {
  code: CryptoErrorCode;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: CryptoError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: CryptoErrorCode, message: string): Result<T> {
  return { ok: false, error: { code, message } };
}

/** OpenPGP.js throws plain Errors; this keeps their text for the person reading it. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
