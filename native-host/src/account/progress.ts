/**
 * What the add-on shows while an account syncs (the toolbar badge's percentage and the
 * popup's sentence): the account's folders summed into one figure, so the percentage does
 * not jump from folder to folder.
 */
import type { Progress } from '../../../shared/src/rpc.js';
import type { IndexProgress } from '../store/index.js';
import type { SyncProgress } from '../sync/index.js';

export function syncProgressOf(email: string, folders: readonly SyncProgress[]): Progress {
  const done = folders.reduce((sum, f) => sum + Math.min(f.done, f.total), 0);
  const total = folders.reduce((sum, f) => sum + f.total, 0);
  const synced = folders.length > 0 && folders.every((f) => f.synced);
  return {
    task: 'sync',
    done,
    total,
    message: synced
      ? `${email}: all mail is here.`
      : `Bringing ${email}'s mail to this computer: ${count(done)} of ${count(total)} messages.`,
  };
}

/** While a store from an older version gets its search index. */
export function indexProgressOf(email: string, progress: IndexProgress): Progress {
  return {
    task: 'index',
    done: progress.done,
    total: progress.total,
    message:
      progress.done >= progress.total
        ? `${email}: search is ready.`
        : `Preparing search for ${email}: ${count(progress.done)} of ${count(progress.total)} messages.`,
  };
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}
