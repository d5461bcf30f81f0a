import { describe, expect, it } from 'vitest';
import { indexProgressOf, syncProgressOf } from '../../native-host/src/account/index.js';

describe('sync progress as the add-on shows it', () => {
  it('sums the folders into one figure and says in words what is happening', () => {
    const progress = syncProgressOf('alice@alpha.test', [
      { mailbox: 'INBOX', done: 1200, total: 10_000, synced: false },
      { mailbox: 'Sent', done: 50, total: 50, synced: true },
    ]);
    expect(progress).toEqual({
      task: 'sync',
      done: 1250,
      total: 10_050,
      message: "Bringing alice@alpha.test's mail to this computer: 1,250 of 10,050 messages.",
    });
  });

  it('says when all mail is here, and never counts more done than there is', () => {
    const progress = syncProgressOf('alice@alpha.test', [
      // A folder that shrank upstream while it was being synced.
      { mailbox: 'INBOX', done: 12, total: 10, synced: true },
    ]);
    expect(progress).toMatchObject({ done: 10, total: 10 });
    expect(progress.message).toBe('alice@alpha.test: all mail is here.');
  });

  it('is not "all here" before any folder reported', () => {
    expect(syncProgressOf('a@b.test', []).message).toMatch(/0 of 0/);
  });

  it('tells how far search preparation is, then that search is ready', () => {
    expect(indexProgressOf('alice@alpha.test', { done: 1280, total: 10_000 })).toEqual({
      task: 'index',
      done: 1280,
      total: 10_000,
      message: 'Preparing search for alice@alpha.test: 1,280 of 10,000 messages.',
    });
    expect(indexProgressOf('a@b.test', { done: 7, total: 7 }).message).toBe(
      'a@b.test: search is ready.',
    );
  });
});
