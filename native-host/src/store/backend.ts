/**
 * The store as the IMAP server's `MailboxBackend`: accounts are opened by the host (it holds
 * their storage secrets) and registered here; the server asks for them by account id.
 */
import { BackendError, type MailboxBackend } from '../imap/index.js';
import type { AccountStore } from './account.js';

export class StoreMailboxBackend implements MailboxBackend {
  private readonly accounts = new Map<string, AccountStore>();

  register(accountId: string, store: AccountStore): void {
    this.accounts.set(accountId, store);
  }

  unregister(accountId: string): void {
    this.accounts.delete(accountId);
  }

  async account(accountId: string): Promise<AccountStore> {
    const store = this.accounts.get(accountId);
    if (!store) {
      throw new BackendError(
        'unavailable',
        'This account is not unlocked yet: log in through the add-on first.',
      );
    }
    return store;
  }
}
