/**
 * A small pool of worker threads for the incoming pipeline, so decryption runs beside the
 * store's work (MIME analysis, blob encryption, commits) on the main thread. Under tsx or
 * vitest the worker source is TypeScript and is loaded through tsx's loader; the built host
 * loads the compiled JavaScript directly.
 */
import { Worker } from 'node:worker_threads';
import type { HarvestedKey } from '../crypto/index.js';
import { processIncoming, type IncomingResult, type SyncKeys } from './incoming.js';

export type ToWorker =
  | { type: 'open'; id: number; raw: Uint8Array; keys: string[] }
  | { type: 'sender-keys'; call: number; keys: string[] };

export type FromWorker =
  | { type: 'done'; id: number; result: IncomingResult }
  | { type: 'failed'; id: number; reason: string }
  | { type: 'sender-keys'; call: number; sender: string | null }
  | { type: 'learn'; harvested: HarvestedKey[] };

interface Slot {
  worker: Worker;
  busy: number;
  dead: boolean;
}

function spawn(): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./open-worker.js', here));
  const target = JSON.stringify(new URL('./open-worker.ts', here).href);
  return new Worker(
    `import('tsx/esm/api').then(({ register }) => { register(); return import(${target}); })`,
    { eval: true },
  );
}

export class OpenPool {
  private readonly slots: Slot[];
  private readonly tasks = new Map<
    number,
    { slot: Slot; resolve: (r: IncomingResult) => void; reject: (e: Error) => void }
  >();
  private nextId = 0;

  constructor(
    size: number,
    private readonly keys: SyncKeys,
  ) {
    this.slots = Array.from({ length: size }, () => {
      const slot: Slot = { worker: spawn(), busy: 0, dead: false };
      slot.worker.on('message', (message: FromWorker) => this.onMessage(slot, message));
      slot.worker.on('error', (error) => this.failAll(slot, error));
      slot.worker.on('exit', () => this.failAll(slot, new Error('A decryption worker stopped.')));
      slot.worker.unref();
      return slot;
    });
  }

  /** Opens the message in the least busy worker; on the main thread when none is left. */
  open(raw: Buffer, decryptionKeys: string[]): Promise<IncomingResult> {
    const live = this.slots.filter((s) => !s.dead);
    if (!live.length) return processIncoming(raw, this.keys, decryptionKeys);
    const slot = live.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = ++this.nextId;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.tasks.set(id, { slot, resolve, reject });
      const copy = new Uint8Array(raw);
      const message: ToWorker = { type: 'open', id, raw: copy, keys: decryptionKeys };
      slot.worker.postMessage(message, [copy.buffer]);
    });
  }

  async close(): Promise<void> {
    for (const slot of this.slots) slot.dead = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private async onMessage(slot: Slot, message: FromWorker): Promise<void> {
    if (message.type === 'sender-keys') {
      const keys = await this.keys.senderKeys(message.sender).catch(() => []);
      slot.worker.postMessage({ type: 'sender-keys', call: message.call, keys } as ToWorker);
      return;
    }
    if (message.type === 'learn') {
      await this.keys.learn?.(message.harvested)?.catch(() => undefined);
      return;
    }
    const task = this.tasks.get(message.id);
    if (!task) return;
    this.tasks.delete(message.id);
    slot.busy--;
    if (message.type === 'done') {
      const r = message.result;
      task.resolve({
        ...r,
        message: Buffer.from(r.message.buffer, r.message.byteOffset, r.message.byteLength),
      });
    } else {
      task.reject(new Error(message.reason));
    }
  }

  /** A worker that failed takes no more work; what it had fails (the pass is retried). */
  private failAll(slot: Slot, error: Error): void {
    slot.dead = true;
    for (const [id, task] of this.tasks) {
      if (task.slot !== slot) continue;
      this.tasks.delete(id);
      task.reject(error);
    }
  }
}
