/**
 * The local bounce: what the user finds in the Inbox when a message could not be
 * delivered, in words, with the original attached so it can be sent again. It stays on
 * this machine (the original is plaintext).
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

export interface BounceFacts {
  sender: string;
  /** The original Subject field value (possibly RFC 2047 encoded), if there was one. */
  subject: string | null;
  acceptedAt: Date;
  failed: { address: string; reason: string }[];
  attempts: number;
  original: Readable;
}

/** RFC 2822 date in UTC ("Mon, 23 Nov 2026 19:00:00 +0000"). */
function mailDate(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}

/** One line, no control characters: the relay's reply comes from outside. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- removing control characters is the point
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 500);
}

export async function* bounceMessage(facts: BounceFacts): AsyncGenerator<Buffer> {
  const boundary = `----=_leapbird_bounce_${randomBytes(12).toString('hex')}`;
  const domain = facts.sender.split('@')[1] ?? 'localhost';
  const subject = oneLine(facts.subject ?? '(no subject)');
  const lines = [
    `Your message "${subject}" of ${mailDate(facts.acceptedAt)} could not be delivered to:`,
    '',
    ...facts.failed.map((f) => `  ${f.address}: ${oneLine(f.reason)}`),
    '',
    `It was tried ${facts.attempts} time(s). Nobody else was affected: recipients not listed`,
    'here received it. The original is attached; you can open it and send it again.',
  ];
  yield Buffer.from(
    [
      `From: Mail Delivery System <MAILER-DAEMON@${domain}>`,
      `To: <${facts.sender}>`,
      `Subject: Undelivered: ${subject}`,
      `Date: ${mailDate(new Date())}`,
      `Message-ID: <bounce.${randomBytes(12).toString('hex')}@${domain}>`,
      'Auto-Submitted: auto-replied',
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      ...lines,
      '',
      `--${boundary}`,
      'Content-Type: message/rfc822',
      'Content-Disposition: attachment; filename="original.eml"',
      '',
      '',
    ].join('\r\n'),
  );
  for await (const chunk of facts.original) yield chunk as Buffer;
  yield Buffer.from(`\r\n--${boundary}--\r\n`);
}
