/** Sentences and colours the add-on shows people. One place, so they stay consistent. */
import type { ConnectionPhase } from './connection.js';

/** The developer's path only: people install the package (see install-guide.ts). */
export const HOST_INSTALL_COMMAND = 'npm run install-host';

/** Badge colours: green for protected, amber for "works, but look", red for danger. */
export const COLORS = {
  ok: '#2f6f4f',
  warn: '#a15c07',
  bad: '#b91c1c',
  info: '#1d4ed8',
  muted: '#6b7280',
} as const;

export function phaseTitle(phase: ConnectionPhase): string {
  switch (phase) {
    case 'connecting':
      return 'Starting LeapBird…';
    case 'connected':
      return 'LeapBird is running';
    case 'host_missing':
      return 'LeapBird program not installed';
    case 'host_outdated':
      return 'LeapBird program and add-on do not match: one needs an update';
    case 'disconnected':
      return 'LeapBird program stopped';
  }
}
