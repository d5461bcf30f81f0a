/** Several sessions on one mailbox: every one ends up with the same, correct view. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AccountStore } from '../../native-host/src/store/index.js';
import { sampleMessage } from './backend-contract.js';
import { loggedIn, type RawClient, startFixture, type Fixture } from './helpers.js';

describe.each(['memory', 'store'] as const)('%s backend', (kind) => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await startFixture({}, kind);
    const account = await fx.backend.account('alice-account');
    const inbox = (await account.getMailbox('INBOX'))!;
    for (let i = 0; i < 10; i++) await account.append(inbox.id, { content: sampleMessage(i) });
  });
  afterEach(() => fx.close());

  /** A client-side model: the message count as the untagged responses say it. */
  class View {
    count = 0;
    expungedDuring: string[] = [];
    constructor(readonly client: RawClient) {}
    absorb(text: string, command: string): void {
      for (const line of text.split('\r\n')) {
        const exists = /^\* (\d+) EXISTS$/.exec(line);
        if (exists) this.count = Number(exists[1]);
        const expunge = /^\* (\d+) EXPUNGE$/.exec(line);
        if (expunge) {
          expect(Number(expunge[1])).toBeLessThanOrEqual(this.count);
          this.count--;
          if (/^(FETCH|STORE|SEARCH)/.test(command)) this.expungedDuring.push(command);
        }
      }
    }
    async run(tag: string, command: string): Promise<string> {
      const text = await this.client.command(tag, command);
      this.absorb(text, command);
      return text;
    }
  }

  /** Each message's UID and flags as a view sees them, and which UIDs are \Recent for it. */
  async function uidsAndFlags(view: View): Promise<{ lines: string[]; recent: number[] }> {
    const text = await view.run('v', 'FETCH 1:* (UID FLAGS)');
    const fetched = text.split('\r\n').filter((l) => /^\* \d+ FETCH /.test(l));
    return {
      // \Recent belongs to one session by definition; the rest must agree across sessions.
      lines: fetched.map((l) => l.replace(/^\* \d+ FETCH /, '').replace(/ ?\\Recent/, '')),
      recent: fetched
        .filter((l) => l.includes('\\Recent'))
        .map((l) => Number(/UID (\d+)/.exec(l)![1])),
    };
  }

  describe('concurrent sessions', () => {
    it('hold back EXPUNGE during FETCH, STORE and SEARCH and send it after NOOP', async () => {
      const a = new View(await loggedIn(fx.server.port));
      const b = new View(await loggedIn(fx.server.port));
      await a.run('s', 'SELECT INBOX');
      await b.run('s', 'SELECT INBOX');
      await b.run('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
      await b.run('e', 'EXPUNGE');
      const fetch = await a.run('f', 'FETCH 1:2 (UID)');
      expect(fetch).not.toContain('EXPUNGE');
      // Message 1 is gone from the store but its number still stands for the client.
      expect(fetch).toContain('* 2 FETCH (UID 2)');
      const search = await a.run('g', 'SEARCH ALL');
      expect(search).not.toContain('EXPUNGE');
      expect(await a.run('n', 'NOOP')).toContain('* 1 EXPUNGE');
      expect(a.count).toBe(9);
      expect(await a.run('h', 'FETCH 1 (UID)')).toContain('* 1 FETCH (UID 2)');
      a.client.close();
      b.client.close();
    });

    it('announce new mail after NOOP or IDLE, not in the UID FETCH a client fetches new mail with', async () => {
      const a = new View(await loggedIn(fx.server.port));
      await a.run('s', 'SELECT INBOX');
      const account = await fx.backend.account('alice-account');
      const inbox = (await account.getMailbox('INBOX'))!;
      await account.append(inbox.id, { content: sampleMessage(50) });
      // Thunderbird's new-mail sequence; an EXISTS in these answers is one it does not act on.
      for (const [tag, command] of [
        ['f', 'UID FETCH 1:* (FLAGS)'],
        ['t', 'UID STORE 1 +FLAGS (\\Seen)'],
        ['q', 'UID SEARCH UNSEEN'],
      ]) {
        expect(await a.run(tag!, command!)).not.toContain('EXISTS');
      }
      expect(await a.run('n', 'NOOP')).toContain('* 11 EXISTS');
      expect(a.count).toBe(11);
      a.client.close();
    });

    it('converge on the same mailbox state after interleaved changes', async () => {
      const views = await Promise.all(
        Array.from({ length: 5 }, async () => new View(await loggedIn(fx.server.port))),
      );
      const account = await fx.backend.account('alice-account');
      const inboxId = (await account.getMailbox('INBOX'))!.id;
      const firstNewUid = (await account.openMailbox(inboxId)).status.uidNext;
      for (const v of views) await v.run('s', 'SELECT INBOX');
      await Promise.all(
        views.map(async (v, i) => {
          for (let round = 0; round < 6; round++) {
            const message = sampleMessage(100 + i * 10 + round).toString();
            await v.run(`a${round}`, `APPEND INBOX {${message.length}+}\r\n${message}`);
            await v.run(`f${round}`, `STORE ${1 + ((i + round) % 5)} +FLAGS (\\Flagged $S${i})`);
            await v.run(`x${round}`, 'FETCH 1:* (FLAGS)');
            if (round % 3 === i % 3) {
              await v.run(`d${round}`, `UID STORE ${i * 6 + round + 1} +FLAGS.SILENT (\\Deleted)`);
              await v.run(`e${round}`, 'EXPUNGE');
            }
          }
        }),
      );
      for (const v of views) await v.run('n', 'NOOP');
      const snapshot = await account.openMailbox(inboxId);
      const expected = (await uidsAndFlags(views[0]!)).lines;
      expect(expected).toHaveLength(snapshot.uids.length);
      expect(expected.map((l) => Number(/UID (\d+)/.exec(l)![1]))).toEqual([...snapshot.uids]);
      const recentIn: number[] = [];
      for (const v of views) {
        expect(v.count).toBe(snapshot.uids.length);
        const seen = await uidsAndFlags(v);
        expect(seen.lines).toEqual(expected);
        recentIn.push(...seen.recent);
        expect(v.expungedDuring).toEqual([]);
        v.client.close();
      }
      // Every message that arrived while they had INBOX selected is \Recent in one session.
      const arrived = [...snapshot.uids].filter((u) => u >= firstNewUid);
      expect(arrived.length).toBeGreaterThan(0);
      expect(recentIn.sort((a, b) => a - b)).toEqual(arrived);
    });

    it('see every message that arrives, as the sync engine stores it, while they select and idle', async () => {
      const account = await fx.backend.account('alice-account');
      const inbox = (await account.getMailbox('INBOX'))!;
      const selecting = await Promise.all(
        Array.from({ length: 4 }, async () => new View(await loggedIn(fx.server.port))),
      );
      const idler = new View(await loggedIn(fx.server.port));
      await idler.run('s', 'SELECT INBOX');
      idler.client.write('i IDLE\r\n');
      await idler.client.readLine();
      let arriving = true;
      // Arrivals in the two shapes the sync engine uses: one at a time and committed batches.
      const arrivals = (async () => {
        const store = account as Partial<AccountStore>;
        for (let i = 0; i < 60; i += 5) {
          const batch = Array.from({ length: 5 }, (_, k) => ({
            content: sampleMessage(200 + i + k),
            upstream: { mailbox: 'INBOX', uidValidity: 1, uid: 1 + i + k },
          }));
          if (store.appendManyFromUpstream && i % 10 === 0) {
            await store.appendManyFromUpstream(inbox.id, batch);
          } else {
            for (const request of batch) await account.append(inbox.id, request);
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
        arriving = false;
      })();
      await Promise.all(
        selecting.map(async (v) => {
          for (let k = 0; arriving; k++) {
            await v.run(`s${k}`, 'SELECT INBOX');
            await v.run(`n${k}`, 'NOOP');
          }
        }),
      );
      await arrivals;
      const total = (await account.status(inbox.id)).messages;
      expect(total).toBe(70);
      for (const v of selecting) {
        await v.run('last', 'NOOP');
        expect(v.count).toBe(total);
        v.client.close();
      }
      // The idling session was told of each arrival without asking.
      idler.client.write('DONE\r\n');
      idler.absorb(await idler.client.response('i'), 'IDLE');
      expect(idler.count).toBe(total);
      idler.client.close();
    });
  });
});
