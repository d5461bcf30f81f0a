import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { tempStore } from './helpers.js';

describe('a 200 MB message through the store', () => {
  it('is appended, analysed and read back as streams, never whole in memory', async () => {
    const { store, cleanup } = await tempStore();
    try {
      const inbox = (await store.getMailbox('INBOX'))!;
      const head = Buffer.from(
        [
          'From: a@example.com',
          'Subject: big',
          'Content-Type: multipart/mixed; boundary="b"',
          '',
          '--b',
          'Content-Type: text/plain',
          '',
          'see attachment',
          '--b',
          'Content-Type: application/octet-stream',
          'Content-Transfer-Encoding: base64',
          '',
          '',
        ].join('\r\n'),
      );
      const tail = Buffer.from('--b--\r\n');
      // 1 MiB of base64 lines per piece; each piece differs so nothing deduplicates.
      const line = randomBytes(57 * 16384)
        .toString('base64')
        .replace(/.{76}/g, '$&\r\n');
      const pieces = 200;
      const total = head.length + pieces * Buffer.byteLength(line) + tail.length;
      const written = createHash('sha256');
      const baseline = process.memoryUsage();
      let peak = 0;
      const sample = () => {
        const now = process.memoryUsage();
        peak = Math.max(peak, now.rss - baseline.rss, now.arrayBuffers - baseline.arrayBuffers);
      };
      const content = (async function* () {
        yield head;
        written.update(head);
        for (let i = 0; i < pieces; i++) {
          const piece = Buffer.from(line);
          piece.write(String(i).padStart(8, 'A'), 0);
          written.update(piece);
          sample();
          yield piece;
        }
        written.update(tail);
        yield tail;
      })();
      const { uid } = await store.append(inbox.id, { content });
      let meta;
      for await (const m of store.fetch(inbox.id, [{ start: uid, end: uid }], {
        want: { bodyStructure: true, layout: true },
      }))
        meta = m;
      expect(meta!.size).toBe(total);
      expect(meta!.bodyStructure).toMatchObject({ kind: 'multipart', subtype: 'mixed' });
      const read = createHash('sha256');
      let bytes = 0;
      for await (const chunk of await store.readMessage(inbox.id, uid)) {
        read.update(chunk);
        bytes += chunk.length;
        if (bytes % (1 << 20) < 65536) sample();
      }
      expect(bytes).toBe(total);
      expect(read.digest('hex')).toBe(written.digest('hex'));
      // The attachment's last bytes by range, as BODY[2]<offset.length> would ask.
      const attachment = meta!.layout!.children[1]!;
      const end: Buffer[] = [];
      for await (const c of await store.readMessage(inbox.id, uid, {
        start: attachment.bodyEnd - 10,
        end: attachment.bodyEnd,
      }))
        end.push(Buffer.from(c));
      // The CRLF before the closing boundary belongs to the delimiter, not to the part.
      expect(Buffer.concat(end).toString()).toBe(line.slice(-12, -2));
      expect(peak).toBeLessThan(100 * 1024 * 1024);
    } finally {
      await cleanup();
    }
  }, 120_000);
});
