/**
 * Errors are values with a code (for programs) and a message (for people). The add-on
 * shows `message` as is; logs carry the detail.
 */
export type ErrorCode =
  | 'bad_message'
  | 'message_too_large'
  | 'unknown_method'
  | 'invalid_params'
  | 'timeout'
  | 'disconnected'
  | 'not_supported'
  | 'internal'
  | 'thunderbird_error';

export interface RpcErrorValue {
  code: ErrorCode | string;
  message: string;
}

export class RpcError extends Error implements RpcErrorValue {
  constructor(
    readonly code: ErrorCode | string,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }

  toValue(): RpcErrorValue {
    return { code: this.code, message: this.message };
  }

  static from(value: unknown): RpcError {
    if (value instanceof RpcError) return value;
    if (isErrorValue(value)) return new RpcError(value.code, value.message);
    const message = value instanceof Error ? value.message : String(value);
    return new RpcError('internal', message);
  }
}

export function isErrorValue(value: unknown): value is RpcErrorValue {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as RpcErrorValue).code === 'string' &&
    typeof (value as RpcErrorValue).message === 'string'
  );
}
