/**
 * One contender for a data folder's lock: waits for the agreed moment (so that all start
 * together), tries, prints whether it got it, and holds it until its stdin closes.
 */
import { acquireDataLock } from '../../native-host/src/lock/index.js';

const [dir, at] = process.argv.slice(2);
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(at) - Date.now() - 20)));
while (Date.now() < Number(at)); // the last milliseconds spun, for a close start
const result = await acquireDataLock(dir!);
process.stdout.write(JSON.stringify({ acquired: result.acquired }) + '\n');
process.stdin.resume();
process.stdin.on('end', () => {
  if (result.acquired) result.lock.release();
  process.exit(0);
});
