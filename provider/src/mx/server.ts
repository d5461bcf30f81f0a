/**
 * The MX: accepts mail for local users from anyone (no AUTH), limits size, and hands each
 * message to local delivery, which encrypts it before it reaches disk.
 */
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { ProviderContext } from '../context.js';
import { listenSmtp, type ListeningServer } from '../net/index.js';
import { ProviderError } from '../errors.js';
import type { UserRecord } from '../store/index.js';
import { normaliseAddress } from '../api/index.js';

export const MAX_RECIPIENTS = 100;

export function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

/** The local user an address belongs to, or an SMTP error saying why not. */
export async function localRecipient(ctx: ProviderContext, address: string): Promise<UserRecord> {
  let normal;
  try {
    normal = normaliseAddress(address);
  } catch {
    throw smtpError(`5.1.3 <${address}> is not a valid address`, 553);
  }
  if (normal.domain !== ctx.domain) throw smtpError(`5.7.1 Relaying to <${address}> denied`, 550);
  const user = await ctx.store.userByAddress(normal.address);
  if (!user) throw smtpError(`5.1.1 <${address}> no such user here`, 550);
  return user;
}

/** Reads a DATA stream into memory (the message is encrypted as a whole), enforcing the size. */
export function readMessage(stream: SMTPServerDataStream, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is drained but not kept.
      if (size <= maxBytes) chunks.push(chunk);
    });
    stream.on('error', reject);
    stream.on('end', () => {
      if (stream.sizeExceeded || size > maxBytes)
        reject(smtpError(`5.3.4 Message larger than ${maxBytes} bytes`, 552));
      else resolve(Buffer.concat(chunks));
    });
  });
}

export function toSmtpError(err: unknown): Error {
  if (err instanceof Error && 'responseCode' in err) return err;
  if (err instanceof ProviderError && err.status === 451)
    return smtpError(`4.3.0 ${err.message}`, 451);
  return smtpError('4.3.0 Temporary failure, try again later', 451);
}

export interface MxOptions {
  ctx: ProviderContext;
  host: string;
  port: number;
  deliver: (raw: Buffer, sender: string, users: UserRecord[]) => Promise<void>;
  tls: { key: string; cert: string };
}

export async function startMx(o: MxOptions): Promise<ListeningServer> {
  const maxBytes = o.ctx.limits.maxMessageBytes;
  const server = new SMTPServer({
    name: `mx.${o.ctx.domain}`,
    banner: `${o.ctx.domain} MX`,
    authOptional: true,
    disabledCommands: ['AUTH'],
    size: maxBytes,
    key: o.tls.key,
    cert: o.tls.cert,
    logger: false,
    closeTimeout: 1000,
    onRcptTo(address, session: SMTPServerSession, callback) {
      const check = async () => {
        if (session.envelope.rcptTo.length >= MAX_RECIPIENTS)
          throw smtpError('4.5.3 Too many recipients', 452);
        await localRecipient(o.ctx, address.address);
      };
      check().then(
        () => callback(),
        (err: unknown) => callback(toSmtpError(err)),
      );
    },
    onData(stream, session, callback) {
      readMessage(stream, maxBytes)
        .then(async (raw) => {
          // Looked up again: a user deleted between RCPT and DATA fails the message, not the MX.
          const users = await Promise.all(
            session.envelope.rcptTo.map((r) => localRecipient(o.ctx, r.address)),
          );
          const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          await o.deliver(raw, sender, users);
          callback(null, 'Message accepted and stored encrypted');
        })
        .catch((err) => callback(toSmtpError(err)));
    },
  });
  return listenSmtp(server, o.host, o.port);
}
