/**
 * The toolbar button's badge, colour and title from what the background knows: whether the
 * host runs at all, then the host's own state (connected, syncing with progress, offline,
 * needs login), and whether there is an account yet.
 */
import type { Progress } from '../../shared/src/rpc.js';
import type { AddonState } from './state.js';
import { COLORS, phaseTitle } from './words.js';

export interface Badge {
  text: string;
  color: string;
  title: string;
}

/** "42%" of a sync with a known total, else nothing (search being prepared is not the sync). */
export function progressText(progress: Progress | null): string | null {
  if (!progress || progress.task !== 'sync' || !progress.total || progress.total <= 0) return null;
  const percent = Math.min(100, Math.floor((progress.done / progress.total) * 100));
  return `${percent}%`;
}

/** The popup's sentence about work under way: the sync, or search being prepared. */
export function progressSentence(state: AddonState): string | null {
  const progress = state.progress;
  if (!progress) return null;
  if (progress.task === 'index')
    return progress.total !== null && progress.done < progress.total ? progress.message : null;
  return state.status?.state === 'syncing' ? progress.message : null;
}

export function toolbarBadge(state: AddonState): Badge {
  if (state.phase !== 'connected') {
    const title = state.lastError ?? phaseTitle(state.phase);
    return state.phase === 'connecting'
      ? { text: '…', color: COLORS.muted, title }
      : { text: '!', color: COLORS.bad, title };
  }
  const status = state.status;
  if (!status || status.accounts.length === 0)
    return { text: 'new', color: COLORS.info, title: 'LeapBird is running: set up an account' };
  const error = status.lastError?.message;
  switch (status.state) {
    case 'syncing': {
      const percent = progressText(state.progress);
      return {
        text: percent ?? '↻',
        color: COLORS.info,
        title: percent ? `Syncing your mail (${percent})` : 'Syncing your mail…',
      };
    }
    case 'offline':
      return {
        text: 'off',
        color: COLORS.muted,
        title: error ? `Offline: ${error}` : 'Offline: working on the copy on this computer',
      };
    case 'needs_login':
      return {
        text: '!',
        color: COLORS.warn,
        title: error ?? 'LeapBird needs your password again',
      };
    case 'starting':
      return { text: '…', color: COLORS.muted, title: 'Starting your account…' };
    case 'connected':
      return { text: '', color: COLORS.ok, title: 'LeapBird: your mail is protected and in sync' };
  }
}

/** The host's per-account state in words, for the popup. */
export function accountStateWords(state: string): string {
  switch (state) {
    case 'connected':
      return 'in sync';
    case 'syncing':
      return 'syncing…';
    case 'offline':
      return 'offline (working on the local copy)';
    case 'needs_login':
      return 'needs your password';
    case 'starting':
      return 'starting…';
    default:
      return state;
  }
}
