/** What the add-on's pages and scripts ask the background, and what it broadcasts to them. */
import type { RpcErrorValue } from '../../shared/src/errors.js';
import type { HostMethods, LegacySetup } from '../../shared/src/rpc.js';
import type { ComposeHint } from './compose-hint.js';
import type { DisplayView } from './verification.js';
import type { AddonState } from './state.js';

/** The host methods pages may call through the background. */
export const PAGE_HOST_METHODS = [
  'host.status',
  'setup.provider',
  'setup.discover',
  'keys.own',
  'keys.contacts',
  'keys.verify',
] as const;
export type PageHostMethod = (typeof PAGE_HOST_METHODS)[number];

export interface ComposeView {
  hint: ComposeHint;
  encryptedOnly: boolean;
  blocked: string | null;
}

export type UiRequest =
  | { type: 'state.get' }
  | { type: 'host.call'; method: PageHostMethod; params: HostMethods[PageHostMethod]['params'] }
  | {
      type: 'setup.run';
      mode: 'signUp' | 'logIn';
      domain: string;
      username: string;
      password: string;
    }
  | ({ type: 'setup.legacy' } & LegacySetup)
  | { type: 'compose.get'; tabId: number }
  | { type: 'compose.setEncryptedOnly'; tabId: number; on: boolean }
  | { type: 'display.get' }
  | { type: 'open.keys'; fingerprint?: string }
  | { type: 'open.setup' }
  | { type: 'account.logOut'; email: string; removeAccount: boolean };

export type UiReply<T> = { ok: true; value: T } | { ok: false; error: RpcErrorValue };

export type UiBroadcast =
  | { type: 'state.changed'; state: AddonState }
  | { type: 'compose.changed'; tabId: number; view: ComposeView };

export type { DisplayView };
