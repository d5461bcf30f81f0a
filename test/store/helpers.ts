import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAccountStore, type AccountStore } from '../../native-host/src/store/index.js';

export async function tempDir(
  prefix = 'store-',
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export async function tempStore(
  options: { chunkSize?: number; secret?: Buffer } = {},
): Promise<{ store: AccountStore; dir: string; secret: Buffer; cleanup: () => Promise<void> }> {
  const { dir, remove } = await tempDir();
  const secret = options.secret ?? randomBytes(64);
  const store = await openAccountStore({
    dir,
    storageSecret: secret,
    chunkSize: options.chunkSize,
  });
  return {
    store,
    dir,
    secret,
    cleanup: async () => {
      store.close();
      await remove();
    },
  };
}

/** A deterministic message whose bytes can be regenerated from its number alone. */
export function numberedMessage(n: number, bodyBytes = 2000): Buffer {
  const line = `line of message ${n} `.repeat(4) + '\r\n';
  const body = line.repeat(Math.max(1, Math.ceil(bodyBytes / line.length)));
  return Buffer.from(
    [
      `From: Sender ${n} <sender${n}@example.com>`,
      'To: Bob <bob@example.com>',
      `Subject: numbered ${n}`,
      `X-Seq: ${n}`,
      'Date: Mon, 1 Jan 2024 10:00:00 +0000',
      `Message-ID: <n${n}@example.com>`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
    ].join('\r\n'),
  );
}
