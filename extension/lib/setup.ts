/**
 * The setup flow the wizard runs (and the demo drives): the host signs up or logs in and
 * prepares the account; then Thunderbird gets an account pointing at the host. Pure over
 * two ports, so it is testable without Thunderbird.
 */
import type { AccountSpec, SetupCredentials, SetupResult } from '../../shared/src/rpc.js';

export interface SetupPorts {
  hostSetup(mode: 'signUp' | 'logIn', credentials: SetupCredentials): Promise<SetupResult>;
  ensureAccount(spec: AccountSpec): Promise<{ accountId: string; created: boolean }>;
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
