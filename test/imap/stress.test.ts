/**
 * Many clients on one mailbox at once, on the real store, while new mail keeps arriving as the
 * sync engine stores it. Each session has a checker that keeps its own view from what the
 * server told it (sequence numbers, UIDs, MODSEQ) and fails on anything a careful client would
 * call a protocol error: a BAD to a valid command, an EXPUNGE where RFC 3501 7.4.1 forbids it,
 * a sequence number the client never heard of, a UID that moved, a MODSEQ going backwards,
 * EXISTS shrinking, or anything after BYE. At the end every view must equal the store.
 *
 * The suite runs a short form; LEAPBIRD_STRESS_SESSIONS and LEAPBIRD_STRESS_OPS make it longer
 * (for example 50 and 2000), and then it prints the heap over the run.
 */
import { describe, expect, it } from 'vitest';
import type { AccountStore } from '../../native-host/src/store/index.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { sampleMessage } from './backend-contract.js';
import { loggedIn, startFixture, type RawClient } from './helpers.js';

const SESSIONS = Number(process.env.LEAPBIRD_STRESS_SESSIONS ?? 10);
const OPS = Number(process.env.LEAPBIRD_STRESS_OPS ?? 40);
const LONG = process.env.LEAPBIRD_STRESS_OPS !== undefined;

/** The response's lines with literal contents left out, so a body never reads as a response. */
function responseLines(text: string): string[] {
  const lines: string[] = [];
  let current = '';
  let i = 0;
  while (i < text.length) {
    const end = text.indexOf('\r\n', i);
    if (end < 0) break;
    current += text.slice(i, end);
    i = end + 2;
    const literal = /\{(\d+)\}$/.exec(current);
    if (literal) {
      // Bytes and characters agree here: the test's messages are ASCII.
      i += Number(literal[1]);
      current = current.slice(0, literal.index) + '<literal>';
      continue;
    }
    lines.push(current);
    current = '';
  }
  return lines;
}

/** What a session believes about its selected mailbox, and the errors it caught the server in. */
class SessionChecker {
  /** UID per sequence number; 0 where the client has not been told the UID yet. */
  uids: number[] = [];
  readonly modseqs = new Map<number, number>();
  readonly errors: string[] = [];
  sawBye = false;

  constructor(readonly name: string) {}

  private fail(command: string, what: string): void {
    if (this.errors.length < 20) this.errors.push(`${this.name} ${command}: ${what}`);
  }

  /** Checks one command's whole response against the view and updates the view. */
  absorb(command: string, tag: string, text: string): void {
    const verb =
      command.split(' ')[0] === 'UID'
        ? command.split(' ').slice(0, 2).join(' ')
        : command.split(' ')[0]!;
    // RFC 3501 7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH (the UID forms may).
    const mayExpunge = !['FETCH', 'STORE', 'SEARCH'].includes(verb);
    // A SELECT starts a new view (MODSEQ may not go back within the mailbox, even so).
    if (verb === 'SELECT' || verb === 'EXAMINE') this.uids = [];
    for (const line of responseLines(text)) {
      if (this.sawBye && !line.startsWith(`${tag} `)) this.fail(command, `after BYE: ${line}`);
      let m: RegExpExecArray | null;
      if (line.startsWith(`${tag} `)) {
        if (!/^\S+ (OK|NO) /.test(line)) this.fail(command, line);
      } else if ((m = /^\* (\d+) EXISTS$/.exec(line))) {
        const n = Number(m[1]);
        if (n < this.uids.length)
          this.fail(command, `EXISTS went down to ${n} from ${this.uids.length}`);
        while (this.uids.length < n) this.uids.push(0);
      } else if ((m = /^\* (\d+) EXPUNGE$/.exec(line))) {
        const n = Number(m[1]);
        if (!mayExpunge) this.fail(command, `EXPUNGE during ${verb}`);
        if (n < 1 || n > this.uids.length)
          this.fail(command, `EXPUNGE ${n} of ${this.uids.length}`);
        else this.uids.splice(n - 1, 1);
      } else if ((m = /^\* (\d+) FETCH \((.*)\)$/.exec(line))) {
        this.fetched(command, Number(m[1]), m[2]!);
      } else if ((m = /^\* (\d+) RECENT$/.exec(line))) {
        if (Number(m[1]) > this.uids.length) this.fail(command, `RECENT ${m[1]} > EXISTS`);
      } else if (line.startsWith('* SEARCH') && verb === 'SEARCH') {
        for (const n of line.slice(8).trim().split(' ').filter(Boolean).map(Number))
          if (n < 1 || n > this.uids.length) this.fail(command, `SEARCH found unknown ${n}`);
      } else if (line.startsWith('* BYE')) {
        if (verb !== 'LOGOUT') this.fail(command, line);
        this.sawBye = true;
      } else if (line.startsWith('* VANISHED')) {
        this.fail(command, 'VANISHED without QRESYNC');
      }
    }
  }

  private fetched(command: string, seq: number, items: string): void {
    if (seq < 1 || seq > this.uids.length) {
      this.fail(command, `FETCH for ${seq}, the client knows ${this.uids.length}`);
      return;
    }
    const uid = /(?:^| )UID (\d+)/.exec(items);
    if (uid) {
      const u = Number(uid[1]);
      const known = this.uids[seq - 1]!;
      if (known && known !== u) this.fail(command, `message ${seq} was UID ${known}, now ${u}`);
      this.uids[seq - 1] = u;
      const before =
        this.uids
          .slice(0, seq - 1)
          .filter(Boolean)
          .at(-1) ?? 0;
      if (before >= u) this.fail(command, `UID ${u} at ${seq} not above ${before}`);
    }
    const modseq = /MODSEQ \((\d+)\)/.exec(items);
    const u = this.uids[seq - 1]!;
    if (modseq && u) {
      const value = Number(modseq[1]);
      if (value < (this.modseqs.get(u) ?? 0)) this.fail(command, `MODSEQ of ${u} went back`);
      this.modseqs.set(u, value);
    }
  }
}

describe('IMAP under load', () => {
  it(`keeps ${SESSIONS} concurrent sessions' views exact while mail arrives (${OPS} commands each)`, async () => {
    const fx = await startFixture({}, 'store');
    try {
      const account = await fx.backend.account('alice-account');
      const inbox = (await account.getMailbox('INBOX'))!;
      for (let i = 0; i < 20; i++) await account.append(inbox.id, { content: sampleMessage(i) });
      const heap: number[] = [process.memoryUsage().heapUsed];

      let arriving = true;
      const arrivals = (async () => {
        const store = account as Partial<AccountStore>;
        for (let i = 0; arriving; i += 3) {
          const batch = Array.from({ length: 3 }, (_, k) => ({
            content: sampleMessage(1000 + i + k),
            upstream: { mailbox: 'INBOX', uidValidity: 1, uid: 1 + i + k },
          }));
          if (store.appendManyFromUpstream && i % 2 === 0) {
            await store.appendManyFromUpstream(inbox.id, batch);
          } else for (const request of batch) await account.append(inbox.id, request);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();

      const seed = Number(process.env.LEAPBIRD_STRESS_SEED ?? Date.now() % 100_000);
      const checkers: SessionChecker[] = [];
      const clients: RawClient[] = [];
      await Promise.all(
        Array.from({ length: SESSIONS }, async (_, s) => {
          const next = seededRandom(seed + s);
          const checker = new SessionChecker(`session ${s} (seed ${seed + s})`);
          checkers.push(checker);
          const client = await loggedIn(fx.server.port);
          clients.push(client);
          let counter = 0;
          const run = async (command: string, literal?: string) => {
            const tag = `t${counter++}`;
            if (literal === undefined) {
              checker.absorb(command, tag, await client.command(tag, command, 30_000));
            } else {
              client.write(`${tag} ${command} {${literal.length}+}\r\n${literal}\r\n`);
              checker.absorb(command, tag, await client.response(tag, 30_000));
            }
          };
          if (s % 2 === 0) await run('ENABLE CONDSTORE');
          await run('SELECT INBOX');
          const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
          const someSeqs = () => {
            const n = checker.uids.length;
            if (n === 0) return '1:*';
            const a = 1 + Math.floor(next() * n);
            return next() < 0.5 ? String(a) : `${a}:${Math.min(n, a + Math.floor(next() * 5))}`;
          };
          const flag = () => pick(['\\Seen', '\\Flagged', '\\Answered', '$Work', '\\Deleted']);
          for (let op = 0; op < OPS; op++) {
            if (checker.uids.length === 0) {
              await run('NOOP');
              continue;
            }
            switch (Math.floor(next() * 13)) {
              case 0:
                await run('SELECT INBOX');
                break;
              case 1:
                await run(`FETCH ${someSeqs()} (UID FLAGS${s % 2 === 0 ? ' MODSEQ' : ''})`);
                break;
              case 2:
                await run(`UID FETCH 1:* (FLAGS)`);
                break;
              case 3:
                await run(`FETCH ${someSeqs()} (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])`);
                break;
              case 4:
                await run(`STORE ${someSeqs()} ${pick(['+', '-'])}FLAGS (${flag()})`);
                break;
              case 5:
                await run(`UID STORE 1:* +FLAGS.SILENT (${pick(['\\Seen', '$Work'])})`);
                break;
              case 6:
                await run(
                  `SEARCH ${pick(['FLAGGED', 'UNSEEN', 'ALL', 'RECENT', 'KEYWORD $Work'])}`,
                );
                break;
              case 7:
                await run(`COPY ${someSeqs()} Trash`);
                break;
              case 8:
                // Moves out only while INBOX stays well filled, so the run keeps its load.
                if (checker.uids.length > 15) await run(`MOVE ${someSeqs()} Trash`);
                else await run('CHECK');
                break;
              case 9:
                await run('EXPUNGE');
                break;
              case 10:
                await run('APPEND INBOX', sampleMessage(5000 + s * 10_000 + op).toString());
                break;
              case 11: {
                const tag = `t${counter++}`;
                client.write(`${tag} IDLE\r\n`);
                const ready = await client.readLine(30_000);
                if (!ready.startsWith('+')) checker.absorb('IDLE', tag, ready + '\r\n');
                await new Promise((resolve) => setTimeout(resolve, 5 + next() * 30));
                client.write('DONE\r\n');
                checker.absorb('IDLE', tag, await client.response(tag, 30_000));
                break;
              }
              default:
                await run('NOOP');
            }
            if (s === 0 && op === Math.floor(OPS / 10)) heap.push(process.memoryUsage().heapUsed);
          }
        }),
      );
      arriving = false;
      await arrivals;
      heap.push(process.memoryUsage().heapUsed);

      // Settled: each view is the store's mailbox, in order, with the store's flags.
      const snapshot = await account.openMailbox(inbox.id);
      const truth = new Map<number, string>();
      for await (const m of account.fetch(inbox.id, [{ start: 1, end: Infinity }]))
        truth.set(m.uid, [...m.flags].sort().join(' '));
      for (const [i, checker] of checkers.entries()) {
        const client = clients[i]!;
        checker.absorb('NOOP', 'z', await client.command('z', 'NOOP'));
        const listing = await client.command('y', 'FETCH 1:* (UID FLAGS)');
        checker.absorb('FETCH 1:* (UID FLAGS)', 'y', listing);
        expect(checker.errors).toEqual([]);
        expect(checker.uids).toEqual([...snapshot.uids]);
        const flags = new Map<number, string>();
        for (const line of responseLines(listing)) {
          const m = /^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)( MODSEQ \(\d+\))?\)$/.exec(line);
          if (m)
            flags.set(
              Number(m[1]),
              m[2]!
                .split(' ')
                .filter((f) => f && f !== '\\Recent')
                .sort()
                .join(' '),
            );
        }
        expect(flags).toEqual(truth);
        checker.absorb('LOGOUT', 'x', await client.command('x', 'LOGOUT'));
        expect(checker.errors).toEqual([]);
        client.close();
      }
      if (LONG) {
        const mib = heap.map((h) => (h / 2 ** 20).toFixed(1));
        process.stdout.write(`stress: heap MiB at start, 10%, end: ${mib.join(', ')}\n`);
      }
    } finally {
      await fx.close();
    }
  }, 600_000);
});
