/**
 * Verification badges: for a displayed message in a LeapBird account, read the host's
 * X-Leap-* headers (getHeaders where Thunderbird has it, else getFull), decide with
 * lib/verification, and set the message display action. The banner script asks for the
 * same view. Headers in other accounts came from outside and are never read.
 */
import type { ContactKeySummary } from '../../shared/src/rpc.js';
import { displayView, isVerified, readLeapHeaders, type DisplayView } from '../lib/verification.js';

export interface DisplayDeps {
  leapEmails(): string[];
  contacts(email: string): Promise<ContactKeySummary[]>;
}

type Header = messenger.messages.MessageHeader;

export class DisplayBadges {
  private readonly views = new Map<number, Promise<DisplayView | null>>();

  constructor(private readonly deps: DisplayDeps) {}

  /** messageDisplay.onMessagesDisplayed: an array in MV2, a MessageList in MV3. */
  displayed(tabId: number, displayed: Header[] | { messages: Header[] }): void {
    const list = Array.isArray(displayed) ? displayed : displayed.messages;
    const view = list.length === 1 ? this.viewFor(list[0]!) : Promise.resolve(null);
    this.views.set(tabId, view);
    void view.then((v) => this.show(tabId, v)).catch(() => this.show(tabId, null));
  }

  forget(tabId: number): void {
    this.views.delete(tabId);
  }

  /** The view for a tab; waits for one being computed. */
  async view(tabId: number): Promise<DisplayView | null> {
    return (await this.views.get(tabId)?.catch(() => null)) ?? null;
  }

  /**
   * The view for the message a tab shows right now, for the banner. Computed afresh: a
   * message pane's script may run before onMessagesDisplayed for its message, and the last
   * view of the tab would then belong to the previous message.
   */
  async current(tabId: number): Promise<DisplayView | null> {
    const displayed = (await messenger.messageDisplay.getDisplayedMessages(tabId)) as
      Header[] | { messages: Header[] };
    const list = Array.isArray(displayed) ? displayed : displayed.messages;
    return list.length === 1 ? this.viewFor(list[0]!) : null;
  }

  private async viewFor(message: Header): Promise<DisplayView | null> {
    const email = await leapAccountEmail(message, this.deps.leapEmails());
    if (!email) return null;
    const headers = await readHeaders(message.id);
    const leap = readLeapHeaders(headers);
    const sender = message.author ?? null;
    const verified =
      leap.signature === 'valid' &&
      isVerified(leap, sender, await this.deps.contacts(email).catch(() => []));
    return displayView(leap, { verified, sender });
  }

  private show(tabId: number, view: DisplayView | null): void {
    const action = messenger.messageDisplayAction;
    const quiet = () => {};
    if (!view || view.state === 'unknown') {
      void action.setBadgeText({ tabId, text: '' }).catch(quiet);
      void action.setTitle({ tabId, title: 'LeapBird' }).catch(quiet);
      void action.setLabel({ tabId, label: 'LeapBird' }).catch(quiet);
      return;
    }
    void action.setLabel({ tabId, label: view.label }).catch(quiet);
    void action.setBadgeText({ tabId, text: view.badge }).catch(quiet);
    void action.setBadgeBackgroundColor({ tabId, color: view.color }).catch(quiet);
    void action.setTitle({ tabId, title: view.title }).catch(quiet);
  }
}

async function readHeaders(messageId: number): Promise<Record<string, string[]>> {
  const api = messenger.messages as unknown as {
    getHeaders?: (id: number) => Promise<Record<string, string[]>>;
  };
  if (typeof api.getHeaders === 'function') return api.getHeaders(messageId);
  const full = await messenger.messages.getFull(messageId);
  return (full.headers ?? {}) as Record<string, string[]>;
}

async function leapAccountEmail(message: Header, leapEmails: string[]): Promise<string | null> {
  const accountId = (message.folder as { accountId?: string } | undefined)?.accountId;
  if (!accountId) return null;
  const account = await messenger.accounts.get(accountId, false).catch(() => null);
  for (const identity of account?.identities ?? []) {
    const email = identity.email?.toLowerCase();
    if (email && leapEmails.includes(email)) return email;
  }
  return null;
}
