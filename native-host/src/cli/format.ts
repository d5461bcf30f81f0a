/** What the terminal commands print: plain lines, no colours, one account per block. */
import type { AccountDescription, ClientCredentials } from '../account/index.js';

export interface StandaloneStatus {
  pid: number;
  dataDir: string;
  log: string;
  addons: number;
  accounts: AccountDescription[];
}

export function formatStatus(status: StandaloneStatus): string {
  const lines = [
    `LeapBird host running (process ${status.pid}), data ${status.dataDir}`,
    `  log ${status.log}; Thunderbird connected: ${status.addons > 0 ? 'yes' : 'no'}`,
  ];
  if (status.accounts.length === 0)
    lines.push('No accounts yet: add one with "leapbird-host login ADDRESS".');
  for (const account of status.accounts) lines.push(...formatAccount(account));
  return lines.join('\n') + '\n';
}

function formatAccount(account: AccountDescription): string[] {
  const { sync } = account;
  const lines = [
    `${account.email}: ${account.state}`,
    `  IMAP ${account.imap.host}:${account.imap.port} (TLS), SMTP ${account.smtp.host}:${account.smtp.port} (TLS)`,
  ];
  if (sync.folders > 0)
    lines.push(
      `  sync: ${sync.done} of ${sync.total} messages in ${sync.folders} folders${sync.synced ? ', up to date' : ''}`,
    );
  if (account.message) lines.push(`  ${account.message}`);
  return lines;
}

/** Accounts known from the data folder while no standalone host runs. */
export function formatStopped(
  dataDir: string,
  accounts: { email: string; imapPort: number; smtpPort: number }[],
  heldByOther: boolean,
): string {
  const lines = [
    heldByOther
      ? `No standalone LeapBird host is running on ${dataDir}; another host (Thunderbird's) holds it.`
      : `No LeapBird host is running on ${dataDir}; start one with "leapbird-host serve".`,
  ];
  if (accounts.length === 0) lines.push('No accounts yet.');
  for (const a of accounts)
    lines.push(
      `${a.email}: not running`,
      `  IMAP 127.0.0.1:${a.imapPort}, SMTP 127.0.0.1:${a.smtpPort}`,
    );
  return lines.join('\n') + '\n';
}

export function formatCredentials(c: ClientCredentials, certificateFile: string): string {
  return (
    [
      `account      ${c.email}`,
      `IMAP         host ${c.imap.host}, port ${c.imap.port}, TLS from the start (imaps)`,
      `SMTP         host ${c.smtp.host}, port ${c.smtp.port}, TLS from the start (smtps)`,
      `user         ${c.username}`,
      `password     ${c.password}`,
      `certificate  SHA-256 ${c.certificateFingerprint}`,
      `             file ${certificateFile} (trust this one, for 127.0.0.1 only)`,
    ].join('\n') + '\n'
  );
}
