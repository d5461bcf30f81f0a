import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAccountStore, saveStorageSecret } from '../../native-host/src/store/index.js';
import { tempDir } from './helpers.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Every file that contains any of the needles (as UTF-8, UTF-16LE, or lower case). */
function filesContaining(dir: string, needles: (string | Buffer)[]): string[] {
  const forms = needles.flatMap((n) =>
    typeof n === 'string'
      ? [Buffer.from(n), Buffer.from(n, 'utf16le'), Buffer.from(n.toLowerCase())]
      : [n],
  );
  return filesUnder(dir).filter((file) => {
    const content = readFileSync(file);
    return forms.some((form) => content.includes(form));
  });
}

describe('no plaintext at rest', () => {
  it('finds none of the written markers in any file of the data directory', async () => {
    const { dir, remove } = await tempDir('at-rest-');
    try {
      const tag = randomBytes(6).toString('hex');
      const markers = {
        subject: `SubjectMarker${tag}`,
        body: `BodyMarker${tag}`,
        sender: `sender.marker.${tag}@example.org`,
        keyword: `$KeywordMarker${tag}`,
        mailbox: `FolderMarker${tag}`,
      };
      const secret = randomBytes(64);
      await saveStorageSecret(dir, 'alice', secret, randomBytes(32));
      const store = await openAccountStore({ dir, storageSecret: secret });
      const folder = await store.createMailbox(`Archive/${markers.mailbox}`);
      const message = Buffer.from(
        [
          `From: Marker Sender <${markers.sender}>`,
          'To: bob@example.com',
          `Subject: ${markers.subject}`,
          '',
          `${markers.body}\r\n`.repeat(3000),
        ].join('\r\n'),
      );
      const { uid } = await store.append(folder.id, { content: message, flags: ['\\Seen'] });
      await store.storeFlags(folder.id, [{ start: uid, end: uid }], {
        operation: 'add',
        flags: [markers.keyword],
      });
      await store.copyMessages(
        folder.id,
        [{ start: uid, end: uid }],
        (await store.getMailbox('INBOX'))!.id,
      );
      const needles = [...Object.values(markers), secret, secret.toString('hex')];
      // While open (the WAL holds the latest pages) and after closing.
      expect(filesContaining(dir, needles)).toEqual([]);
      store.close();
      const files = filesUnder(dir);
      expect(files.some((f) => f.endsWith('account.db'))).toBe(true);
      expect(files.filter((f) => f.includes('blobs')).length).toBeGreaterThan(0);
      expect(filesContaining(dir, needles)).toEqual([]);

      // The scan itself finds what is there: a plaintext file with a marker is reported.
      writeFileSync(join(dir, 'control.txt'), `x ${markers.subject.toLowerCase()} x`);
      expect(filesContaining(dir, needles)).toEqual([join(dir, 'control.txt')]);

      // And the data really is there, behind the key.
      const reopened = await openAccountStore({ dir, storageSecret: secret });
      const box = (await reopened.getMailbox(`Archive/${markers.mailbox}`))!;
      const metas = [];
      for await (const m of reopened.fetch(box.id, [{ start: 1, end: Infinity }], {
        want: { envelope: true },
      }))
        metas.push(m);
      expect(metas[0]!.envelope!.subject).toBe(markers.subject);
      expect(metas[0]!.flags).toContain(markers.keyword);
      reopened.close();
    } finally {
      await remove();
    }
  });
});
