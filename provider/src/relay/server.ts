/**
 * The submission relay: implicit TLS with the provider's certificate, AUTH with the session
 * token (PLAIN/LOGIN with the token as password, or XOAUTH2), MAIL FROM must be the user's
 * own address. Local recipients take the MX path (encrypted on receipt), others are relayed.
 *
 * Exactly once: a client that names its transaction (RFC 3461 `MAIL FROM:<..> ENVID=..`)
 * and sends it again, because it never heard or never recorded the 250, gets 250 again
 * without a second delivery, for as long as `limits.relayEnvelopeIdMs`.
 */
import { SMTPServer } from 'smtp-server';
import { userForToken } from '../auth/index.js';
import type { ProviderContext } from '../context.js';
import { listenSmtp, type ListeningServer } from '../net/index.js';
import {
  localRecipient,
  readMessage,
  smtpError,
  toSmtpError,
  MAX_RECIPIENTS,
} from '../mx/index.js';
import type { UserRecord } from '../store/index.js';
import { normaliseAddress } from '../api/index.js';

export interface RelayOptions {
  ctx: ProviderContext;
  host: string;
  port: number;
  tls: { key: string; cert: string };
  deliverLocal: (raw: Buffer, sender: string, users: UserRecord[]) => Promise<void>;
  relay: (domain: string, from: string, to: string[], raw: Buffer) => Promise<void>;
  /** Mail for other domains is looked up in DNS (else only the resolver map's are known). */
  dnsDelivery: boolean;
}

/** Splits recipients into local users and remote addresses grouped by domain, then delivers. */
export async function routeMessage(
  o: Pick<RelayOptions, 'ctx' | 'deliverLocal' | 'relay'>,
  sender: string,
  recipients: string[],
  raw: Buffer,
): Promise<void> {
  const local: UserRecord[] = [];
  const remote = new Map<string, string[]>();
  for (const address of recipients) {
    const { domain } = normaliseAddress(address);
    if (domain === o.ctx.domain) local.push(await localRecipient(o.ctx, address));
    else remote.set(domain, [...(remote.get(domain) ?? []), address]);
  }
  if (local.length > 0) await o.deliverLocal(raw, sender, local);
  for (const [domain, to] of remote) await o.relay(domain, sender, to, raw);
}

export async function startRelay(o: RelayOptions): Promise<ListeningServer> {
  const maxBytes = o.ctx.limits.maxMessageBytes;
  const users = new WeakMap<object, UserRecord>();
  const server = new SMTPServer({
    name: `smtp.${o.ctx.domain}`,
    banner: `${o.ctx.domain} submission`,
    secure: true,
    key: o.tls.key,
    cert: o.tls.cert,
    authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
    size: maxBytes,
    // DSN is advertised so that clients send ENVID; every delivery is done before the 250,
    // so a failure is always the SMTP reply and no delay or failure notice ever follows.
    hideDSN: false,
    logger: false,
    closeTimeout: 1000,
    onAuth(auth, session, callback) {
      const token = auth.method === 'XOAUTH2' ? (auth.accessToken ?? '') : (auth.password ?? '');
      const name = (auth.username ?? '').toLowerCase();
      userForToken(o.ctx, token).then(
        (user) => {
          if (!user || (name !== user.address && name !== user.login)) {
            callback(
              smtpError(
                '5.7.8 Authentication failed: log in again to get a fresh session token',
                535,
              ),
            );
            return;
          }
          users.set(session, user);
          callback(null, { user: user.address });
        },
        (err: unknown) => callback(toSmtpError(err)),
      );
    },
    onMailFrom(address, session, callback) {
      const user = users.get(session);
      if (!user || address.address.toLowerCase() !== user.address) {
        callback(
          smtpError(`5.7.1 You may send only as <${user?.address ?? 'your own address'}>`, 553),
        );
        return;
      }
      callback();
    },
    onRcptTo(address, session, callback) {
      const check = async () => {
        if (session.envelope.rcptTo.length >= MAX_RECIPIENTS)
          throw smtpError('4.5.3 Too many recipients', 452);
        const { domain } = normaliseAddress(address.address);
        if (domain === o.ctx.domain) await localRecipient(o.ctx, address.address);
        else if (!o.dnsDelivery && !o.ctx.resolver.mxFor(domain))
          throw smtpError(`5.1.2 No mail server is known for ${domain}`, 550);
      };
      check().then(
        () => callback(),
        (err: unknown) =>
          callback(
            err instanceof Error && 'responseCode' in err
              ? err
              : smtpError(`5.1.3 <${address.address}> is not a valid address`, 553),
          ),
      );
    },
    onData(stream, session, callback) {
      const user = users.get(session);
      // RFC 3461 section 4.4: at most 100 characters; a longer one is not honoured.
      const envid = session.envelope.dsn?.envid ?? null;
      const envelopeId = envid && envid.length <= 100 ? envid : null;
      readMessage(stream, maxBytes)
        .then(async (raw) => {
          if (!user) throw smtpError('5.7.0 Authentication required', 530);
          const now = o.ctx.now();
          const { relayEnvelopeIdMs } = o.ctx.limits;
          if (
            envelopeId &&
            (await o.ctx.store.relayedBefore(user.id, envelopeId, now - relayEnvelopeIdMs))
          ) {
            o.ctx.log.info('relay_repeat_not_sent', { user: user.id, envelopeId });
            callback(null, 'Message accepted before (same ENVID), not sent again');
            return;
          }
          await routeMessage(
            o,
            user.address,
            session.envelope.rcptTo.map((r) => r.address),
            raw,
          );
          if (envelopeId) {
            await o.ctx.store.rememberRelayed(user.id, envelopeId, now, now - relayEnvelopeIdMs);
          }
          callback(null, 'Message accepted');
        })
        .catch((err) => callback(toSmtpError(err)));
    },
  });
  return listenSmtp(server, o.host, o.port);
}
