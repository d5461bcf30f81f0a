/** Messages as Thunderbird would hand them to the SMTP server, and a parser for checks. */
import { parseEntity, splitMultipart, contentType } from '../../native-host/src/crypto/mime.js';

export function plainMessage(
  overrides: { subject?: string; body?: string; extraHeaders?: string[] } = {},
): string {
  return [
    'From: Alice <alice@alpha.test>',
    'To: Bob <bob@beta.test>',
    'Cc: carol@gamma.test',
    'Bcc: secret-dave@delta.test',
    `Subject: ${overrides.subject ?? 'Quarterly numbers (confidential)'}`,
    'Date: Mon, 23 Nov 2026 18:00:00 +0000',
    'Message-ID: <original-123@alpha.test>',
    'In-Reply-To: <parent-1@beta.test>',
    'References: <root-0@beta.test> <parent-1@beta.test>',
    'User-Agent: Thunderbird 153',
    ...(overrides.extraHeaders ?? []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=UTF-8; format=flowed',
    'Content-Transfer-Encoding: 8bit',
    '',
    overrides.body ?? 'Hello Bob,\r\nthe numbers are 42 and 17.\r\nGrüße, Alice\r\n',
  ].join('\r\n');
}

export function multipartMessage(): string {
  return [
    'From: Alice <alice@alpha.test>',
    'To: Bob <bob@beta.test>',
    'Subject: With attachment',
    'Date: Mon, 23 Nov 2026 18:00:00 +0000',
    'Message-ID: <multi-1@alpha.test>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer-b"',
    '',
    'This is a multi-part message in MIME format.',
    '--outer-b',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Text with trailing spaces   ',
    'From the start of a line, and ünïcödé.',
    '--outer-b',
    'Content-Type: application/octet-stream; name="data.bin"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="data.bin"',
    '',
    Buffer.from([0, 1, 2, 3, 250, 251, 252]).toString('base64'),
    '--outer-b--',
    '',
  ].join('\r\n');
}

export function header(raw: Buffer | string, name: string): string | undefined {
  const entity = parseEntity(Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
  return entity.headers.find((h) => h.key === name.toLowerCase())?.value;
}

export function headerNames(raw: Buffer | string): string[] {
  const entity = parseEntity(Buffer.isBuffer(raw) ? raw : Buffer.from(raw));
  return entity.headers.map((h) => h.key);
}

/** The parts of a top-level multipart message, as raw entities. */
export function topParts(raw: Buffer): Buffer[] {
  const entity = parseEntity(raw);
  const type = contentType(entity.headers);
  return splitMultipart(entity.body, type.params.boundary ?? '') ?? [];
}

export function bodyOf(raw: Buffer | string): Buffer {
  return parseEntity(Buffer.isBuffer(raw) ? raw : Buffer.from(raw)).body;
}
