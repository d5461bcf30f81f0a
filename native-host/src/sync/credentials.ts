/**
 * How the sync engine reaches the upstream IMAP server: the provider's Dovecot with the
 * session token (XOAUTH2/OAUTHBEARER), or any IMAP server with a password (legacy mode).
 * The token is asked for on every connection, so a session that renews itself by logging in
 * again (the provider client's `token()`) feeds it directly.
 */
import { ImapFlow } from 'imapflow';
import { SyncError, describeError } from './errors.js';

export interface UpstreamEndpoint {
  host: string;
  port: number;
  /** Implicit TLS (true) or STARTTLS, which is then required (false). */
  secure: boolean;
  /** TLS server name to check the certificate against (the provider's domain). */
  servername?: string;
  /** PEM CA to trust instead of the system store (the provider's own CA). */
  ca?: string;
}

export type UpstreamCredentials = UpstreamEndpoint &
  (
    | { user: string; accessToken: () => Promise<string> }
    | { user: string; password: () => Promise<string> | string }
  );

const CONNECT_TIMEOUT_MS = 15_000;

/**
 * A connected, authenticated imapflow client; CONDSTORE, and QRESYNC unless `qresync` is
 * false, enabled when the server has them.
 */
export async function connectUpstream(
  credentials: UpstreamCredentials,
  options: { qresync?: boolean } = {},
): Promise<ImapFlow> {
  let auth: { user: string; accessToken: string } | { user: string; pass: string };
  try {
    auth =
      'accessToken' in credentials
        ? { user: credentials.user, accessToken: await credentials.accessToken() }
        : { user: credentials.user, pass: await credentials.password() };
  } catch (error) {
    // A network failure while renewing the token is the provider being away, not a refusal.
    const network = /^E[A-Z]+$/.test(String((error as { code?: unknown })?.code ?? ''));
    throw new SyncError(
      network ? 'upstream_unreachable' : 'upstream_refused',
      `No credentials for the mail server: ${describeError(error)}`,
    );
  }
  const client = new ImapFlow({
    host: credentials.host,
    port: credentials.port,
    secure: credentials.secure,
    // The capability list arrives in cleartext, so a server (or anyone on the path) that
    // leaves STARTTLS out must end the connection, not receive the credentials unencrypted.
    ...(credentials.secure ? {} : { doSTARTTLS: true }),
    ...(credentials.servername ? { servername: credentials.servername } : {}),
    tls: {
      ...(credentials.ca ? { ca: credentials.ca } : {}),
      ...(credentials.servername ? { servername: credentials.servername } : {}),
      minVersion: 'TLSv1.2',
    },
    auth,
    logger: false,
    qresync: options.qresync !== false,
    disableAutoIdle: true,
    connectionTimeout: CONNECT_TIMEOUT_MS,
    greetingTimeout: CONNECT_TIMEOUT_MS,
  });
  // Without a listener an 'error' event would crash the process; the caller sees the failure
  // through the rejected command or the 'close' event instead.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    client.close();
    const failure = error as { authenticationFailed?: boolean; tlsFailed?: boolean };
    if (failure.tlsFailed) {
      throw new SyncError(
        'upstream_unreachable',
        `${credentials.servername ?? credentials.host} did not set up an encrypted connection (${describeError(error)}), so LeapBird did not send your password: it would have crossed the network readable by anyone on the way. Choose TLS for this server, or ask your provider why it offers no STARTTLS.`,
      );
    }
    const refused = failure.authenticationFailed;
    throw new SyncError(
      refused ? 'upstream_refused' : 'upstream_unreachable',
      refused
        ? 'The mail server did not accept the login.'
        : `The mail server could not be reached: ${describeError(error)}`,
    );
  }
  return client;
}
