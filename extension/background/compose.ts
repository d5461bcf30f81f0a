/**
 * Compose hints: per compose window, the recipients are re-read by polling
 * getComposeDetails (Thunderbird has no recipients-changed event), the host is asked only
 * when they change, and the compose action shows the decision from lib/compose-hint.
 * onBeforeSend stops an "encrypted only" message that cannot be encrypted and otherwise
 * adds the header the host's SMTP server enforces.
 */
import type { RecipientKeyInfo } from '../../shared/src/rpc.js';
import {
  ENCRYPTED_ONLY_HEADER,
  composeHint,
  recipientsOf,
  sendBlock,
  usesBuiltInOpenPgp,
  withEncryptedOnlyHeader,
  type ComposeHint,
} from '../lib/compose-hint.js';
import type { ComposeView } from '../lib/messages.js';

/** Reading the compose details is local and cheap; the host is asked only on change. */
const POLL_MS = 1500;

export interface ComposeDeps {
  /** Asks the host for the recipients' key status; rejects when the host is not there. */
  recipientKeys(email: string, recipients: string[]): Promise<RecipientKeyInfo[]>;
  /** The addresses of LeapBird accounts the host runs. */
  leapEmails(): string[];
  changed(tabId: number, view: ComposeView): void;
}

interface Tracked {
  encryptedOnly: boolean;
  hint: ComposeHint;
  blocked: string | null;
  /** What the current hint was computed from; a poll with the same input does nothing. */
  input: string;
  timer: ReturnType<typeof setInterval>;
}

type Details = messenger.compose.ComposeDetails & {
  selectedEncryptionTechnology?: { name?: string; encryptBody?: boolean } | null;
};

export class ComposeTracker {
  private readonly tabs = new Map<number, Tracked>();

  constructor(private readonly deps: ComposeDeps) {}

  track(tabId: number): void {
    if (this.tabs.has(tabId)) return;
    const timer = setInterval(() => void this.refresh(tabId).catch(() => undefined), POLL_MS);
    this.tabs.set(tabId, {
      encryptedOnly: false,
      hint: composeHint({ leapIdentity: false, builtInOpenPgp: false, recipients: [], keys: [] }),
      blocked: null,
      input: '',
      timer,
    });
    void this.refresh(tabId).catch(() => undefined);
  }

  forget(tabId: number): void {
    const t = this.tabs.get(tabId);
    if (t) clearInterval(t.timer);
    this.tabs.delete(tabId);
  }

  view(tabId: number): ComposeView | null {
    const t = this.tabs.get(tabId);
    return t ? { hint: t.hint, encryptedOnly: t.encryptedOnly, blocked: t.blocked } : null;
  }

  setEncryptedOnly(tabId: number, on: boolean): ComposeView {
    this.track(tabId);
    const t = this.tabs.get(tabId)!;
    t.encryptedOnly = on;
    t.blocked = null;
    this.show(tabId, t);
    return this.view(tabId)!;
  }

  /** Re-reads the compose window; returns once the hint reflects what it shows now. */
  async refresh(tabId: number): Promise<ComposeView | null> {
    const t = this.tabs.get(tabId);
    if (!t) return null;
    const details = (await messenger.compose.getComposeDetails(tabId)) as Details;
    const input = await this.inputOf(details);
    if (input.key === t.input && t.hint.state !== 'checking') return this.view(tabId);
    t.input = input.key;
    t.hint = composeHint({ ...input, keys: input.needsHost ? null : [] });
    this.show(tabId, t);
    if (!input.needsHost) return this.view(tabId);
    const hint = await this.ask(input);
    // The recipients changed while the host was asked: that newer poll decides.
    if (t.input !== input.key || this.tabs.get(tabId) !== t) return this.view(tabId);
    if (hint.state === 'checking') t.input = ''; // host unreachable: ask again next poll
    t.hint = hint;
    this.show(tabId, t);
    return this.view(tabId);
  }

  /**
   * compose.onBeforeSend: decides on the final details Thunderbird hands over, not on the
   * last poll, then stops the message or lets it go with our header set.
   */
  async beforeSend(
    tabId: number,
    details: Details,
  ): Promise<
    { cancel: true } | { details: Partial<messenger.compose.ComposeDetails> } | undefined
  > {
    this.track(tabId);
    const t = this.tabs.get(tabId)!;
    const input = await this.inputOf(details);
    const hint = input.needsHost ? await this.ask(input) : composeHint({ ...input, keys: [] });
    t.input = input.key;
    t.hint = hint;
    t.blocked = sendBlock(hint, t.encryptedOnly);
    this.show(tabId, t);
    if (t.blocked) {
      // A popup cannot always open without a user gesture; the badge and title say it too.
      void messenger.composeAction.openPopup().catch(() => {});
      return { cancel: true };
    }
    const hasOurs = (details.customHeaders ?? []).some(
      (h) => h.name.toLowerCase() === ENCRYPTED_ONLY_HEADER.toLowerCase(),
    );
    if (!t.encryptedOnly && !hasOurs) return undefined;
    return {
      details: { customHeaders: withEncryptedOnlyHeader(details.customHeaders, t.encryptedOnly) },
    };
  }

  private async inputOf(details: Details) {
    const email = await identityEmail(details.identityId);
    const leapIdentity = email !== null && this.deps.leapEmails().includes(email);
    const recipients = recipientsOf(details);
    const builtInOpenPgp = usesBuiltInOpenPgp(details);
    return {
      email: email ?? '',
      leapIdentity,
      builtInOpenPgp,
      recipients,
      needsHost: leapIdentity && !builtInOpenPgp && recipients.length > 0,
      key: JSON.stringify([email, leapIdentity, builtInOpenPgp, recipients]),
    };
  }

  /** The hint with the host's answer; "checking" when the host cannot be asked. */
  private async ask(input: Awaited<ReturnType<ComposeTracker['inputOf']>>): Promise<ComposeHint> {
    let keys: RecipientKeyInfo[] | null = null;
    try {
      keys = await this.deps.recipientKeys(input.email, input.recipients);
    } catch {
      keys = null;
    }
    return composeHint({ ...input, keys });
  }

  private show(tabId: number, t: Tracked): void {
    const badge = t.blocked ? '!' : t.hint.badge;
    const title =
      t.blocked ?? (t.encryptedOnly ? `${t.hint.title} (Encrypted only: on)` : t.hint.title);
    void messenger.composeAction.setBadgeText({ tabId, text: badge }).catch(() => {});
    void messenger.composeAction
      .setBadgeBackgroundColor({ tabId, color: t.blocked ? '#b91c1c' : t.hint.color })
      .catch(() => {});
    void messenger.composeAction.setTitle({ tabId, title }).catch(() => {});
    void messenger.composeAction
      .setLabel({ tabId, label: t.blocked ? 'Not sent' : t.hint.label })
      .catch(() => {});
    this.deps.changed(tabId, this.view(tabId)!);
  }
}

async function identityEmail(identityId: string | undefined): Promise<string | null> {
  if (!identityId) return null;
  const identity = await messenger.identities.get(identityId).catch(() => null);
  return identity?.email?.toLowerCase() ?? null;
}
