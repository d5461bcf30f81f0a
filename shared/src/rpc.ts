/**
 * The add-on ↔ native host protocol: one source of truth for both sides.
 *
 * Every message on the native-messaging port is an {@link Envelope}. Requests carry an id
 * and get exactly one response with the same id; events are one-way. Host → add-on
 * messages larger than Thunderbird's 1 MiB limit travel as a series of chunks.
 */
import type { RpcErrorValue } from './errors.js';

export type Envelope = RequestEnvelope | ResponseEnvelope | EventEnvelope | ChunkEnvelope;

export interface RequestEnvelope {
  type: 'request';
  id: string;
  method: string;
  params: unknown;
}

export type ResponseEnvelope =
  | { type: 'response'; id: string; result: unknown }
  | { type: 'response'; id: string; error: RpcErrorValue };

export interface EventEnvelope {
  type: 'event';
  name: string;
  data: unknown;
}

/** One slice (base64 of UTF-8 JSON bytes) of an envelope too large to send at once. */
export interface ChunkEnvelope {
  type: 'chunk';
  id: string;
  index: number;
  count: number;
  data: string;
}

/** A method's parameter and result types. */
export interface MethodSpec<P, R> {
  params: P;
  result: R;
}

export type MethodMap = Record<string, MethodSpec<unknown, unknown>>;
export type EventMap = Record<string, unknown>;

// ---------------------------------------------------------------------------------------
// Shapes used by both sides

export type ConnectionState = 'starting' | 'connected' | 'syncing' | 'offline' | 'needs_login';

export interface HostStatus {
  state: ConnectionState;
  hostVersion: string;
  accounts: { email: string; state: ConnectionState }[];
  lastError: RpcErrorValue | null;
}

export interface Progress {
  /** What is being done, e.g. 'sync', 'keygen'. */
  task: string;
  done: number;
  total: number | null;
  message: string;
}

/** An account in Thunderbird that reads and sends through the host's loopback servers. */
export interface AccountSpec {
  email: string;
  fullName: string;
  username: string;
  password: string;
  imap: { host: string; port: number };
  smtp: { host: string; port: number };
  /** The host's certificate (DER, base64): Thunderbird trusts it for these two ports only. */
  certificate: string;
}

/** What Thunderbird pins for an account whose servers already exist (no password needed). */
export interface AccountPin {
  email: string;
  imapPort: number;
  smtpPort: number;
  certificate: string;
}

export type MailFolderUse = 'inbox' | 'sent' | 'drafts' | 'trash';

export interface ListedMessage {
  id: number;
  subject: string;
  author: string;
  headerMessageId: string;
  read: boolean;
}

export interface ComposeRequest {
  from: string;
  to: string[];
  subject: string;
  body: string;
}

/** What the setup wizard shows about a provider before sign-up or login. */
export interface ProviderSummary {
  domain: string;
  name: string;
  description: string;
  allowRegistration: boolean;
  /** `SHA256: <hex>` of the provider's CA, now pinned. */
  caFingerprint: string;
}

export interface SetupCredentials {
  domain: string;
  username: string;
  password: string;
}

/** A legacy (non-LEAP) IMAP/SMTP account. */
export interface LegacySetup {
  email: string;
  password: string;
  imap: { host: string; port: number; security: 'tls' | 'starttls' };
  smtp: { host: string; port: number; security: 'tls' | 'starttls' };
}

/** The result of a successful setup: what the add-on needs to configure Thunderbird. */
export interface SetupResult {
  account: AccountSpec;
  ownKey: OwnKeySummary;
}

export interface OwnKeySummary {
  address: string;
  fingerprint: string;
  created: string;
  expires: string | null;
  /** When the host will renew it (60 days before expiry). */
  renews: string | null;
  published: boolean;
}

/** LEAP's validation levels, weakest first. */
export type ValidationLevelName =
  | 'Weak_Chain'
  | 'Provider_Trust'
  | 'Provider_Endorsement'
  | 'Third_Party_Endorsement'
  | 'Third_Party_Consensus'
  | 'Historically_Auditing'
  | 'Known_Key'
  | 'Fingerprint';

export interface ContactKeySummary {
  address: string;
  fingerprint: string;
  validation: ValidationLevelName;
  /** How it was found, e.g. 'autocrypt', 'nicknym', 'wkd', 'vks', 'manual'. */
  source: string;
  expires: string | null;
}

export interface RecipientKeyInfo {
  address: string;
  status: 'key' | 'no_key' | 'checking';
  validation: ValidationLevelName | null;
  fingerprint: string | null;
  /** Why there is no key, in words. */
  reason: string | null;
}

// ---------------------------------------------------------------------------------------
// Methods the host implements (the add-on calls them)

export interface HostMethods extends MethodMap {
  'host.hello': MethodSpec<
    {
      addonVersion: string;
      thunderbirdVersion: string;
      protocol: number;
      /** 32 random bytes (base64) the add-on keeps in its profile; the host wraps each account's
       * storage secret and login key with it, so the data directory alone opens nothing. */
      deviceKey?: string;
    },
    { hostVersion: string; protocol: number }
  >;
  'host.ping': MethodSpec<{ nonce: string }, { nonce: string; hostTime: string }>;
  'host.status': MethodSpec<Record<string, never>, HostStatus>;
  /** Bootstrap a provider (download and pin its CA) and describe it. */
  'setup.provider': MethodSpec<{ domain: string }, ProviderSummary>;
  'setup.signUp': MethodSpec<SetupCredentials, SetupResult>;
  'setup.logIn': MethodSpec<SetupCredentials, SetupResult>;
  'setup.legacy': MethodSpec<LegacySetup, SetupResult>;
  /** A legacy provider's servers from its autoconfig file, or null (the user enters them). */
  'setup.discover': MethodSpec<
    { email: string },
    { imap: LegacySetup['imap']; smtp: LegacySetup['smtp']; source: string } | null
  >;
  /** Forget the account on this machine (local data stays encrypted until removed). */
  'account.logOut': MethodSpec<{ email: string; removeData: boolean }, { loggedOut: true }>;
  'keys.own': MethodSpec<{ email: string }, OwnKeySummary>;
  'keys.contacts': MethodSpec<{ email: string }, ContactKeySummary[]>;
  /** The user compared the fingerprint with the contact: raise it to Fingerprint. */
  'keys.verify': MethodSpec<
    { email: string; contact: string; fingerprint: string },
    ContactKeySummary
  >;
  /** Key status of recipients, for compose hints. */
  'keys.recipients': MethodSpec<{ email: string; recipients: string[] }, RecipientKeyInfo[]>;
  /** The account's settings; they follow the user to every device. */
  'settings.get': MethodSpec<{ email: string }, AccountSettingsValue>;
  /** Changes some settings here and, through the sync, on every other device. */
  'settings.set': MethodSpec<
    { email: string; settings: Partial<AccountSettingsValue> },
    AccountSettingsValue
  >;
}

/** Synced account settings as the add-on sees them. */
export interface AccountSettingsValue {
  /** Refuse to send a message that cannot be encrypted to every recipient. */
  encryptedOnly: boolean;
  /** Attach the own public key to outgoing mail. */
  attachOwnKey: boolean;
}

// Methods the add-on implements (the host calls them)

export interface AddonMethods extends MethodMap {
  'addon.ping': MethodSpec<{ nonce: string }, { nonce: string; addonVersion: string }>;
  /** Create the Thunderbird account if it does not exist yet; idempotent. */
  'accounts.ensure': MethodSpec<AccountSpec, { accountId: string; created: boolean }>;
  'accounts.find': MethodSpec<{ email: string }, { accountId: string | null }>;
  /** Makes an existing account use TLS to the host, trusting only the host's certificate. */
  'accounts.pin': MethodSpec<AccountPin, { pinned: boolean }>;
  'accounts.remove': MethodSpec<{ email: string }, { removed: boolean }>;
  /** Compose and send a message from an account's identity (demo and tests drive this). */
  'compose.send': MethodSpec<ComposeRequest, { sent: true }>;
  /** Run the setup as the wizard does (host setup, then the Thunderbird account). */
  'setup.run': MethodSpec<
    SetupCredentials & { mode: 'signUp' | 'logIn' },
    { accountId: string; email: string; created: boolean }
  >;
  /** Messages Thunderbird shows in a folder of an account (for the demo and tests). */
  'mail.list': MethodSpec<{ email: string; folder: MailFolderUse }, { messages: ListedMessage[] }>;
  /** Messages of a folder whose text contains `text`, as Thunderbird's own body search finds them (tests). */
  'mail.search': MethodSpec<
    { email: string; folder: MailFolderUse; text: string },
    { messages: ListedMessage[] }
  >;
  /** Mark messages read as a user would in Thunderbird. */
  'mail.markRead': MethodSpec<{ ids: number[] }, { updated: number }>;
  /** Move messages to another folder of the same account, as a user would. */
  'mail.move': MethodSpec<{ email: string; ids: number[]; to: MailFolderUse }, { moved: number }>;
  /** Ask Thunderbird to quit cleanly. */
  'app.quit': MethodSpec<Record<string, never>, { quitting: true }>;
  /** Open a compose window as a user would (tests and demos), without sending. */
  'ui.composeOpen': MethodSpec<{ from: string; to: string[]; subject: string }, { tabId: number }>;
  /** What the compose action shows for a compose window right now. */
  'ui.composeState': MethodSpec<{ tabId: number }, ComposeReport>;
  /** Flip the per-message "encrypted only" switch, as the compose popup does. */
  'ui.composeSetEncryptedOnly': MethodSpec<{ tabId: number; on: boolean }, ComposeReport>;
  /** Send an open compose window as the Send button does (onBeforeSend may stop it). */
  'ui.composeSend': MethodSpec<{ tabId: number }, { sent: true }>;
  /** Open one of the add-on's pages in a tab (demos and screenshots). */
  'ui.openPage': MethodSpec<{ page: 'setup' | 'keys'; hash?: string }, { opened: true }>;
  /** Open the popup of the action belonging to a tab (or the toolbar's), for screenshots. */
  'ui.openPopup': MethodSpec<{ tabId?: number }, { opened: boolean }>;
  /** "I checked this fingerprint with them", as the key page does it. */
  'ui.verifyContact': MethodSpec<
    { email: string; contact: string; fingerprint: string },
    ContactKeySummary
  >;
  /**
   * Open a message in Thunderbird and report what its badge and banner say: in a tab of its
   * own (default) or in the message pane of the main mail tab, where people usually read.
   */
  'ui.displayMessage': MethodSpec<
    { email: string; headerMessageId: string; where?: 'tab' | 'mailTab' },
    DisplayReport
  >;
}

/** The compose action's state for one compose window, as the add-on shows it. */
export interface ComposeReport {
  tabId: number;
  state: string;
  badge: string;
  title: string;
  encryptedOnly: boolean;
  /** Why the last send was stopped, if it was. */
  blocked: string | null;
}

/** The message display action's state for a displayed message, as the add-on shows it. */
export interface DisplayReport {
  /** The tab the message was opened in. */
  tabId: number;
  state: string;
  /** Read back from Thunderbird (messageDisplayAction.getBadgeText). */
  badgeText: string;
  title: string;
  /** The banner's text as read from the message pane. */
  banner: string;
  /** The message display action's label (Thunderbird's chrome, out of the message's reach). */
  label: string;
  /** How the banner is drawn, read from the message pane; null if there is none. */
  bannerLook: BannerLook | null;
}

/**
 * What a person would see of the banner, measured in the message pane: whether it is drawn
 * at all, in which colours, where, and whether anything of the message is drawn over it.
 */
export interface BannerLook {
  /** Computed style of the banner's element and of its coloured box. */
  display: string;
  visibility: string;
  opacity: string;
  boxDisplay: string;
  boxVisibility: string;
  boxOpacity: string;
  background: string;
  color: string;
  fontSize: string;
  /** What the message's root element does to everything in it (filters, transforms, …). */
  root: { display: string; opacity: string; filter: string; transform: string; zoom: string };
  /** Generated content around the banner and the root (`none` when nothing is added). */
  pseudo: { before: string; after: string; rootBefore: string; rootAfter: string };
  /** The banner's box in the viewport, in CSS pixels. */
  top: number;
  height: number;
  width: number;
  viewportWidth: number;
  /** Points on the banner where hit-testing found something else drawn over it. */
  covered: number;
  /** Whether the banner comes before the message's body in the document. */
  beforeBody: boolean;
}

// Events

export interface HostEvents extends EventMap {
  status: HostStatus;
  progress: Progress;
}

export interface AddonEvents extends EventMap {
  /** Something the add-on saw that belongs in the host's log (no message content). */
  log: { level: 'info' | 'warn' | 'error'; message: string; data?: Record<string, unknown> };
}
