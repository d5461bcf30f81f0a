/**
 * Relays a message to another domain's MX. The map in the configuration names it (tests,
 * demos); production would look up DNS MX records, and should enforce TLS by DANE or
 * MTA-STS (future work). TLS is opportunistic, as between MTAs today.
 */
import nodemailer from 'nodemailer';
import type { Resolver } from '../resolver/index.js';
import { smtpError } from '../mx/index.js';

export async function relayToDomain(
  resolver: Resolver,
  localName: string,
  domain: string,
  from: string,
  to: string[],
  raw: Buffer,
): Promise<void> {
  const mx = resolver.mxFor(domain);
  if (!mx) throw smtpError(`5.1.2 No mail server is known for ${domain}`, 550);
  const transport = nodemailer.createTransport({
    host: mx.host,
    port: mx.port,
    secure: false,
    name: localName,
    tls: { rejectUnauthorized: false },
    connectionTimeout: 10_000,
    socketTimeout: 60_000,
  });
  try {
    await transport.sendMail({ envelope: { from, to }, raw });
  } catch (err) {
    const code = (err as { responseCode?: number }).responseCode;
    const permanent = typeof code === 'number' && code >= 500;
    throw smtpError(
      `${permanent ? '5.0.0' : '4.4.1'} ${domain} did not accept the message: ${(err as Error).message}`,
      permanent ? 550 : 451,
    );
  } finally {
    transport.close();
  }
}
