/** What can go wrong talking to a provider, each with a sentence for the person at the screen. */
export type ProviderErrorCode =
  | 'unreachable'
  | 'certificate_mismatch'
  | 'fingerprint_mismatch'
  | 'invalid_provider'
  | 'registration_closed'
  | 'username_taken'
  | 'invalid_username'
  | 'wrong_password'
  | 'server_proof_invalid'
  | 'rate_limited'
  | 'session_expired'
  | 'login_key_downgrade'
  | 'server_error';

export class ProviderClientError extends Error {
  constructor(
    readonly code: ProviderErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'ProviderClientError';
  }

  toValue(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}
