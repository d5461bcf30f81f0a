/**
 * The storage layer: a whole message, byte for byte, encrypted to its owner's key so that
 * the provider keeps only ciphertext. Two parties make one: the provider's MX, for mail that
 * arrived unencrypted, and the native host, for the copies it uploads itself (Sent, Drafts,
 * the replacement of a legacy account's plaintext). A storage layer says nothing about how
 * the message travelled: what its sender did is read from the message inside, and the
 * outer header is never shown or trusted.
 *
 * The format is RFC 3156 multipart/encrypted, so any OpenPGP client can still read it, with
 * one extra field that names the layer. A sender who forges that field only makes the host
 * treat their own encrypted message as if it had arrived unencrypted: nothing is gained.
 */
export const STORED_FIELD = 'X-Leap-Stored';

/** Who made the layer: the provider on receipt, or the user's own host. */
export type StoredBy = 'provider' | 'self';

export interface StorageEnvelope {
  by: StoredBy;
  /** The outer From and To: a neutral address of the provider, or the user's own. */
  from: string;
  to: string;
  /** RFC 5322 Date and Message-ID, one line each (copied from the inside when safe). */
  date: string;
  messageId: string;
  boundary: string;
}

const CRLF = '\r\n';

/** The whole storage-layer message around an armored OpenPGP message. */
export function storageLayerMessage(armored: string, envelope: StorageEnvelope): string {
  const { boundary } = envelope;
  return [
    `From: ${envelope.from}`,
    `To: ${envelope.to}`,
    'Subject: Encrypted message',
    `Date: ${envelope.date}`,
    `Message-ID: ${envelope.messageId}`,
    `${STORED_FIELD}: ${envelope.by}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${boundary}"`,
    '',
    'This is an OpenPGP/MIME encrypted message (RFC 3156).',
    `--${boundary}`,
    'Content-Type: application/pgp-encrypted',
    'Content-Description: PGP/MIME version identification',
    '',
    'Version: 1',
    '',
    `--${boundary}`,
    'Content-Type: application/octet-stream; name="encrypted.asc"',
    'Content-Description: OpenPGP encrypted message',
    'Content-Disposition: inline; filename="encrypted.asc"',
    '',
    armored.replace(/\r?\n/g, CRLF).trimEnd(),
    '',
    `--${boundary}--`,
    '',
  ].join(CRLF);
}

/** Keeps a header value only if it is a single safe line (it is copied to the outer header). */
export function safeHeaderLine(value: string | null | undefined): string | null {
  return value && /^[\x20-\x7e]{1,998}$/.test(value) ? value : null;
}
