/**
 * Thin adapters over Thunderbird's APIs for what the host asks the add-on to do. No
 * decisions here beyond mapping Thunderbird's answers and errors to our types.
 */
import { RpcError } from '../../shared/src/errors.js';
import type { AccountSpec, ComposeRequest } from '../../shared/src/rpc.js';

export async function ensureAccount(
  spec: AccountSpec,
): Promise<{ accountId: string; created: boolean }> {
  try {
    return await messenger.leapbirdAccounts.ensure(spec);
  } catch (error) {
    throw new RpcError(
      'thunderbird_error',
      `Thunderbird could not set up the account: ${(error as Error).message}`,
    );
  }
}

export async function findAccount(email: string): Promise<string | null> {
  return messenger.leapbirdAccounts.find(email);
}

export async function removeAccount(email: string): Promise<boolean> {
  return messenger.leapbirdAccounts.remove(email);
}

async function identityFor(email: string): Promise<string> {
  const wanted = email.toLowerCase();
  for (const account of await messenger.accounts.list(false)) {
    for (const identity of account.identities) {
      if (identity.email?.toLowerCase() === wanted && identity.id) return identity.id;
    }
  }
  throw new RpcError('invalid_params', `There is no identity for ${email} in Thunderbird.`);
}

export async function composeAndSend(
  request: ComposeRequest,
  trace: (step: string) => void = () => {},
): Promise<{ sent: true }> {
  const identityId = await identityFor(request.from);
  trace('compose_open');
  const tab = await messenger.compose.beginNew({
    identityId,
    to: request.to,
    subject: request.subject,
    plainTextBody: request.body,
    isPlainText: true,
  });
  if (tab.id === undefined)
    throw new RpcError('thunderbird_error', 'Thunderbird did not open a compose window.');
  trace('compose_send');
  try {
    await messenger.compose.sendMessage(tab.id, { mode: 'sendNow' });
  } catch (error) {
    throw new RpcError(
      'thunderbird_error',
      `Thunderbird could not send the message: ${(error as Error).message}`,
    );
  }
  trace('compose_sent');
  return { sent: true };
}

export async function quitThunderbird(): Promise<{ quitting: true }> {
  // Answer first: once Thunderbird quits, the port (and this page) go away.
  setTimeout(() => void messenger.leapbirdAccounts.quit(), 100);
  return { quitting: true };
}

export async function thunderbirdVersion(): Promise<string> {
  const info = await messenger.runtime.getBrowserInfo();
  return info.version;
}

/** Folders are found by their special use, never by guessing paths. */
export async function listMessages(
  email: string,
  folder: 'inbox' | 'sent' | 'drafts',
): Promise<{ id: number; subject: string; author: string; headerMessageId: string }[]> {
  const accountId = await findAccount(email);
  if (!accountId)
    throw new RpcError('invalid_params', `There is no account for ${email} in Thunderbird.`);
  const folders = (await messenger.folders.query({ accountId, specialUse: [folder] } as never)) as {
    id?: string;
  }[];
  const target = folders[0];
  if (!target?.id) return [];
  const page = (await messenger.messages.list(target.id as never)) as {
    messages: { id: number; subject: string; author: string; headerMessageId: string }[];
  };
  return page.messages.map(({ id, subject, author, headerMessageId }) => ({
    id,
    subject,
    author,
    headerMessageId,
  }));
}
