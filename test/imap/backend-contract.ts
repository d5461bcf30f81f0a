/**
 * The MailboxBackend contract as tests: any implementation (the in-memory reference, the
 * encrypted store) runs this suite through `describeBackendContract(name, factory)`.
 */
import { describe, expect, it } from 'vitest';
import {
  BackendError,
  type AccountBackend,
  type MailboxBackend,
  type MailboxChange,
  type MessageMeta,
} from '../../native-host/src/imap/index.js';
import { analyzeMessage } from '../../native-host/src/mime/index.js';

export interface BackendFixture {
  backend: MailboxBackend;
  accountId: string;
  cleanup?: () => Promise<void>;
}

export function sampleMessage(n: number, extra = ''): Buffer {
  return Buffer.from(
    [
      `From: Sender ${n} <sender${n}@example.com>`,
      'To: Bob <bob@example.com>',
      `Subject: message ${n}`,
      'Date: Mon, 1 Jan 2024 10:00:00 +0000',
      `Message-ID: <m${n}@example.com>`,
      'Content-Type: multipart/mixed; boundary="xx"',
      '',
      '--xx',
      'Content-Type: text/plain; charset=utf-8',
      '',
      `body of message ${n}${extra}`,
      '--xx',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      'AAECAwQ=',
      '--xx--',
      '',
    ].join('\r\n'),
  );
}

async function readAll(iter: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of iter) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function fetchAll(account: AccountBackend, id: string, want = {}): Promise<MessageMeta[]> {
  const out: MessageMeta[] = [];
  for await (const m of account.fetch(id, [{ start: 1, end: Infinity }], { want })) out.push(m);
  return out;
}

async function expectBackendError(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BackendError);
  expect((error as BackendError).code).toBe(code);
}

export function describeBackendContract(
  name: string,
  factory: () => Promise<BackendFixture>,
): void {
  describe(`MailboxBackend contract: ${name}`, () => {
    const withAccount = async (fn: (account: AccountBackend) => Promise<void>) => {
      const fixture = await factory();
      try {
        await fn(await fixture.backend.account(fixture.accountId));
      } finally {
        await fixture.cleanup?.();
      }
    };
    const inbox = async (account: AccountBackend) => (await account.getMailbox('INBOX'))!;

    it('gives every account an INBOX with a non-zero 32-bit UIDVALIDITY', () =>
      withAccount(async (account) => {
        const box = await inbox(account);
        expect(box.name).toBe('INBOX');
        const status = await account.status(box.id);
        expect(status.uidValidity).toBeGreaterThan(0);
        expect(status.uidValidity).toBeLessThanOrEqual(0xffffffff);
        expect(status.messages).toBe(0);
        expect(status.uidNext).toBeGreaterThanOrEqual(1);
      }));

    it('creates missing parents, refuses duplicates and bad names', () =>
      withAccount(async (account) => {
        await account.createMailbox('a/b/c', { specialUse: '\\Archive' });
        const names = (await account.listMailboxes()).map((m) => m.name);
        expect(names).toEqual(expect.arrayContaining(['INBOX', 'a', 'a/b', 'a/b/c']));
        expect((await account.getMailbox('a/b/c'))?.specialUse).toBe('\\Archive');
        await expectBackendError(account.createMailbox('a/b'), 'already-exists');
        await expectBackendError(account.createMailbox('x//y'), 'bad-name');
        await expectBackendError(account.createMailbox(''), 'bad-name');
      }));

    it('renames a mailbox with its children, keeping ids, UIDVALIDITY and messages', () =>
      withAccount(async (account) => {
        const a = await account.createMailbox('a');
        const child = await account.createMailbox('a/child');
        await account.append(a.id, { content: sampleMessage(1) });
        const before = await account.status(a.id);
        const renamed = await account.renameMailbox('a', 'z/b');
        expect(renamed.id).toBe(a.id);
        expect((await account.getMailbox('z/b/child'))?.id).toBe(child.id);
        expect(await account.getMailbox('a')).toBeNull();
        const after = await account.status(a.id);
        expect(after.uidValidity).toBe(before.uidValidity);
        expect(after.messages).toBe(1);
        await expectBackendError(account.renameMailbox('nope', 'x'), 'nonexistent');
        await expectBackendError(account.renameMailbox('z/b', 'INBOX'), 'already-exists');
      }));

    it('renaming INBOX moves its messages and leaves INBOX empty', () =>
      withAccount(async (account) => {
        const box = await inbox(account);
        await account.append(box.id, { content: sampleMessage(1) });
        const moved = await account.renameMailbox('INBOX', 'old-inbox');
        expect((await account.status(moved.id)).messages).toBe(1);
        expect((await account.status((await inbox(account)).id)).messages).toBe(0);
      }));

    it('deletes mailboxes but never INBOX', () =>
      withAccount(async (account) => {
        await account.createMailbox('gone');
        await account.deleteMailbox('gone');
        expect(await account.getMailbox('gone')).toBeNull();
        await expectBackendError(account.deleteMailbox('gone'), 'nonexistent');
        await expectBackendError(account.deleteMailbox('INBOX'), 'cannot');
      }));

    it('keeps subscriptions, also for names that do not exist', () =>
      withAccount(async (account) => {
        await account.setSubscribed('not/there', true);
        expect(await account.listSubscriptions()).toContain('not/there');
        await account.setSubscribed('not/there', false);
        expect(await account.listSubscriptions()).not.toContain('not/there');
      }));

    it('appends several messages at once with consecutive UIDs, or none when one fails', () =>
      withAccount(async (account) => {
        const box = await inbox(account);
        const changes: MailboxChange[] = [];
        const stop = account.watch((c) => changes.push(c));
        const results = await account.appendMany(box.id, [
          { content: sampleMessage(1), flags: ['\\Seen'] },
          { content: sampleMessage(2) },
          { content: sampleMessage(3) },
        ]);
        expect(results.map((r) => r.uid - results[0]!.uid)).toEqual([0, 1, 2]);
        expect(changes.filter((c) => c.type === 'messages-added')).toHaveLength(1);
        const failing = account.appendMany(box.id, [
          { content: sampleMessage(4) },
          {
            content: (async function* () {
              yield sampleMessage(5).subarray(0, 10);
              throw new Error('client went away');
            })(),
          },
        ]);
        await expect(failing).rejects.toThrow();
        stop();
        const status = await account.status(box.id);
        expect(status.messages).toBe(3);
        expect(status.unseen).toBe(2);
        const metas = await fetchAll(account, box.id);
        expect(metas.map((m) => m.uid)).toEqual(results.map((r) => r.uid));
      }));

    it('appends with ascending UIDs and serves metadata equal to the MIME analysis', () =>
      withAccount(async (account) => {
        const box = await inbox(account);
        const date = new Date('2024-02-03T04:05:06Z');
        const first = await account.append(box.id, {
          content: sampleMessage(1),
          flags: ['\\Seen'],
          internalDate: date,
        });
        const second = await account.append(box.id, {
          content: (async function* () {
            const raw = sampleMessage(2);
            yield raw.subarray(0, 10);
            yield raw.subarray(10);
          })(),
        });
        expect(second.uid).toBeGreaterThan(first.uid);
        expect(second.uidValidity).toBe(first.uidValidity);
        const status = await account.status(box.id);
        expect(status).toMatchObject({ messages: 2, unseen: 1 });
        expect(status.uidNext).toBeGreaterThan(second.uid);
        const metas = await fetchAll(account, box.id, {
          envelope: true,
          bodyStructure: true,
          layout: true,
        });
        expect(metas.map((m) => m.uid)).toEqual([first.uid, second.uid]);
        const expected = await analyzeMessage(sampleMessage(1));
        expect(metas[0]).toMatchObject({
          flags: ['\\Seen'],
          size: sampleMessage(1).length,
          envelope: expected.envelope,
          bodyStructure: expected.bodyStructure,
          layout: expected.layout,
        });
        expect(metas[0]!.internalDate.getTime()).toBe(date.getTime());
      }));

    it('reads whole messages and byte ranges', () =>
      withAccount(async (account) => {
        const box = await inbox(account);
        const raw = sampleMessage(7);
        const { uid } = await account.append(box.id, { content: raw });
        expect((await readAll(await account.readMessage(box.id, uid))).equals(raw)).toBe(true);
        const part = await readAll(await account.readMessage(box.id, uid, { start: 5, end: 25 }));
        expect(part.equals(raw.subarray(5, 25))).toBe(true);
        const tail = await readAll(
          await account.readMessage(box.id, uid, { start: raw.length - 3, end: raw.length + 100 }),
        );
        expect(tail.equals(raw.subarray(raw.length - 3))).toBe(true);
        await expectBackendError(account.readMessage(box.id, uid + 100), 'nonexistent');
      }));

    it('stores flags with increasing modseq and honours UNCHANGEDSINCE', () =>
      withAccount(async (account) => {
        const box = await inbox(account);
        const a = await account.append(box.id, { content: sampleMessage(1) });
        const b = await account.append(box.id, { content: sampleMessage(2), flags: ['\\Flagged'] });
        const all = [{ start: 1, end: Infinity }];
        const added = await account.storeFlags(box.id, all, {
          operation: 'add',
          flags: ['\\Seen', '$Label'],
        });
        expect(added.changed.map((m) => m.uid)).toEqual([a.uid, b.uid]);
        expect(new Set(added.changed[1]!.flags)).toEqual(
          new Set(['\\Flagged', '\\Seen', '$Label']),
        );
        const unchanged = await account.storeFlags(box.id, all, {
          operation: 'add',
          flags: ['\\Seen'],
        });
        expect(unchanged.changed).toEqual([]);
        const modseqA = added.changed[0]!.modseq;
        const removed = await account.storeFlags(box.id, [{ start: b.uid, end: b.uid }], {
          operation: 'remove',
          flags: ['\\Flagged'],
        });
        expect(removed.changed[0]!.modseq).toBeGreaterThan(modseqA);
        const conditional = await account.storeFlags(box.id, all, {
          operation: 'replace',
          flags: ['\\Answered'],
          unchangedSince: modseqA,
        });
        expect(conditional.conflicts).toEqual([b.uid]);
        expect(conditional.changed.map((m) => m.uid)).toEqual([a.uid]);
        const metas = await fetchAll(account, box.id);
        expect(metas[0]!.flags).toEqual(['\\Answered']);
        const since: number[] = [];
        for await (const m of account.fetch(box.id, all, { changedSince: modseqA }))
          since.push(m.uid);
        expect(since).toEqual([a.uid, b.uid]);
        expect((await account.status(box.id)).highestModseq).toBeGreaterThanOrEqual(
          Math.max(...metas.map((m) => m.modseq)),
        );
      }));

    it('copies and moves with UID mappings, expunges by UID', () =>
      withAccount(async (account) => {
        const box = await inbox(account);
        const dest = await account.createMailbox('Archive');
        const uids = [];
        for (let i = 0; i < 4; i++)
          uids.push((await account.append(box.id, { content: sampleMessage(i) })).uid);
        const copied = await account.copyMessages(
          box.id,
          [{ start: uids[0]!, end: uids[1]! }],
          dest.id,
        );
        expect(copied.sourceUids).toEqual([uids[0], uids[1]]);
        expect(copied.destinationUids).toHaveLength(2);
        expect(copied.uidValidity).toBe((await account.status(dest.id)).uidValidity);
        const moved = await account.moveMessages(
          box.id,
          [{ start: uids[2]!, end: uids[2]! }],
          dest.id,
        );
        expect(moved.sourceUids).toEqual([uids[2]]);
        expect((await account.openMailbox(box.id)).uids).toEqual(
          Uint32Array.from([uids[0]!, uids[1]!, uids[3]!]),
        );
        const destContent = await readAll(
          await account.readMessage(dest.id, moved.destinationUids[0]!),
        );
        expect(destContent.equals(sampleMessage(2))).toBe(true);
        const gone = await account.expunge(box.id, [{ start: uids[1]!, end: uids[3]! }]);
        expect(gone).toEqual([uids[1], uids[3]]);
        expect((await account.status(box.id)).messages).toBe(1);
        await expectBackendError(
          account.copyMessages(box.id, [{ start: 1, end: Infinity }], 'no-such-id'),
          'nonexistent',
        );
      }));

    it('announces changes before the call resolves, with modseqs after the snapshot', () =>
      withAccount(async (account) => {
        const box = await inbox(account);
        await account.append(box.id, { content: sampleMessage(0) });
        const seen: MailboxChange[] = [];
        const stop = account.watch((c) => seen.push(c));
        const snapshot = await account.openMailbox(box.id);
        const origin = {};
        const { uid } = await account.append(box.id, { content: sampleMessage(1) }, { origin });
        expect(seen.at(-1)).toMatchObject({ type: 'messages-added', mailboxId: box.id, origin });
        const added = seen.at(-1) as Extract<MailboxChange, { type: 'messages-added' }>;
        expect(added.messages[0]!.uid).toBe(uid);
        expect(added.messages[0]!.modseq).toBeGreaterThan(snapshot.status.highestModseq);
        await account.storeFlags(box.id, [{ start: uid, end: uid }], {
          operation: 'add',
          flags: ['\\Deleted'],
        });
        const flagged = seen.at(-1) as Extract<MailboxChange, { type: 'flags-changed' }>;
        expect(flagged.type).toBe('flags-changed');
        expect(flagged.messages[0]!.modseq).toBeGreaterThan(added.messages[0]!.modseq);
        await account.expunge(box.id, [{ start: uid, end: uid }]);
        const expunged = seen.at(-1) as Extract<MailboxChange, { type: 'messages-expunged' }>;
        expect(expunged).toMatchObject({ type: 'messages-expunged', uids: [uid] });
        expect(expunged.modseq).toBeGreaterThan(flagged.messages[0]!.modseq);
        await account.createMailbox('New');
        expect(seen.at(-1)).toMatchObject({ type: 'mailbox-created', mailbox: { name: 'New' } });
        stop();
        const count = seen.length;
        await account.append(box.id, { content: sampleMessage(2) });
        expect(seen.length).toBe(count);
      }));

    it('gives the first unseen UID and keywords in the snapshot', () =>
      withAccount(async (account) => {
        const box = await inbox(account);
        await account.append(box.id, { content: sampleMessage(1), flags: ['\\Seen', '$Work'] });
        const b = await account.append(box.id, { content: sampleMessage(2) });
        const snap = await account.openMailbox(box.id);
        expect(snap.firstUnseenUid).toBe(b.uid);
        expect(snap.keywords).toEqual(['$Work']);
        expect(snap.mailbox.id).toBe(box.id);
      }));
  });
}
