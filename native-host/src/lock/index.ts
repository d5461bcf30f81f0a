/** One host per data folder: an exclusive lock taken before anything else is opened. */
export {
  acquireDataLock,
  lockStillHeld,
  LOCK_FILE,
  type DataLock,
  type LockResult,
} from './data-lock.js';
export { inUseSentence, judge, parseHolder, type LockHolder } from './holder.js';
