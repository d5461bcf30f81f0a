/** What the background knows and the popup shows; sent over runtime messaging. */
import type { HostStatus, Progress } from '../../shared/src/rpc.js';
import type { ConnectionPhase } from './connection.js';
import type { PlatformInfo } from './install-guide.js';

export interface AddonState {
  phase: ConnectionPhase;
  hostVersion: string | null;
  status: HostStatus | null;
  /** The latest progress report (sync, key generation), if any. */
  progress: Progress | null;
  /** The last problem, in words for a person. */
  lastError: string | null;
  /** The protocol a program of another version speaks, when it said (phase host_outdated). */
  hostProtocol: number | null;
  /** This computer's system, for what to download (null until Thunderbird said). */
  platform: PlatformInfo | null;
}

export const initialState: AddonState = {
  phase: 'connecting',
  hostVersion: null,
  status: null,
  progress: null,
  lastError: null,
  hostProtocol: null,
  platform: null,
};
