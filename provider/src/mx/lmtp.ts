/**
 * Delivery into Dovecot over LMTP. The envelope sender is empty so that Dovecot's
 * Return-Path does not record who wrote the message.
 */
import nodemailer from 'nodemailer';
import { ProviderError } from '../errors.js';

export interface LmtpTarget {
  host: string;
  port: number;
}

export interface Lmtp {
  deliver(recipient: string, message: Buffer): Promise<void>;
  close(): void;
}

export function createLmtp(target: LmtpTarget, domain: string): Lmtp {
  const transport = nodemailer.createTransport({
    host: target.host,
    port: target.port,
    lmtp: true,
    secure: false,
    ignoreTLS: true,
    name: domain,
    pool: true,
    maxConnections: 4,
    connectionTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async deliver(recipient, message) {
      try {
        await transport.sendMail({ envelope: { from: '', to: [recipient] }, raw: message });
      } catch (err) {
        throw new ProviderError(
          'delivery_failed',
          `The mailbox of ${recipient} did not accept the message: ${(err as Error).message}`,
          451,
        );
      }
    },
    close: () => transport.close(),
  };
}
