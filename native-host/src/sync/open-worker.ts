/**
 * Worker thread of the open pool: runs the incoming pipeline on one message at a time.
 * Sender keys come from the main thread (the key manager lives there), asked per message.
 */
import { parentPort } from 'node:worker_threads';
import type { HarvestedKey } from '../crypto/index.js';
import { processIncoming, type SyncKeys } from './incoming.js';
import type { FromWorker, ToWorker } from './open-pool.js';

const port = parentPort!;
const answers = new Map<number, (keys: string[]) => void>();
let calls = 0;

function send(message: FromWorker): void {
  port.postMessage(message);
}

port.on('message', async (message: ToWorker) => {
  if (message.type === 'sender-keys') {
    answers.get(message.call)?.(message.keys);
    answers.delete(message.call);
    return;
  }
  const keys: SyncKeys = {
    decryptionKeys: async () => message.keys,
    senderKeys: (sender: string | null) =>
      new Promise((resolve) => {
        const call = ++calls;
        answers.set(call, resolve);
        send({ type: 'sender-keys', call, sender });
      }),
    learn: async (harvested: HarvestedKey[]) => send({ type: 'learn', harvested }),
    ownKey: async () => null,
  };
  try {
    const result = await processIncoming(Buffer.from(message.raw), keys, message.keys);
    send({ type: 'done', id: message.id, result });
  } catch (error) {
    send({ type: 'failed', id: message.id, reason: String(error) });
  }
});
