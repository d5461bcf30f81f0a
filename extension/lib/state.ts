/** What the background knows and the popup shows; sent over runtime messaging. */
import type { HostStatus } from '../../shared/src/rpc.js';
import type { ConnectionPhase } from './connection.js';

export interface AddonState {
  phase: ConnectionPhase;
  hostVersion: string | null;
  status: HostStatus | null;
  /** The last problem, in words for a person. */
  lastError: string | null;
}

export const initialState: AddonState = {
  phase: 'connecting',
  hostVersion: null,
  status: null,
  lastError: null,
};

export type UiRequest = { type: 'state.get' };
export type UiBroadcast = { type: 'state.changed'; state: AddonState };
