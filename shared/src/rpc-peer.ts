/**
 * One end of the typed RPC channel. Transport-agnostic: the host wires it to stdio framing,
 * the add-on to `runtime.connectNative`. `Local` are the methods this side serves,
 * `Remote` the methods it may call on the other side.
 */
import { ChunkAssembler, toSendable } from './chunking.js';
import { RpcError, isErrorValue } from './errors.js';
import type { Envelope, EventMap, MethodMap, ResponseEnvelope } from './rpc.js';

type Handler<P, R> = (params: P) => R | Promise<R>;

export interface RpcPeerOptions {
  send: (envelope: Envelope) => void;
  /** Largest single message the other side accepts; bigger ones go as chunks. */
  maxMessageBytes?: number;
  /** Largest envelope accepted from the other side once its chunks are put together. */
  maxIncomingBytes?: number;
  /** How long a call waits for its response. */
  timeoutMs?: number;
  /** Prefix for request ids, so both sides' ids never collide in logs. */
  idPrefix: string;
  /** Told about anything the other side sent that is not a valid envelope. */
  onProtocolError?: (error: RpcError) => void;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: RpcError) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class RpcPeer<
  Local extends MethodMap,
  Remote extends MethodMap,
  InEvents extends EventMap,
  OutEvents extends EventMap,
> {
  private readonly handlers = new Map<string, Handler<unknown, unknown>>();
  private readonly listeners = new Map<string, Set<(data: unknown) => void>>();
  private readonly pending = new Map<string, Pending>();
  private readonly chunks: ChunkAssembler;
  private nextId = 1;
  private closed: RpcError | null = null;

  constructor(private readonly options: RpcPeerOptions) {
    this.chunks = new ChunkAssembler({
      ...(options.maxIncomingBytes ? { maxTotalBytes: options.maxIncomingBytes } : {}),
      // A reassembly that outlives a call's wait could only complete a message no one awaits.
      idleMs: options.timeoutMs ?? 30_000,
      onDrop: (error) => options.onProtocolError?.(new RpcError('bad_message', error.message)),
    });
  }

  handle<M extends keyof Local & string>(
    method: M,
    handler: Handler<Local[M]['params'], Local[M]['result']>,
  ): void {
    this.handlers.set(method, handler as Handler<unknown, unknown>);
  }

  on<E extends keyof InEvents & string>(
    name: E,
    listener: (data: InEvents[E]) => void,
  ): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    const wrapped = listener as (data: unknown) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  call<M extends keyof Remote & string>(
    method: M,
    params: Remote[M]['params'],
    options: { timeoutMs?: number } = {},
  ): Promise<Remote[M]['result']> {
    if (this.closed) return Promise.reject(this.closed);
    const id = `${this.options.idPrefix}${this.nextId++}`;
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new RpcError(
            'timeout',
            `No answer to ${method} within ${Math.round(timeoutMs / 1000)} s.`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.send({ type: 'request', id, method, params });
    });
  }

  emit<E extends keyof OutEvents & string>(name: E, data: OutEvents[E]): void {
    if (this.closed) return;
    this.send({ type: 'event', name, data });
  }

  /** Feed one decoded message from the transport. Never throws. */
  receive(message: unknown): void {
    if ((message as { type?: unknown } | null)?.type !== 'chunk') this.chunks.interrupt();
    if (!isEnvelope(message)) {
      const id = idOf(message);
      const error = new RpcError('bad_message', 'The message is not a valid RPC envelope.');
      if (id !== null) this.respond({ type: 'response', id, error: error.toValue() });
      this.options.onProtocolError?.(error);
      return;
    }
    switch (message.type) {
      case 'request':
        void this.dispatch(message.id, message.method, message.params);
        return;
      case 'response':
        this.settle(message);
        return;
      case 'event':
        for (const listener of this.listeners.get(message.name) ?? []) {
          try {
            listener(message.data);
          } catch (error) {
            this.options.onProtocolError?.(RpcError.from(error));
          }
        }
        return;
      case 'chunk':
        try {
          const json = this.chunks.add(message);
          if (json !== null) this.receive(JSON.parse(json));
        } catch (error) {
          this.options.onProtocolError?.(new RpcError('bad_message', RpcError.from(error).message));
        }
        return;
    }
  }

  /** Rejects every call still waiting; later calls fail at once. */
  close(reason = new RpcError('disconnected', 'The connection was closed.')): void {
    if (this.closed) return;
    this.closed = reason;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(reason);
      this.pending.delete(id);
    }
  }

  get isClosed(): boolean {
    return this.closed !== null;
  }

  private async dispatch(id: string, method: string, params: unknown): Promise<void> {
    const handler = this.handlers.get(method);
    if (!handler) {
      this.respond({
        type: 'response',
        id,
        error: { code: 'unknown_method', message: `Unknown method ${method}.` },
      });
      return;
    }
    try {
      const result = await handler(params);
      this.respond({ type: 'response', id, result: result ?? null });
    } catch (error) {
      this.respond({ type: 'response', id, error: RpcError.from(error).toValue() });
    }
  }

  private settle(response: ResponseEnvelope): void {
    const pending = this.pending.get(response.id);
    if (!pending) return; // answered after its timeout: nothing waits for it any more
    this.pending.delete(response.id);
    clearTimeout(pending.timer);
    if ('error' in response) pending.reject(RpcError.from(response.error));
    else pending.resolve(response.result);
  }

  private respond(response: ResponseEnvelope): void {
    if (!this.closed) this.send(response);
  }

  private send(envelope: Envelope): void {
    const max = this.options.maxMessageBytes ?? Infinity;
    const parts =
      max === Infinity
        ? [envelope]
        : toSendable(envelope, max, `${this.options.idPrefix}c${this.nextId++}`);
    for (const part of parts) this.options.send(part);
  }
}

function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  switch (v.type) {
    case 'request':
      return typeof v.id === 'string' && typeof v.method === 'string' && 'params' in v;
    case 'response':
      return typeof v.id === 'string' && ('result' in v || isErrorValue(v.error));
    case 'event':
      return typeof v.name === 'string';
    case 'chunk':
      return (
        typeof v.id === 'string' &&
        typeof v.index === 'number' &&
        typeof v.count === 'number' &&
        typeof v.data === 'string'
      );
    default:
      return false;
  }
}

function idOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const id = (value as Record<string, unknown>).id;
  return typeof id === 'string' ? id : null;
}
