/**
 * The setup flow the wizard runs (and the demo drives): the host signs up or logs in and
 * prepares the account; then Thunderbird gets an account pointing at the host. Pure over
 * two ports, so it is testable without Thunderbird.
 */
import type {
  AccountSpec,
  LegacySetup,
  SetupCredentials,
  SetupResult,
} from '../../shared/src/rpc.js';

export interface SetupPorts {
  hostSetup(mode: 'signUp' | 'logIn', credentials: SetupCredentials): Promise<SetupResult>;
  ensureAccount(spec: AccountSpec): Promise<{ accountId: string; created: boolean }>;
}

/** A legacy IMAP/SMTP account: the host checks and keeps it; Thunderbird gets the account. */
export async function runLegacySetup(
  ports: Pick<SetupPorts, 'ensureAccount'> & { hostSetup(spec: LegacySetup): Promise<SetupResult> },
  spec: LegacySetup,
): Promise<{ accountId: string; email: string; created: boolean; result: SetupResult }> {
  const result = await ports.hostSetup(spec);
  const { accountId, created } = await ports.ensureAccount(result.account);
  return { accountId, email: result.account.email, created, result };
}

export async function runSetup(
  ports: SetupPorts,
  mode: 'signUp' | 'logIn',
  credentials: SetupCredentials,
): Promise<{ accountId: string; email: string; created: boolean; result: SetupResult }> {
  const result = await ports.hostSetup(mode, credentials);
  const { accountId, created } = await ports.ensureAccount(result.account);
  return { accountId, email: result.account.email, created, result };
}
