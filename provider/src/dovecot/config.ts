/**
 * Renders a self-contained dovecot.conf: nothing from /etc/dovecot is read, every socket
 * lives under the instance's own base_dir, and every listener binds one loopback address.
 */

export interface PasswdUser {
  user: string;
  password: string;
}

/** How Dovecot checks a login. `passwd-file`: fixed users (end-to-end tests that need "a
 * Dovecot with user X / password Y"). `oauth2`: the provider's session token, checked against
 * the API's introspection endpoint (XOAUTH2, OAUTHBEARER, or PLAIN with the token as password). */
export type DovecotAuth =
  | { kind: 'passwd-file'; users: PasswdUser[] }
  | { kind: 'oauth2'; introspectionUrl: string; caCertPath?: string };

export interface MailOwner {
  uid: number;
  gid: number;
  internalUser: string;
  loginUser: string;
}

export interface ConfigInput {
  instance: string;
  host: string;
  baseDir: string;
  mailDir: string;
  logPath: string;
  passwdPath: string;
  oauth2ConfPath: string;
  ports: { imap: number; imaps: number | null; lmtp: number };
  tls: { certPath: string; keyPath: string } | null;
  auth: DovecotAuth;
  owner: MailOwner;
  extraConfig?: string;
}

/** Dovecot's config parser ends a value at a newline and treats `#` as a comment start;
 * refusing such characters keeps a path or URL from injecting settings. */
function value(text: string): string {
  if (/[\n\r#"]/.test(text))
    throw new Error(`unsafe value for dovecot.conf: ${JSON.stringify(text)}`);
  return text;
}

export function renderDovecotConf(c: ConfigInput): string {
  const passdb =
    c.auth.kind === 'passwd-file'
      ? `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u ${value(c.passwdPath)}\n}`
      : `passdb {\n  driver = oauth2\n  args = ${value(c.oauth2ConfPath)}\n}`;
  const mechanisms = c.auth.kind === 'oauth2' ? 'plain login xoauth2 oauthbearer' : 'plain login';
  const imaps = c.ports.imaps
    ? `  inet_listener imaps {\n    address = ${c.host}\n    port = ${c.ports.imaps}\n    ssl = yes\n  }\n`
    : '';
  const ssl = c.tls
    ? `ssl = yes\nssl_cert = <${value(c.tls.certPath)}\nssl_key = <${value(c.tls.keyPath)}\nssl_min_protocol = TLSv1.2\n`
    : 'ssl = no\n';
  return `# Written by the provider on every start; edits are overwritten.
instance_name = ${value(c.instance)}
base_dir = ${value(c.baseDir)}
state_dir = ${value(c.baseDir)}/state
protocols = imap lmtp
# No statistics: processes would otherwise wait for the stats service (up to 5 s on a stop
# right after a start).
stats_writer_socket_path =
listen = ${c.host}
log_path = ${value(c.logPath)}
info_log_path = ${value(c.logPath)}
debug_log_path = ${value(c.logPath)}
default_internal_user = ${value(c.owner.internalUser)}
default_internal_group = ${value(c.owner.internalUser)}
default_login_user = ${value(c.owner.loginUser)}
first_valid_uid = ${Math.min(c.owner.uid, 500)}
first_valid_gid = ${Math.min(c.owner.gid, 1)}
mail_uid = ${c.owner.uid}
mail_gid = ${c.owner.gid}
mail_location = maildir:~/Maildir
mail_home = ${value(c.mailDir)}/%d/%n
# With TLS configured, credentials (session tokens) travel only inside TLS; a Dovecot
# without TLS (tests on loopback) accepts them in the clear.
disable_plaintext_auth = ${c.tls ? 'yes' : 'no'}
auth_mechanisms = ${mechanisms}
auth_username_format = %Lu
login_greeting = Dovecot ready.
${ssl}
${passdb}
userdb {
  driver = static
  # The MX checks recipients before LMTP; a token passdb cannot answer "does this user
  # exist", so the userdb accepts any name LMTP is given.
  args = uid=${c.owner.uid} gid=${c.owner.gid} home=${value(c.mailDir)}/%d/%n allow_all_users=yes
}

namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
}

service imap-login {
  inet_listener imap {
    address = ${c.host}
    port = ${c.ports.imap}
  }
${imaps}}
service lmtp {
  inet_listener lmtp {
    address = ${c.host}
    port = ${c.ports.lmtp}
  }
  unix_listener lmtp {
    mode = 0
  }
}
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0
  }
}
protocol lmtp {
  postmaster_address = postmaster@localhost
}
${c.extraConfig ?? ''}`;
}

export function renderOauth2Conf(auth: Extract<DovecotAuth, { kind: 'oauth2' }>): string {
  const lines = [
    `introspection_mode = post`,
    `introspection_url = ${value(auth.introspectionUrl)}`,
    `force_introspection = yes`,
    `username_attribute = username`,
    `active_attribute = active`,
    `active_value = true`,
    `timeout_msecs = 5000`,
  ];
  if (auth.caCertPath) lines.push(`tls_ca_cert_file = ${value(auth.caCertPath)}`);
  return lines.join('\n') + '\n';
}

export function renderPasswd(users: PasswdUser[]): string {
  return users
    .map(({ user, password }) => {
      if (/[:\n\r]/.test(user) || /[:\n\r]/.test(password)) {
        throw new Error(`user ${JSON.stringify(user)} cannot be written to a passwd-file`);
      }
      return `${user}:{PLAIN}${password}::::::`;
    })
    .join('\n')
    .concat('\n');
}
