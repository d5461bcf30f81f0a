/** What the background knows and the popup shows; sent over runtime messaging. */
import type { HostStatus, Progress } from '../../shared/src/rpc.js';
import type { ConnectionPhase } from './connection.js';

export interface AddonState {
  phase: ConnectionPhase;
  hostVersion: string | null;
  status: HostStatus | null;
  /** The latest progress report (sync, key generation), if any. */
  progress: Progress | null;
  /** The last problem, in words for a person. */
  lastError: string | null;
}

export const initialState: AddonState = {
  phase: 'connecting',
  hostVersion: null,
  status: null,
  progress: null,
  lastError: null,
};
