// The add-on's own Experiment (extension/experiments/accounts/) and Thunderbird APIs newer
// than @types/thunderbird-webext-browser (127).
import type { AccountPin, AccountSpec } from '../../shared/src/rpc.js';

declare global {
  namespace messenger {
    namespace leapbirdAccounts {
      function ensure(spec: AccountSpec): Promise<{ accountId: string; created: boolean }>;
      function find(email: string): Promise<string | null>;
      function pin(pin: AccountPin): Promise<boolean>;
      function remove(email: string): Promise<boolean>;
      function quit(): Promise<void>;
    }
  }
}
