/**
 * The background event page: one native port to the host (kept open, which also keeps
 * this page alive), the typed RPC over it, and the toolbar badge.
 */
import { NATIVE_HOST_NAME, RPC_PROTOCOL_VERSION, VERSION } from '../../shared/src/constants.js';
import { RpcError } from '../../shared/src/errors.js';
import { RpcPeer } from '../../shared/src/rpc-peer.js';
import type { AddonEvents, AddonMethods, HostEvents, HostMethods } from '../../shared/src/rpc.js';
import { HostConnection, type PortLike } from '../lib/connection.js';
import { deviceKey } from '../lib/device-key.js';
import { runSetup } from '../lib/setup.js';
import { initialState, type AddonState, type UiBroadcast, type UiRequest } from '../lib/state.js';
import { phaseBadge, phaseTitle } from '../lib/words.js';
import * as tb from './thunderbird.js';

type AddonPeer = RpcPeer<AddonMethods, HostMethods, HostEvents, AddonEvents>;

let state: AddonState = initialState;
let peer: AddonPeer | null = null;

function setState(patch: Partial<AddonState>): void {
  state = { ...state, ...patch };
  const badge = phaseBadge(state.phase);
  void messenger.action.setBadgeText({ text: badge.text });
  void messenger.action.setBadgeBackgroundColor({ color: badge.color });
  void messenger.action.setTitle({ title: state.lastError ?? phaseTitle(state.phase) });
  const message: UiBroadcast = { type: 'state.changed', state };
  messenger.runtime.sendMessage(message).catch(() => {
    // No popup open: nobody to tell.
  });
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
  p.handle('accounts.find', async ({ email }) => ({ accountId: await tb.findAccount(email) }));
  p.handle('accounts.remove', async ({ email }) => ({ removed: await tb.removeAccount(email) }));
  p.handle('compose.send', (request) =>
    tb.composeAndSend(request, (step) => p.emit('log', { level: 'info', message: step })),
  );
  p.handle('app.quit', () => tb.quitThunderbird());
  p.handle('setup.run', async ({ mode, ...credentials }) => {
    const done = await runSetup(
      {
        hostSetup: (m, c) =>
          p.call(m === 'signUp' ? 'setup.signUp' : 'setup.logIn', c, { timeoutMs: 180_000 }),
        ensureAccount: (spec) => tb.ensureAccount(spec),
      },
      mode,
      credentials,
    );
    return { accountId: done.accountId, email: done.email, created: done.created };
  });
  p.handle('mail.list', async ({ email, folder }) => ({
    messages: await tb.listMessages(email, folder),
  }));
  p.on('status', (status) => setState({ status }));
  return p;
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
      setState({ phase, lastError: reason, status: null });
    },
  },
);

messenger.runtime.onMessage.addListener((message: UiRequest) => {
  if (message?.type === 'state.get') return Promise.resolve(state);
  return undefined;
});

connection.start();
