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
        const info = await transport.sendMail({
          envelope: { from: '', to: [recipient] },
          raw: message,
        });
        // LMTP answers DATA per recipient: nodemailer reports a refusal there in `rejected`
        // instead of failing, and the MX must not say 250 for mail that was not stored.
        if (info.rejected.length > 0)
          throw new Error(String(info.rejectedErrors?.[0]?.message ?? 'refused after DATA'));
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
