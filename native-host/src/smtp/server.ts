/**
 * The local submission server Thunderbird sends through: loopback only, AUTH PLAIN/LOGIN
 * with the per-install credentials, MAIL FROM limited to the account's addresses. The
 * handlers only check and hand over; `submission.ts` does the work per message.
 */
import { isIP } from 'node:net';
import { finished } from 'node:stream/promises';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { silentLogger, type Logger } from '../log/index.js';
import { smtpError, toReply } from './errors.js';
import type { Outbox } from './outbox/index.js';
import { submitMessage, type RecipientKeys } from './submission.js';

/** Connections at once; past it smtp-server answers 421. */
const MAX_CLIENTS = 16;
/** Of those, connections not logged in yet (see onConnect). */
const MAX_WAITING_FOR_AUTH = 8;

export interface SmtpServerOptions {
  /** Loopback only: 127.0.0.1 (default) or ::1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Checks the per-install credentials handed to Thunderbird. */
  authenticate: (user: string, password: string) => boolean | Promise<boolean>;
  /** The account's addresses (MAIL FROM must be one of them); read per message. */
  addresses: () => string[];
  keys: RecipientKeys;
  outbox: Outbox;
  /** Account setting: refuse what cannot be encrypted (default false); read per message. */
  encryptedOnly?: () => boolean;
  /** Account setting: attach the sender's public key (default false); read per message. */
  attachPublicKey?: () => boolean;
  /** Default 64 MiB. */
  maxMessageBytes?: number;
  /** Default 100. */
  maxRecipients?: number;
  logger?: Logger;
  /**
   * Implicit TLS with the install's own certificate (see tls/): a squatter on the port cannot
   * complete the handshake, so Thunderbird sends it neither the password nor the message.
   * Without it the server speaks plain SMTP, for tests of submission alone.
   */
  tls?: { key: string; cert: string };
}

export interface RunningSmtpServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1']);
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export async function startSmtpServer(options: SmtpServerOptions): Promise<RunningSmtpServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) || isIP(host) === 0) {
    throw new Error(`The local SMTP server listens on loopback only, not on "${host}".`);
  }
  const log = options.logger ?? silentLogger;
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxRecipients = options.maxRecipients ?? 100;
  const server = new SMTPServer({
    name: 'localhost',
    banner: 'Leapbird local submission',
    secure: Boolean(options.tls),
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' } : {}),
    disabledCommands: ['STARTTLS'],
    // The client is this machine; a reverse DNS lookup would only add ~100 ms to each message.
    disableReverseLookup: true,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: true,
    authOptional: false,
    size: maxMessageBytes,
    logger: false,
    closeTimeout: 1000,
    maxClients: MAX_CLIENTS,
    onConnect(session, callback) {
      // Anyone on the machine can connect: connections still waiting for AUTH are kept few
      // and the one waiting longest makes room, so idle strangers cannot fill the server and
      // keep Thunderbird from sending (as the IMAP server does).
      const waiting = [...server.connections].filter(
        (c) => c.session !== session && !c.session.user,
      );
      if (waiting.length >= MAX_WAITING_FOR_AUTH) {
        const oldest = waiting[0]!;
        oldest.send(421, '4.7.0 Too many connections waiting to log in; this one waited longest');
        oldest.close();
        log.warn('smtp.unauthenticated_evicted', { waiting: waiting.length });
      }
      callback();
    },
    onAuth(auth, _session, callback) {
      Promise.resolve(options.authenticate(auth.username ?? '', auth.password ?? ''))
        .catch(() => false)
        .then((ok) => {
          if (ok) callback(null, { user: auth.username });
          else {
            log.warn('smtp_auth_failed', {});
            callback(
              toReply(
                smtpError(
                  'auth_failed',
                  535,
                  '5.7.8 Wrong user name or password for the local mail server.',
                ),
              ),
            );
          }
        });
    },
    onMailFrom(address, _session, callback) {
      const allowed = options.addresses().map((a) => a.toLowerCase());
      if (!allowed.includes(address.address.toLowerCase())) {
        callback(
          toReply(
            smtpError(
              'sender_not_allowed',
              553,
              `5.7.1 You can send only as ${allowed.join(' or ')} through this account.`,
            ),
          ),
        );
        return;
      }
      callback();
    },
    onRcptTo(address, session, callback) {
      if (session.envelope.rcptTo.length >= maxRecipients) {
        callback(
          toReply(
            smtpError(
              'too_many_recipients',
              452,
              `4.5.3 At most ${maxRecipients} recipients per message.`,
            ),
          ),
        );
        return;
      }
      if (!/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(address.address)) {
        callback(
          toReply(
            smtpError('bad_recipient', 553, `5.1.3 "${address.address}" is not an e-mail address.`),
          ),
        );
        return;
      }
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const envelope = {
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        to: session.envelope.rcptTo.map((r) => r.address),
      };
      submitMessage(
        {
          outbox: options.outbox,
          keys: options.keys,
          encryptedOnly: options.encryptedOnly?.() ?? false,
          attachPublicKey: options.attachPublicKey?.() ?? false,
          maxMessageBytes,
          logger: log,
        },
        envelope,
        stream,
      )
        .then(async (result) => {
          // smtp-server answers only after the whole DATA was read.
          if (!stream.readableEnded && !stream.destroyed) {
            stream.resume();
            await finished(stream).catch(() => undefined);
          }
          if (result.ok) {
            log.info('smtp_accepted', {
              id: result.id,
              protection: result.protection,
              recipients: envelope.to.length,
            });
            callback(null, `2.0.0 Queued for delivery (${result.protection})`);
          } else {
            log.info('smtp_refused', { code: result.error.code });
            callback(toReply(result.error));
          }
        })
        .catch((error: Error) => {
          log.error('smtp_data_failed', { error: error.message });
          callback(toReply(smtpError('outbox_unavailable', 451, '4.3.0 Local error; try again.')));
        });
    },
  });
  server.on('error', (error) => log.warn('smtp_connection_error', { error: error.message }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
