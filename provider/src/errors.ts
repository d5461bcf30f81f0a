/**
 * Errors are values with a code (for programs), a message (for people) and the HTTP status
 * the API answers with. Nothing else about the failure leaves the process.
 */
export class ProviderError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** Sent with the answer, e.g. `retry-after` with a 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

export function isProviderError(value: unknown): value is ProviderError {
  return value instanceof ProviderError;
}
