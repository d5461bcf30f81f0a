/**
 * Errors as values: each refusal has a code for programs and a sentence for the person in
 * front of Thunderbird, which shows the SMTP reply text in its "Sending failed" dialog.
 */
export type SmtpErrorCode =
  | 'auth_failed'
  | 'auth_required'
  | 'sender_not_allowed'
  | 'bad_recipient'
  | 'too_many_recipients'
  | 'message_too_large'
  | 'malformed_message'
  | 'encryption_required'
  | 'own_key_unusable'
  | 'protection_failed'
  | 'outbox_unavailable';

export interface SmtpError {
  code: SmtpErrorCode;
  /** The reply code Thunderbird sees (4xx: try again later, 5xx: will not work as is). */
  smtpCode: number;
  /** One sentence, with an RFC 3463 enhanced status code in front. */
  message: string;
}

export function smtpError(code: SmtpErrorCode, smtpCode: number, message: string): SmtpError {
  return { code, smtpCode, message };
}

/** The shape smtp-server wants for a refusal: an Error carrying the reply code. */
export function toReply(error: SmtpError): Error & { responseCode: number; code: string } {
  return Object.assign(new Error(error.message), {
    responseCode: error.smtpCode,
    code: error.code,
  });
}
