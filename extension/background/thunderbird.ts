/**
 * Thin adapters over Thunderbird's APIs for what the host asks the add-on to do. No
 * decisions here beyond mapping Thunderbird's answers and errors to our types.
 */
import { RpcError } from '../../shared/src/errors.js';
import { BANNER_GUARD_CSS } from '../lib/banner-guard.js';
import type {
  AccountPin,
  AccountSpec,
  BannerLook,
  ComposeRequest,
  ListedMessage,
  MailFolderUse,
} from '../../shared/src/rpc.js';

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

export async function pinAccount(pin: AccountPin): Promise<boolean> {
  try {
    return await messenger.leapbirdAccounts.pin(pin);
  } catch (error) {
    throw new RpcError(
      'thunderbird_error',
      `Thunderbird could not secure the connection to LeapBird: ${(error as Error).message}`,
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
async function folderOf(email: string, use: MailFolderUse): Promise<string | null> {
  const accountId = await findAccount(email);
  if (!accountId)
    throw new RpcError('invalid_params', `There is no account for ${email} in Thunderbird.`);
  const folders = (await messenger.folders.query({ accountId, specialUse: [use] } as never)) as {
    id?: string;
  }[];
  return folders[0]?.id ?? null;
}

/** Folders are found by their special use, never by guessing paths. Follows every page. */
export async function listMessages(email: string, use: MailFolderUse): Promise<ListedMessage[]> {
  const folderId = await folderOf(email, use);
  if (!folderId) return [];
  return allPages((await messenger.messages.list(folderId as never)) as unknown as Page);
}

/** A folder's messages whose body contains `text`: Thunderbird reads each message to decide. */
export async function searchMessages(
  email: string,
  use: MailFolderUse,
  text: string,
): Promise<ListedMessage[]> {
  const folderId = await folderOf(email, use);
  if (!folderId) return [];
  const first = await messenger.messages.query({ folderId, body: text } as never);
  return allPages(first as unknown as Page);
}

type Page = { id?: string | null; messages: (ListedMessage & Record<string, unknown>)[] };

async function allPages(first: Page): Promise<ListedMessage[]> {
  const out: ListedMessage[] = [];
  let page = first;
  for (;;) {
    for (const { id, subject, author, headerMessageId, read } of page.messages) {
      out.push({ id, subject, author, headerMessageId, read: read === true });
    }
    if (!page.id) return out;
    page = (await messenger.messages.continueList(page.id)) as unknown as Page;
  }
}

export async function markRead(ids: number[]): Promise<number> {
  for (const id of ids) await messenger.messages.update(id, { read: true });
  return ids.length;
}

export async function moveMessages(
  email: string,
  ids: number[],
  use: MailFolderUse,
): Promise<number> {
  const folderId = await folderOf(email, use);
  if (!folderId)
    throw new RpcError('invalid_params', `${email} has no ${use} folder in Thunderbird.`);
  await messenger.messages.move(ids, folderId as never);
  return ids.length;
}

/**
 * Shows an account's Inbox in the main mail tab, as the last step of setup. A new account's
 * folders appear a moment after it is created, so this looks a few times (bounded).
 */
export async function showInbox(accountId: string): Promise<'shown' | 'no_inbox' | 'no_mail_tab'> {
  let inbox: string | undefined;
  for (let attempt = 0; attempt < 20 && !inbox; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 500));
    const account = await messenger.accounts.get(accountId, true);
    inbox = findInbox((account?.rootFolder?.subFolders ?? account?.folders ?? []) as never);
  }
  if (!inbox) return 'no_inbox';
  const [mailTab] = await messenger.tabs.query({ type: 'mail' } as never);
  if (mailTab?.id === undefined) return 'no_mail_tab';
  await messenger.mailTabs.update(mailTab.id, { displayedFolderId: inbox } as never);
  await messenger.tabs.update(mailTab.id, { active: true });
  return 'shown';
}

type FolderTree = { id?: string; type?: string; specialUse?: string[]; subFolders?: FolderTree[] };

function findInbox(folders: FolderTree[]): string | undefined {
  for (const f of folders) {
    if (f.specialUse?.includes('inbox') || f.type === 'inbox') return f.id;
    const inner = findInbox(f.subFolders ?? []);
    if (inner) return inner;
  }
  return undefined;
}

/** Opens a compose window from an account's identity, without sending. */
export async function openCompose(request: {
  from: string;
  to: string[];
  subject: string;
}): Promise<{ tabId: number }> {
  const identityId = await identityFor(request.from);
  const tab = await messenger.compose.beginNew({
    identityId,
    to: request.to,
    subject: request.subject,
    plainTextBody: '',
    isPlainText: true,
  });
  if (tab.id === undefined)
    throw new RpcError('thunderbird_error', 'Thunderbird did not open a compose window.');
  return { tabId: tab.id };
}

/** Sends an open compose window as the Send button does; onBeforeSend may stop it. */
export async function sendCompose(tabId: number): Promise<{ sent: true }> {
  try {
    await messenger.compose.sendMessage(tabId, { mode: 'sendNow' });
  } catch (error) {
    throw new RpcError('send_stopped', `The message was not sent: ${(error as Error).message}`);
  }
  return { sent: true };
}

/**
 * Opens a message (by its Message-ID) in a tab of its own, or selects it in the main mail
 * tab's message pane, and returns the id of the tab that shows it.
 */
export async function openMessage(
  headerMessageId: string,
  where: 'tab' | 'mailTab' = 'tab',
): Promise<number> {
  const page = (await messenger.messages.query({ headerMessageId } as never)) as {
    messages: { id: number }[];
  };
  const message = page.messages[0];
  if (!message)
    throw new RpcError('not_found', `Thunderbird has no message with ID ${headerMessageId}.`);
  if (where === 'mailTab') {
    const [mailTab] = await messenger.tabs.query({ type: 'mail' } as never);
    if (mailTab?.id === undefined)
      throw new RpcError('thunderbird_error', 'Thunderbird has no mail tab to show it in.');
    await messenger.tabs.update(mailTab.id, { active: true });
    // Shows the message's folder first when another one is displayed.
    await messenger.mailTabs.setSelectedMessages(mailTab.id, [message.id]);
    return mailTab.id;
  }
  const tab = (await messenger.messageDisplay.open({
    messageId: message.id,
    location: 'tab',
  } as never)) as { id?: number };
  if (tab.id === undefined)
    throw new RpcError('thunderbird_error', 'Thunderbird did not open the message.');
  return tab.id;
}

/** Opens the popup of the action that belongs to a tab (compose, message, or the toolbar's). */
export async function openPopupFor(tabId: number | undefined): Promise<{ opened: boolean }> {
  const tab = tabId === undefined ? null : await messenger.tabs.get(tabId);
  const options = tab?.windowId === undefined ? {} : { windowId: tab.windowId };
  if (tab?.type === 'messageCompose')
    return { opened: await messenger.composeAction.openPopup(options) };
  if (tab?.type === 'messageDisplay')
    return { opened: await messenger.messageDisplayAction.openPopup(options) };
  return { opened: await messenger.action.openPopup(options) };
}

/**
 * Puts lib/banner-guard's stylesheet into a message pane with the user origin, which only an
 * extension can do and no message's CSS outranks. Without it the banner still has its shadow
 * root's own guard, so a failure is logged, not fatal.
 */
export async function guardBanner(tabId: number, frameId: number): Promise<void> {
  const { scripting } = messenger as unknown as {
    scripting: {
      insertCSS(options: {
        target: { tabId: number; frameIds: number[] };
        css: string;
        origin: 'USER';
      }): Promise<void>;
    };
  };
  await scripting
    .insertCSS({ target: { tabId, frameIds: [frameId] }, css: BANNER_GUARD_CSS, origin: 'USER' })
    .catch((error: unknown) => console.warn('LeapBird: banner guard not inserted', error));
}

/**
 * The banner as the message pane shows it: its words and how it is drawn (empty words and
 * no look if it never appeared). Reads through a closed shadow root, as only an extension can.
 */
export async function bannerReport(
  tabId: number,
): Promise<{ text: string; look: BannerLook | null }> {
  const { scripting } = messenger as unknown as {
    scripting: {
      executeScript(options: {
        target: { tabId: number };
        func: () => { text: string; look: BannerLook } | null;
      }): Promise<{ result?: { text: string; look: BannerLook } | null }[]>;
    };
  };
  for (let attempt = 0; attempt < 25; attempt++) {
    const [frame] = await scripting
      .executeScript({ target: { tabId }, func: measureBanner })
      .catch(() => [] as { result?: { text: string; look: BannerLook } | null }[]);
    if (frame?.result?.text) return frame.result;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { text: '', look: null };
}

/** Runs in the message pane (serialised by executeScript): it may use nothing from outside. */
function measureBanner(): { text: string; look: BannerLook } | null {
  // The first in document order is the add-on's; a message may carry look-alikes further on.
  const host = document.querySelector('[data-leapbird]');
  if (!(host instanceof HTMLElement)) return null;
  const inside =
    (host as HTMLElement & { openOrClosedShadowRoot?: ShadowRoot | null }).openOrClosedShadowRoot ??
    null;
  // The coloured box is the element that speaks (role alert or status).
  const box = (inside?.querySelector('[role]') ?? host) as HTMLElement;
  const root = document.documentElement;
  const style = getComputedStyle(host);
  const boxStyle = getComputedStyle(box);
  const rootStyle = getComputedStyle(root);
  const content = (el: Element, pseudo: string) => getComputedStyle(el, pseudo).content;
  const rect = host.getBoundingClientRect();
  let covered = 0;
  for (const [fx, fy] of [
    [0.5, 0.5],
    [0.05, 0.2],
    [0.95, 0.2],
    [0.05, 0.8],
    [0.95, 0.8],
  ] as const) {
    const hit = document.elementFromPoint(rect.left + rect.width * fx, rect.top + rect.height * fy);
    if (hit !== host) covered++;
  }
  return {
    text: box.textContent ?? '',
    look: {
      display: style.display,
      visibility: style.visibility,
      opacity: style.opacity,
      boxDisplay: boxStyle.display,
      boxVisibility: boxStyle.visibility,
      boxOpacity: boxStyle.opacity,
      background: boxStyle.backgroundColor,
      color: boxStyle.color,
      fontSize: boxStyle.fontSize,
      root: {
        display: rootStyle.display,
        opacity: rootStyle.opacity,
        filter: rootStyle.filter,
        transform: rootStyle.transform,
        zoom: rootStyle.getPropertyValue('zoom'),
      },
      pseudo: {
        before: content(host, '::before'),
        after: content(host, '::after'),
        rootBefore: content(root, '::before'),
        rootAfter: content(root, '::after'),
      },
      top: rect.top,
      height: rect.height,
      width: rect.width,
      viewportWidth: root.clientWidth,
      covered,
      beforeBody:
        document.body !== null &&
        (host.compareDocumentPosition(document.body) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0 &&
        !document.body.contains(host),
    },
  };
}
