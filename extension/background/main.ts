/**
 * The background event page: one native port to the host (kept open, which also keeps
 * this page alive), the typed RPC over it, the toolbar badge, compose hints, verification
 * badges, and the bridge the add-on's pages use to reach the host.
 */
import { NATIVE_HOST_NAME, RPC_PROTOCOL_VERSION, VERSION } from '../../shared/src/constants.js';
import { RpcError } from '../../shared/src/errors.js';
import { RpcPeer } from '../../shared/src/rpc-peer.js';
import type {
  AddonEvents,
  AddonMethods,
  ComposeReport,
  HostEvents,
  HostMethods,
  LegacySetup,
} from '../../shared/src/rpc.js';
import { HostConnection, type PortLike } from '../lib/connection.js';
import { deviceKey } from '../lib/device-key.js';
import {
  PAGE_HOST_METHODS,
  type ComposeView,
  type UiBroadcast,
  type UiReply,
  type UiRequest,
} from '../lib/messages.js';
import { runLegacySetup, runSetup } from '../lib/setup.js';
import { failureSentence } from '../lib/setup-flow.js';
import { initialState, type AddonState } from '../lib/state.js';
import { toolbarBadge } from '../lib/status.js';
import { ComposeTracker } from './compose.js';
import { DisplayBadges } from './display.js';
import * as tb from './thunderbird.js';

type AddonPeer = RpcPeer<AddonMethods, HostMethods, HostEvents, AddonEvents>;

const SETUP_PAGE = 'ui/setup/index.html';
const KEYS_PAGE = 'ui/keys/index.html';

let state: AddonState = initialState;
let peer: AddonPeer | null = null;
let setupOffered = false;

function broadcast(message: UiBroadcast): void {
  messenger.runtime.sendMessage(message).catch(() => {
    // No page open: nobody to tell.
  });
}

function setState(patch: Partial<AddonState>): void {
  state = { ...state, ...patch };
  const badge = toolbarBadge(state);
  void messenger.action.setBadgeText({ text: badge.text });
  void messenger.action.setBadgeBackgroundColor({ color: badge.color });
  void messenger.action.setTitle({ title: badge.title });
  // The label stays short; the state is in the badge and the tooltip.
  void messenger.action.setLabel({ label: 'LeapBird' });
  broadcast({ type: 'state.changed', state });
}

function leapEmails(): string[] {
  return (state.status?.accounts ?? []).map((a) => a.email.toLowerCase());
}

/** The host, or a sentence saying why it cannot be asked. */
function host(): AddonPeer {
  if (peer && state.phase === 'connected') return peer;
  throw new RpcError(
    state.phase === 'host_missing' ? 'host_missing' : 'host_unavailable',
    state.lastError ?? 'The LeapBird program is not running.',
  );
}

const compose = new ComposeTracker({
  recipientKeys: (email, recipients) => host().call('keys.recipients', { email, recipients }),
  leapEmails,
  changed: (tabId, view) => broadcast({ type: 'compose.changed', tabId, view }),
});

const display = new DisplayBadges({
  leapEmails,
  contacts: (email) => host().call('keys.contacts', { email }),
});

function composeReport(tabId: number, view: ComposeView | null): ComposeReport {
  if (!view) throw new RpcError('not_found', `There is no compose window ${tabId}.`);
  return {
    tabId,
    state: view.hint.state,
    badge: view.hint.badge,
    title: view.hint.title,
    encryptedOnly: view.encryptedOnly,
    blocked: view.blocked,
  };
}

/** Setup as the wizard runs it: host setup, the Thunderbird account, then its Inbox shown. */
async function setup(
  p: AddonPeer,
  mode: 'signUp' | 'logIn',
  credentials: { domain: string; username: string; password: string },
) {
  return showSetUp(
    p,
    await runSetup(
      {
        hostSetup: (m, c) =>
          p.call(m === 'signUp' ? 'setup.signUp' : 'setup.logIn', c, { timeoutMs: 180_000 }),
        ensureAccount: (spec) => tb.ensureAccount(spec),
      },
      mode,
      credentials,
    ),
  );
}

/** The same for an account at any IMAP/SMTP provider. */
async function setupLegacy(p: AddonPeer, spec: LegacySetup) {
  return showSetUp(
    p,
    await runLegacySetup(
      {
        hostSetup: (s) => p.call('setup.legacy', s, { timeoutMs: 180_000 }),
        ensureAccount: (account) => tb.ensureAccount(account),
      },
      spec,
    ),
  );
}

async function showSetUp(
  p: AddonPeer,
  done: { accountId: string; email: string; created: boolean },
) {
  const inbox = await tb
    .showInbox(done.accountId)
    .catch((error: unknown) => `failed: ${(error as Error).message}`);
  p.emit('log', { level: 'info', message: 'setup_done', data: { inbox } });
  return { accountId: done.accountId, email: done.email, created: done.created };
}

function makePeer(port: PortLike): AddonPeer {
  const p: AddonPeer = new RpcPeer({
    idPrefix: 'a',
    send: (envelope) => port.postMessage(envelope),
    timeoutMs: 30_000,
    onProtocolError: (error) =>
      console.warn('LeapBird: protocol error from host', error.code, error.message),
  });
  p.handle('addon.ping', ({ nonce }) => ({ nonce, addonVersion: VERSION }));
  p.handle('accounts.ensure', (spec) => tb.ensureAccount(spec));
  p.handle('accounts.pin', async (pin) => ({ pinned: await tb.pinAccount(pin) }));
  p.handle('accounts.find', async ({ email }) => ({ accountId: await tb.findAccount(email) }));
  p.handle('accounts.remove', async ({ email }) => ({ removed: await tb.removeAccount(email) }));
  p.handle('compose.send', (request) =>
    tb.composeAndSend(request, (step) => p.emit('log', { level: 'info', message: step })),
  );
  p.handle('app.quit', () => tb.quitThunderbird());
  p.handle('setup.run', ({ mode, ...credentials }) => setup(p, mode, credentials));
  p.handle('mail.list', async ({ email, folder }) => ({
    messages: await tb.listMessages(email, folder),
  }));
  p.handle('mail.search', async ({ email, folder, text }) => ({
    messages: await tb.searchMessages(email, folder, text),
  }));
  p.handle('mail.markRead', async ({ ids }) => ({ updated: await tb.markRead(ids) }));
  p.handle('mail.move', async ({ email, ids, to }) => ({
    moved: await tb.moveMessages(email, ids, to),
  }));
  p.handle('ui.composeOpen', async (request) => {
    const opened = await tb.openCompose(request);
    compose.track(opened.tabId);
    return opened;
  });
  p.handle('ui.composeState', async ({ tabId }) =>
    composeReport(tabId, (await compose.refresh(tabId)) ?? compose.view(tabId)),
  );
  p.handle('ui.composeSetEncryptedOnly', ({ tabId, on }) =>
    composeReport(tabId, compose.setEncryptedOnly(tabId, on)),
  );
  p.handle('ui.composeSend', ({ tabId }) => tb.sendCompose(tabId));
  p.handle('ui.openPage', async ({ page, hash }) => {
    await openPage(page === 'keys' ? KEYS_PAGE : SETUP_PAGE, hash ? `#${hash}` : '');
    return { opened: true as const };
  });
  p.handle('ui.verifyContact', (request) => host().call('keys.verify', request));
  p.handle('ui.openPopup', ({ tabId }) => tb.openPopupFor(tabId));
  p.handle('ui.displayMessage', async ({ headerMessageId, where }) => {
    const tabId = await tb.openMessage(headerMessageId, where);
    const view = await waitForView(tabId);
    const banner = view?.banner ? await tb.bannerReport(tabId) : { text: '', look: null };
    return {
      tabId,
      state: view?.state ?? 'unknown',
      badgeText: await messenger.messageDisplayAction.getBadgeText({ tabId }),
      title: await messenger.messageDisplayAction.getTitle({ tabId }),
      label: (await messenger.messageDisplayAction.getLabel({ tabId })) ?? '',
      banner: banner.text,
      bannerLook: banner.look,
    };
  });
  p.on('status', (status) => {
    // A finished sync's figure goes; search being prepared goes on after the sync.
    const stale = status.state !== 'syncing' && state.progress?.task !== 'index';
    setState({ status, ...(stale ? { progress: null } : {}) });
    if (status.accounts.length === 0 && !setupOffered) {
      setupOffered = true;
      void openPage(SETUP_PAGE);
    }
  });
  p.on('progress', (progress) => setState({ progress }));
  return p;
}

/** A message display tab gets its view right after onMessagesDisplayed; wait for it, bounded. */
async function waitForView(tabId: number) {
  for (let i = 0; i < 100; i++) {
    const view = await display.view(tabId);
    if (view) return view;
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

async function openPage(path: string, hash = ''): Promise<void> {
  const url = messenger.runtime.getURL(path);
  const open = (await messenger.tabs.query({})).find((t) => t.url?.startsWith(url));
  if (open?.id !== undefined) {
    await messenger.tabs.update(open.id, { active: true, url: `${url}${hash}` });
    return;
  }
  await messenger.tabs.create({ url: `${url}${hash}` });
}

async function greet(p: AddonPeer): Promise<void> {
  try {
    const hello = await p.call('host.hello', {
      addonVersion: VERSION,
      thunderbirdVersion: await tb.thunderbirdVersion(),
      protocol: RPC_PROTOCOL_VERSION,
      deviceKey: await deviceKey(messenger.storage.local as never, (b) =>
        crypto.getRandomValues(b),
      ),
    });
    connection.markHealthy();
    setState({ phase: 'connected', hostVersion: hello.hostVersion, lastError: null });
    const nonce = crypto.randomUUID();
    const pong = await p.call('host.ping', { nonce });
    if (pong.nonce !== nonce)
      throw new RpcError('bad_message', 'The host answered a different ping.');
    p.emit('log', { level: 'info', message: 'ping_ok', data: { hostTime: pong.hostTime } });
  } catch (error) {
    setState({ lastError: RpcError.from(error).message });
  }
}

const connection = new HostConnection(
  () => messenger.runtime.connectNative(NATIVE_HOST_NAME) as unknown as PortLike,
  {
    onOpen(port) {
      peer = makePeer(port);
      setState({ phase: 'connecting' });
      void greet(peer);
    },
    onMessage(message) {
      peer?.receive(message);
    },
    onClose(phase, reason) {
      peer?.close();
      peer = null;
      setState({ phase, lastError: reason, status: null, progress: null });
      if (phase === 'host_missing' && !setupOffered) {
        // The setup page says what to install.
        setupOffered = true;
        void openPage(SETUP_PAGE);
      }
    },
  },
);

async function answer(
  request: UiRequest,
  sender: { tab?: { id?: number }; frameId?: number },
): Promise<unknown> {
  switch (request.type) {
    case 'state.get':
      return state;
    case 'host.call':
      if (!(PAGE_HOST_METHODS as readonly string[]).includes(request.method))
        throw new RpcError('invalid_params', `Pages may not call ${request.method}.`);
      return host().call(request.method, request.params as never, { timeoutMs: 60_000 });
    case 'setup.run': {
      const { mode, ...credentials } = request;
      return setup(host(), mode, credentials);
    }
    case 'setup.legacy': {
      const { type: _type, ...spec } = request;
      return setupLegacy(host(), spec);
    }
    case 'compose.get':
      return (
        compose.view(request.tabId) ?? (compose.track(request.tabId), compose.view(request.tabId))
      );
    case 'compose.setEncryptedOnly':
      return compose.setEncryptedOnly(request.tabId, request.on);
    case 'display.get': {
      const tabId = sender.tab?.id;
      if (tabId === undefined) return null;
      const view = await display.current(tabId);
      // Before the banner exists, so the message's CSS never gets a moment to act on it.
      if (view?.banner) await tb.guardBanner(tabId, sender.frameId ?? 0);
      return view;
    }
    case 'open.keys':
      return openPage(KEYS_PAGE, request.fingerprint ? `#${request.fingerprint}` : '');
    case 'open.setup':
      return openPage(SETUP_PAGE);
    case 'account.logOut': {
      // The host forgets the login; its local data stays encrypted under the device key.
      await host().call('account.logOut', { email: request.email, removeData: false });
      const removed = request.removeAccount ? await tb.removeAccount(request.email) : false;
      return { loggedOut: true, removed };
    }
  }
}

// Pages get {ok, value} or {ok: false, error}: errors lose their code across runtime messaging.
messenger.runtime.onMessage.addListener((message: UiRequest, sender) => {
  if (!message || typeof message !== 'object' || !('type' in message)) return undefined;
  return answer(message, sender as { tab?: { id?: number }; frameId?: number }).then(
    (value): UiReply<unknown> => ({ ok: true, value }),
    (error: unknown): UiReply<unknown> => ({
      ok: false,
      error: { code: RpcError.from(error).code, message: failureSentence(error) },
    }),
  );
});

// Top-level listeners: MV3 event pages must register them at once.
messenger.compose.onBeforeSend.addListener(((
  tab: messenger.tabs.Tab,
  details: messenger.compose.ComposeDetails,
) => (tab.id === undefined ? undefined : compose.beforeSend(tab.id, details))) as never);
messenger.tabs.onCreated.addListener((tab) => {
  if (tab.type === 'messageCompose' && tab.id !== undefined) compose.track(tab.id);
});
messenger.tabs.onRemoved.addListener((tabId) => {
  compose.forget(tabId);
  display.forget(tabId);
});
messenger.messageDisplay.onMessagesDisplayed.addListener((tab, messages) => {
  if (tab.id !== undefined) display.displayed(tab.id, messages);
});
void registerBanner();

async function registerBanner(): Promise<void> {
  const scripting = (
    messenger as unknown as {
      scripting?: {
        messageDisplay?: {
          registerScripts(s: { id: string; js: string[] }[]): Promise<void>;
          getRegisteredScripts(): Promise<{ id: string }[]>;
        };
      };
    }
  ).scripting?.messageDisplay;
  if (!scripting) return;
  const registered = await scripting.getRegisteredScripts().catch(() => []);
  if (registered.some((s) => s.id === 'leapbird-banner')) return;
  await scripting
    .registerScripts([{ id: 'leapbird-banner', js: ['banner.js'] }])
    .catch((error: unknown) => console.warn('LeapBird: banner script not registered', error));
}

connection.start();
// Compose windows open before this page (re)started get their hints too.
void messenger.tabs.query({ type: 'messageCompose' } as never).then((tabs) => {
  for (const tab of tabs) if (tab.id !== undefined) compose.track(tab.id);
});
