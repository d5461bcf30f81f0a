/**
 * Run by crash.test.ts in a child process that gets SIGKILLed at a random moment: appends
 * numbered messages (and flags every third one) for ever, printing "<n> <uid>" after each
 * append has resolved, i.e. after it committed.
 */
import { openAccountStore } from '../../native-host/src/store/index.js';
import { numberedMessage } from './helpers.js';

const [dir, secretHex, firstArg] = process.argv.slice(2);
const store = await openAccountStore({ dir: dir!, storageSecret: Buffer.from(secretHex!, 'hex') });
const inbox = (await store.getMailbox('INBOX'))!;
for (let n = Number(firstArg); ; n++) {
  const { uid } = await store.append(inbox.id, {
    content: numberedMessage(n, 500 + ((n * 7919) % 150_000)),
  });
  if (n % 3 === 0) {
    await store.storeFlags(inbox.id, [{ start: uid, end: uid }], {
      operation: 'add',
      flags: ['\\Seen'],
    });
  }
  process.stdout.write(`${n} ${uid}\n`);
}
