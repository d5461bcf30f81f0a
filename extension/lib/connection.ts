/**
 * Keeps one native-messaging port to the host open, reconnecting with backoff when it
 * drops. Pure logic over a port factory, so it is unit-testable without Thunderbird.
 * (An open port also keeps the MV3 event page alive.)
 */
export interface PortLike {
  postMessage(message: unknown): void;
  disconnect(): void;
  onMessage: { addListener(cb: (message: unknown) => void): void };
  onDisconnect: {
    addListener(cb: (port: PortLike & { error?: { message?: string } | null }) => void): void;
  };
}

export type ConnectionPhase =
  | 'connecting'
  | 'connected'
  | 'host_missing'
  /** The program answered but speaks another protocol version (older or newer). */
  | 'host_outdated'
  | 'disconnected';

export interface ConnectionEvents {
  onOpen(port: PortLike): void;
  onMessage(message: unknown): void;
  onClose(phase: ConnectionPhase, reason: string): void;
}

export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
}

/** Delay before the n-th reconnection attempt: 1 s doubling up to a minute. */
export function backoffMs(attempt: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, attempt));
}

/** Turns Gecko's disconnect error into a phase and a sentence a person understands. */
export function describeDisconnect(errorMessage: string | undefined): {
  phase: ConnectionPhase;
  reason: string;
} {
  const text = errorMessage ?? '';
  if (/No such native application|not found|does not exist/i.test(text)) {
    return {
      phase: 'host_missing',
      reason: 'The LeapBird program is not installed on this computer.',
    };
  }
  if (/exceeds the limit/i.test(text)) {
    return {
      phase: 'disconnected',
      reason: 'The LeapBird program sent a message that was too large; reconnecting.',
    };
  }
  return {
    phase: 'disconnected',
    reason: text
      ? `The LeapBird program stopped (${text}); reconnecting.`
      : 'The LeapBird program stopped; reconnecting.',
  };
}

export class HostConnection {
  private attempt = 0;
  private port: PortLike | null = null;
  private stopped = false;

  constructor(
    private readonly connect: () => PortLike,
    private readonly events: ConnectionEvents,
    private readonly scheduler: Scheduler = globalThis,
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.port?.disconnect();
    this.port = null;
  }

  /** Call once the host answered hello: the next drop starts backing off from scratch. */
  markHealthy(): void {
    this.attempt = 0;
  }

  private open(): void {
    let port: PortLike;
    try {
      port = this.connect();
    } catch (error) {
      this.closed(describeDisconnect((error as Error).message));
      return;
    }
    this.port = port;
    port.onMessage.addListener((message) => this.events.onMessage(message));
    port.onDisconnect.addListener((p) => {
      if (this.port !== port) return;
      this.port = null;
      this.closed(describeDisconnect(p.error?.message ?? undefined));
    });
    this.events.onOpen(port);
  }

  private closed({ phase, reason }: { phase: ConnectionPhase; reason: string }): void {
    this.events.onClose(phase, reason);
    if (this.stopped) return;
    const delay = backoffMs(this.attempt++);
    this.scheduler.setTimeout(() => {
      if (!this.stopped) this.open();
    }, delay);
  }
}
