/** Sentences the add-on shows people. One place, so they stay consistent. */
import type { ConnectionPhase } from './connection.js';

export const HOST_INSTALL_COMMAND = 'npm run install-host';

export function phaseTitle(phase: ConnectionPhase): string {
  switch (phase) {
    case 'connecting':
      return 'Starting LeapBird…';
    case 'connected':
      return 'LeapBird is running';
    case 'host_missing':
      return 'LeapBird program not installed';
    case 'disconnected':
      return 'LeapBird program stopped';
  }
}

/** Short badge text for the toolbar button; empty when all is well. */
export function phaseBadge(phase: ConnectionPhase): { text: string; color: string } {
  switch (phase) {
    case 'connected':
      return { text: '', color: '#2f6f4f' };
    case 'connecting':
      return { text: '…', color: '#6b7280' };
    case 'host_missing':
    case 'disconnected':
      return { text: '!', color: '#b91c1c' };
  }
}
