import { describe, expect, it } from 'vitest';
import {
  HostConnection,
  backoffMs,
  describeDisconnect,
  type PortLike,
} from '../../../extension/lib/connection.js';

class FakePort implements PortLike {
  posted: unknown[] = [];
  private messageListeners: ((m: unknown) => void)[] = [];
  private disconnectListeners: ((p: PortLike & { error?: { message?: string } | null }) => void)[] =
    [];
  error: { message?: string } | null = null;
  onMessage = { addListener: (cb: (m: unknown) => void) => void this.messageListeners.push(cb) };
  onDisconnect = {
    addListener: (cb: (p: PortLike & { error?: { message?: string } | null }) => void) =>
      void this.disconnectListeners.push(cb),
  };
  postMessage(m: unknown) {
    this.posted.push(m);
  }
  disconnect() {}
  deliver(m: unknown) {
    for (const l of this.messageListeners) l(m);
  }
  drop(message?: string) {
    this.error = message ? { message } : null;
    for (const l of this.disconnectListeners) l(this);
  }
}

function harness() {
  const ports: FakePort[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const closes: { phase: string; reason: string }[] = [];
  const messages: unknown[] = [];
  const connection = new HostConnection(
    () => {
      const p = new FakePort();
      ports.push(p);
      return p;
    },
    {
      onOpen: () => {},
      onMessage: (m) => messages.push(m),
      onClose: (phase, reason) => closes.push({ phase, reason }),
    },
    { setTimeout: (fn, ms) => timers.push({ fn, ms }) },
  );
  return { connection, ports, timers, closes, messages };
}

describe('host connection', () => {
  it('passes messages from the port on', () => {
    const h = harness();
    h.connection.start();
    h.ports[0]!.deliver({ type: 'event', name: 'status', data: {} });
    expect(h.messages).toEqual([{ type: 'event', name: 'status', data: {} }]);
  });

  it('says the program is not installed when Thunderbird cannot find it (the pages say what to install)', () => {
    const h = harness();
    h.connection.start();
    h.ports[0]!.drop('No such native application org.leapbird.host');
    expect(h.closes[0]!.phase).toBe('host_missing');
    expect(h.closes[0]!.reason).toBe('The LeapBird program is not installed on this computer.');
  });

  it('reconnects with growing delays and starts over once healthy', () => {
    const h = harness();
    h.connection.start();
    h.ports[0]!.drop('crashed');
    h.timers.shift()!.fn();
    h.ports[1]!.drop('crashed');
    expect(h.timers[0]!.ms).toBe(2000);
    h.timers.shift()!.fn();
    h.connection.markHealthy();
    h.ports[2]!.drop('crashed');
    expect(h.timers[0]!.ms).toBe(1000);
    expect(h.ports).toHaveLength(3);
  });

  it('does not reconnect after stop', () => {
    const h = harness();
    h.connection.start();
    h.connection.stop();
    expect(h.timers).toHaveLength(0);
  });

  it('caps the backoff at a minute', () => {
    expect(backoffMs(0)).toBe(1000);
    expect(backoffMs(20)).toBe(60_000);
  });

  it('explains an oversized message and an unknown failure in words', () => {
    expect(
      describeDisconnect(
        'Native application tried to send a message of 1048596 bytes, which exceeds the limit',
      ).reason,
    ).toMatch(/too large/);
    expect(describeDisconnect(undefined)).toEqual({
      phase: 'disconnected',
      reason: 'The LeapBird program stopped; reconnecting.',
    });
  });
});
