import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  encodeBodyStructure,
  encodeEnvelope,
  type MailboxChange,
} from '../../native-host/src/imap/index.js';
import { openAccountStore, type AccountStore } from '../../native-host/src/store/index.js';
import { numberedMessage, tempStore } from './helpers.js';

async function readAll(iter: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of iter) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

describe('mail index', () => {
  it('keeps mailboxes, UIDVALIDITY, UIDs, flags and bodies across a reopen', async () => {
    const { store, dir, secret, cleanup } = await tempStore();
    try {
      const box = await store.createMailbox('Work');
      const a = await store.append(box.id, { content: numberedMessage(1), flags: ['$Todo'] });
      const b = await store.append(box.id, { content: numberedMessage(2) });
      await store.expunge(box.id, [{ start: b.uid, end: b.uid }]);
      const before = await store.status(box.id);
      store.close();
      const reopened = await openAccountStore({ dir, storageSecret: secret });
      try {
        const after = await reopened.status(box.id);
        expect(after).toEqual(before);
        const c = await reopened.append(box.id, { content: numberedMessage(3) });
        // UIDs are never reused, even the expunged one.
        expect(c.uid).toBeGreaterThan(b.uid);
        expect(c.uidValidity).toBe(a.uidValidity);
        const body = await readAll(await reopened.readMessage(box.id, a.uid));
        expect(body.equals(numberedMessage(1))).toBe(true);
      } finally {
        reopened.close();
      }
    } finally {
      await cleanup();
    }
  });

  it('gives a re-created mailbox name a new UIDVALIDITY', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const first = await store.createMailbox('Temp');
      const v1 = (await store.status(first.id)).uidValidity;
      await store.deleteMailbox('Temp');
      const second = await store.createMailbox('Temp');
      expect(second.id).not.toBe(first.id);
      expect((await store.status(second.id)).uidValidity).not.toBe(v1);
    } finally {
      await cleanup();
    }
  });

  it('stores each upstream message once, however often the sync engine retries', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const upstream = { mailbox: 'INBOX', uidValidity: 77, uid: 5 };
      const [x, y] = await Promise.all([
        store.appendFromUpstream(inbox.id, { content: numberedMessage(1), upstream }),
        store.appendFromUpstream(inbox.id, { content: numberedMessage(1), upstream }),
      ]);
      const z = await store.appendFromUpstream(inbox.id, { content: numberedMessage(1), upstream });
      expect(new Set([x!.uid, y!.uid, z.uid]).size).toBe(1);
      expect([x!.duplicate, y!.duplicate, z.duplicate].filter((d) => !d)).toHaveLength(1);
      expect((await store.status(inbox.id)).messages).toBe(1);
      expect(store.findByUpstream(upstream)).toMatchObject({ uid: x!.uid, mailboxId: inbox.id });
      // Changes that came from upstream are not queued to go back there.
      expect(store.queue.pending()).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('stores a batch from upstream in one go, skipping what is already there', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const ref = (uid: number) => ({ mailbox: 'INBOX', uidValidity: 3, uid });
      const first = await store.appendFromUpstream(inbox.id, {
        content: numberedMessage(2),
        upstream: ref(2),
      });
      const events: number[] = [];
      store.watch((c) => c.type === 'messages-added' && events.push(c.messages.length));
      const batch = await store.appendManyFromUpstream(
        inbox.id,
        [1, 2, 3, 4, 5, 3].map((n) => ({
          content: numberedMessage(n),
          upstream: ref(n),
          flags: n === 4 ? ['\\Seen'] : [],
        })),
      );
      expect(batch.map((r) => r.duplicate)).toEqual([false, true, false, false, false, true]);
      expect(batch[1]!.uid).toBe(first.uid);
      expect(batch[5]!.uid).toBe(batch[2]!.uid);
      expect(events).toEqual([4]);
      const status = await store.status(inbox.id);
      expect(status).toMatchObject({ messages: 5, unseen: 4 });
      for (const [i, n] of [1, 2, 3, 4, 5].entries()) {
        const body = await readAll(await store.readMessage(inbox.id, batch[i]!.uid));
        expect(body.equals(numberedMessage(n))).toBe(true);
      }
      await expect(
        store.appendManyFromUpstream(inbox.id, [
          { content: numberedMessage(9), upstream: ref(9) },
          {
            content: (async function* () {
              yield Buffer.from('From: x');
              throw new Error('connection lost');
            })(),
            upstream: ref(10),
          },
        ]),
      ).rejects.toThrow('connection lost');
      // All or nothing: the good message of a failed batch is not half-stored.
      expect(store.findByUpstream(ref(9))).toBeNull();
      expect((await store.status(inbox.id)).messages).toBe(5);
    } finally {
      await cleanup();
    }
  });

  it('fetches large mailboxes page by page and honours long UID lists exactly', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const tiny = Buffer.from('Subject: x\r\n\r\nbody\r\n');
      await store.appendManyFromUpstream(
        inbox.id,
        Array.from({ length: 700 }, (_, i) => ({
          content: Buffer.concat([tiny, Buffer.from(String(i))]),
          upstream: { mailbox: 'INBOX', uidValidity: 1, uid: i + 1 },
        })),
      );
      const uidsOf = async (ranges: { start: number; end: number }[], changedSince?: number) => {
        const out: number[] = [];
        for await (const m of store.fetch(inbox.id, ranges, { changedSince })) out.push(m.uid);
        return out;
      };
      const all = await uidsOf([{ start: 1, end: Infinity }]);
      expect(all).toEqual(Array.from({ length: 700 }, (_, i) => i + 1));
      // Every third UID: 200+ separate ranges, out of order, with overlaps.
      const wanted = all.filter((u) => u % 3 === 0);
      const ranges = [...wanted].reverse().map((u) => ({ start: u, end: u }));
      ranges.push({ start: 9, end: 9 }, { start: 650, end: 651 });
      const expected = [...new Set([...wanted, 650, 651])].sort((a, b) => a - b);
      expect(await uidsOf(ranges)).toEqual(expected);
      // Reversed range ends (IMAP allows 10:5) and ranges beyond the last UID.
      expect(await uidsOf([{ start: 10, end: 5 }])).toEqual([5, 6, 7, 8, 9, 10]);
      expect(await uidsOf([{ start: 800, end: Infinity }])).toEqual([]);
      const { highestModseq } = await store.status(inbox.id);
      await store.storeFlags(
        inbox.id,
        [
          { start: 300, end: 302 },
          { start: 690, end: 690 },
        ],
        {
          operation: 'add',
          flags: ['\\Flagged'],
        },
      );
      expect(await uidsOf([{ start: 1, end: Infinity }], highestModseq)).toEqual([
        300, 301, 302, 690,
      ]);
    } finally {
      await cleanup();
    }
  });

  it('announces renames and deletions of mailboxes with their ids', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const events: MailboxChange[] = [];
      store.watch((c) => events.push(c));
      const a = await store.createMailbox('a');
      const child = await store.createMailbox('a/b');
      await store.renameMailbox('a', 'x/y');
      await store.deleteMailbox('x/y/b');
      expect(events.map((e) => e.type)).toEqual([
        'mailbox-created',
        'mailbox-created',
        'mailbox-created',
        'mailbox-renamed',
        'mailbox-renamed',
        'mailbox-deleted',
      ]);
      expect(events[3]).toMatchObject({ mailbox: { id: a.id, name: 'x/y' }, oldName: 'a' });
      expect(events[4]).toMatchObject({ mailbox: { id: child.id, name: 'x/y/b' }, oldName: 'a/b' });
      expect(events[5]).toMatchObject({ mailboxId: child.id, name: 'x/y/b' });
      await expect(store.renameMailbox('x', 'x/inner')).rejects.toMatchObject({ code: 'cannot' });
    } finally {
      await cleanup();
    }
  });

  it('links local messages to their upstream copies and lists them for diffing', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const synced = await store.appendFromUpstream(inbox.id, {
        content: numberedMessage(1),
        upstream: { mailbox: 'INBOX', uidValidity: 5, uid: 30 },
      });
      const local = await store.append(inbox.id, { content: numberedMessage(2) });
      expect(store.listUpstream('INBOX', 5)).toEqual([
        { mailboxId: inbox.id, uid: synced.uid, upstreamUid: 30 },
      ]);
      // The replayed APPEND got UID 12 upstream.
      store.linkUpstream(inbox.id, local.uid, { mailbox: 'INBOX', uidValidity: 5, uid: 12 });
      expect(store.listUpstream('INBOX', 5).map((m) => m.upstreamUid)).toEqual([12, 30]);
      expect(store.listUpstream('INBOX', 6)).toEqual([]);
      // Two local messages cannot claim the same upstream message.
      expect(() =>
        store.linkUpstream(inbox.id, local.uid, { mailbox: 'INBOX', uidValidity: 5, uid: 30 }),
      ).toThrow(expect.objectContaining({ code: 'already-exists' }));
      expect(() => store.linkUpstream(inbox.id, 999, null)).toThrow(/no longer exists/);
      await store.storeFlags(inbox.id, [{ start: local.uid, end: local.uid }], {
        operation: 'add',
        flags: ['\\Seen'],
      });
      const flags = store.queue.pending().find((c) => c.kind === 'flags')!;
      expect(flags.payload).toMatchObject({
        messages: [{ uid: local.uid, upstream: { mailbox: 'INBOX', uidValidity: 5, uid: 12 } }],
      });
    } finally {
      await cleanup();
    }
  });

  it('queues local changes in order, once each, in the same transaction as the change', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const archive = await store.createMailbox('Archive');
      const upstream = { mailbox: 'INBOX', uidValidity: 9, uid: 41 };
      const m = await store.appendFromUpstream(inbox.id, { content: numberedMessage(1), upstream });
      await store.storeFlags(inbox.id, [{ start: m.uid, end: m.uid }], {
        operation: 'add',
        flags: ['\\Seen'],
      });
      await store.moveMessages(inbox.id, [{ start: m.uid, end: m.uid }], archive.id);
      const kinds = store.queue.pending().map((c) => c.kind);
      expect(kinds).toEqual(['create-mailbox', 'flags', 'move']);
      const move = store.queue.pending()[2]!;
      expect(move.payload).toMatchObject({
        from: 'INBOX',
        to: 'Archive',
        messages: [{ uid: m.uid, upstream, destinationUid: 1 }],
      });
      // The same key again is a no-op that returns the first entry.
      expect(store.queue.append('move', { other: true }, move.key)).toBe(move.seq);
      expect(store.queue.pending()).toHaveLength(3);
      // Entries are immutable; only delivery bookkeeping changes.
      expect(() =>
        store.database.raw
          .prepare(`UPDATE change_queue SET payload = '{}' WHERE seq = ?`)
          .run(move.seq),
      ).toThrow(/immutable/);
      store.queue.markFailed(move.seq, 'offline');
      store.queue.markDone(store.queue.pending()[0]!.seq);
      expect(store.queue.pending().map((c) => [c.kind, c.attempts])).toEqual([
        ['flags', 0],
        ['move', 1],
      ]);
      // One entry per command; repeating a mailbox operation is a new change, not a duplicate.
      const before = store.queue.pending().length;
      await store.append(archive.id, { content: numberedMessage(2) });
      await store.storeFlags(archive.id, [{ start: 1, end: Infinity }], {
        operation: 'add',
        flags: ['$Later'],
      });
      await store.createMailbox('T');
      await store.deleteMailbox('T');
      await store.createMailbox('T');
      const added = store.queue.pending().slice(before);
      expect(added.map((c) => c.kind)).toEqual([
        'append',
        'flags',
        'create-mailbox',
        'delete-mailbox',
        'create-mailbox',
      ]);
      expect((added[1]!.payload as { messages: unknown[] }).messages).toHaveLength(2);
      // Delivered entries can be forgotten; pending ones never are.
      const pendingCount = store.queue.pending().length;
      expect(store.queue.prune(new Date(Date.now() + 1000))).toBe(1);
      expect(store.queue.pending()).toHaveLength(pendingCount);
    } finally {
      await cleanup();
    }
  });

  it('frees a blob when its last message goes, and keeps it while a copy remains', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const other = await store.createMailbox('Other');
      const { uid } = await store.append(inbox.id, { content: numberedMessage(1) });
      const copy = await store.copyMessages(inbox.id, [{ start: uid, end: uid }], other.id);
      expect(await store.blobs.list()).toHaveLength(1);
      await store.expunge(inbox.id, [{ start: uid, end: uid }]);
      expect(await store.blobs.list()).toHaveLength(1);
      const body = await readAll(await store.readMessage(other.id, copy.destinationUids[0]!));
      expect(body.equals(numberedMessage(1))).toBe(true);
      await store.deleteMailbox('Other');
      expect(await store.blobs.list()).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('collects orphaned blobs once they are old enough, and never referenced ones', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      await store.append(inbox.id, { content: numberedMessage(1) });
      // A blob whose row never committed (as after a crash between the two).
      const orphan = await store.blobs.put([numberedMessage(2)]);
      store.blobs.release(orphan.id);
      expect(await store.collectGarbage()).toBe(0);
      expect(await store.blobs.has(orphan.id)).toBe(true);
      expect(await store.collectGarbage({ minAgeMs: 0 })).toBe(1);
      expect(await store.blobs.has(orphan.id)).toBe(false);
      expect(await store.blobs.list()).toHaveLength(1);
    } finally {
      await cleanup();
    }
  });

  it('serves header fetches from the index, without opening the blob', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const raw = numberedMessage(1);
      const { uid } = await store.append(inbox.id, { content: raw });
      let layout;
      for await (const m of store.fetch(inbox.id, [{ start: uid, end: uid }], {
        want: { layout: true },
      }))
        layout = m.layout!;
      const headerEnd = layout!.headerEnd;
      const [blobId] = await store.blobs.list();
      await store.blobs.delete(blobId!);
      const header = await readAll(
        await store.readMessage(inbox.id, uid, { start: 0, end: headerEnd }),
      );
      expect(header.equals(raw.subarray(0, headerEnd))).toBe(true);
      const part = await readAll(await store.readMessage(inbox.id, uid, { start: 6, end: 20 }));
      expect(part.equals(raw.subarray(6, 20))).toBe(true);
      // The body still needs the blob, which is gone: reported, not invented.
      await expect(
        readWhole(store, inbox.id, uid, { start: 0, end: headerEnd + 1 }),
      ).rejects.toMatchObject({ code: 'unavailable' });
      // Also asked for with the header, in one FETCH row.
      for await (const m of store.fetch(inbox.id, [{ start: uid, end: uid }], {
        want: { header: true },
      }))
        expect(Buffer.from(m.header!, 'latin1').equals(raw.subarray(0, headerEnd))).toBe(true);
    } finally {
      await cleanup();
    }
  });

  it('upgrades a database from mail schema 1, keeping its messages readable and counted', async () => {
    const { store, dir, secret, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const old = await store.append(inbox.id, { content: numberedMessage(1) });
      // Turn it back into what version 1 wrote.
      store.database.raw.exec(`DROP TABLE content_headers;
        ALTER TABLE contents DROP COLUMN envelope_imap;
        ALTER TABLE contents DROP COLUMN body_structure_imap;
        DROP TRIGGER messages_count_insert;
        DROP TRIGGER messages_count_delete;
        DROP TRIGGER messages_count_update;
        ALTER TABLE mailboxes DROP COLUMN message_count;
        ALTER TABLE mailboxes DROP COLUMN unseen_count;
        UPDATE schema_version SET version = 1 WHERE namespace = 'mail'`);
      store.close();
      const upgraded = await openAccountStore({ dir, storageSecret: secret });
      try {
        expect(upgraded.database.schemaVersion('mail')).toBe(4);
        // The wire forms of messages stored before are computed by the upgrade.
        const want = { envelope: true, bodyStructure: true };
        const [objects] = await collect(upgraded.fetch(inbox.id, [{ start: 1, end: 1 }], { want }));
        const [wire] = await collect(
          upgraded.fetch(inbox.id, [{ start: 1, end: 1 }], { want: { ...want, encoded: true } }),
        );
        expect(wire!.encoded).toEqual({
          envelope: encodeEnvelope(objects!.envelope!),
          bodyStructure: encodeBodyStructure(objects!.bodyStructure!, true),
        });
        expect(wire!.encoded!.envelope).toContain('"numbered 1"');
        // Counts of messages stored before the upgrade are computed by it.
        expect(await upgraded.status(inbox.id)).toMatchObject({ messages: 1, unseen: 1 });
        const body = await readAll(
          await upgraded.readMessage(inbox.id, old.uid, { start: 0, end: 30 }),
        );
        expect(body.equals(numberedMessage(1).subarray(0, 30))).toBe(true);
        const fresh = await upgraded.append(inbox.id, { content: numberedMessage(2) });
        expect(fresh.uid).toBeGreaterThan(old.uid);
      } finally {
        upgraded.close();
      }
    } finally {
      await cleanup();
    }
  });

  it('keeps STATUS counts equal to the messages there, whatever changed them', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const other = await store.createMailbox('Other');
      const check = async () => {
        for (const box of await store.listMailboxes()) {
          const real = store.database.raw
            .prepare(
              `SELECT count(*) AS messages, count(*) FILTER (WHERE (system_flags & 1) = 0) AS unseen
               FROM messages WHERE mailbox_id = ?`,
            )
            .get(Number(box.id));
          expect(await store.status(box.id)).toMatchObject(real as object);
        }
      };
      for (let i = 0; i < 6; i++) {
        await store.append(inbox.id, {
          content: numberedMessage(i),
          flags: i % 2 ? ['\\Seen'] : [],
        });
      }
      await check();
      await store.storeFlags(inbox.id, [{ start: 1, end: 3 }], {
        operation: 'add',
        flags: ['\\Seen'],
      });
      await store.storeFlags(inbox.id, [{ start: 2, end: 2 }], { operation: 'replace', flags: [] });
      await check();
      await store.copyMessages(inbox.id, [{ start: 1, end: 4 }], other.id);
      await store.moveMessages(inbox.id, [{ start: 5, end: 6 }], other.id);
      await check();
      await store.expunge(other.id, [{ start: 2, end: 3 }]);
      await store.renameMailbox('INBOX', 'Old');
      await check();
      await store.deleteMailbox('Old');
      await check();
      expect((await store.status(other.id)).messages).toBe(4);
    } finally {
      await cleanup();
    }
  });

  it('keeps every header byte, also 8-bit ones that are not UTF-8', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const header = Buffer.concat([
        Buffer.from('Subject: caf'),
        Buffer.from([0xe9, 0xff, 0x80]),
        Buffer.from(' \u00fcber\r\n\r\n'),
      ]);
      const raw = Buffer.concat([header, Buffer.from('body\r\n')]);
      const { uid } = await store.append(inbox.id, { content: raw });
      const [meta] = await collect(
        store.fetch(inbox.id, [{ start: uid, end: uid }], { want: { header: true } }),
      );
      expect(Buffer.from(meta!.header!, 'latin1').equals(header)).toBe(true);
      expect(
        (await readWhole(store, inbox.id, uid, { start: 0, end: 15 })).equals(raw.subarray(0, 15)),
      ).toBe(true);
    } finally {
      await cleanup();
    }
  });

  it('reports a damaged body as unavailable instead of serving wrong bytes', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const { uid } = await store.append(inbox.id, { content: numberedMessage(1) });
      const [id] = await store.blobs.list();
      const file = readFileSync(store.blobs.pathOf(id!));
      file[file.length - 1]! ^= 1;
      writeFileSync(store.blobs.pathOf(id!), file);
      await expect(readWhole(store, inbox.id, uid)).rejects.toMatchObject({
        code: 'unavailable',
      });
    } finally {
      await cleanup();
    }
  });
});

/** A failure may come from readMessage itself or while reading its stream: either counts. */
async function readWhole(
  store: AccountStore,
  mailboxId: string,
  uid: number,
  range?: { start: number; end: number },
): Promise<Buffer> {
  return readAll(await store.readMessage(mailboxId, uid, range));
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
