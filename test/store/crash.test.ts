import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openAccountStore, type AccountStore } from '../../native-host/src/store/index.js';
import { numberedMessage, tempDir } from './helpers.js';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const KILLS = 5;

/** Starts the appender, lets it commit a random number of messages, kills it with SIGKILL. */
function runAndKill(dir: string, secret: Buffer, first: number): Promise<Map<number, number>> {
  const reported = new Map<number, number>();
  const target = 5 + Math.floor(Math.random() * 40);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CHILD, dir, secret.toString('hex'), String(first)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the appender made no progress within 30 s'));
    }, 30_000);
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (data: Buffer) => {
      buffered += data.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const [n, uid] = line.split(' ').map(Number);
        reported.set(n!, uid!);
      }
      // Kill mid-write: after a random further delay, not right at a line boundary.
      if (reported.size >= target && !child.killed) {
        setTimeout(() => child.kill('SIGKILL'), Math.random() * 30);
      }
    });
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`the appender exited on its own: ${stderr}`));
      else resolve(reported);
    });
  });
}

async function allRows(store: AccountStore) {
  return store.database.raw
    .prepare(
      `SELECT m.uid, m.blob_id, m.system_flags FROM messages m
       JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.name = 'INBOX' ORDER BY m.uid`,
    )
    .all() as { uid: number; blob_id: string; system_flags: number }[];
}

describe('kill -9 durability', () => {
  it(`loses no committed message and reuses no UID across ${KILLS} kills`, async () => {
    const { dir, remove } = await tempDir('crash-');
    const secret = randomBytes(64);
    try {
      let store = await openAccountStore({ dir, storageSecret: secret });
      const inboxId = (await store.getMailbox('INBOX'))!.id;
      const uidValidity = (await store.status(inboxId)).uidValidity;
      store.close();
      const committed = new Map<number, number>();
      let maxUidBefore = 0;
      let next = 0;
      for (let round = 0; round < KILLS; round++) {
        const reported = await runAndKill(dir, secret, next);
        store = await openAccountStore({ dir, storageSecret: secret });
        try {
          const status = await store.status(inboxId);
          expect(status.uidValidity).toBe(uidValidity);
          for (const [n, uid] of reported) {
            expect(uid).toBeGreaterThan(maxUidBefore);
            committed.set(n, uid);
          }
          const rows = await allRows(store);
          const byUid = new Map(rows.map((r) => [r.uid, r]));
          // Every message whose append resolved is there, byte for byte, with its flags.
          for (const [n, uid] of committed) {
            const row = byUid.get(uid);
            expect(row, `message ${n} (UID ${uid})`).toBeDefined();
            if (n % 3 === 0 && reported.has(n)) expect(row!.system_flags & 1).toBe(1);
          }
          // Every row (also those committed just before the kill) has a whole, readable blob.
          for (const row of rows) {
            expect(existsSync(store.blobs.pathOf(row.blob_id))).toBe(true);
            const raw = await store.blobs.read(row.blob_id);
            const n = Number(/X-Seq: (\d+)/.exec(raw.toString('latin1'))![1]);
            expect(raw.equals(numberedMessage(n, 500 + ((n * 7919) % 150_000)))).toBe(true);
          }
          expect(status.messages).toBe(rows.length);
          expect(status.uidNext).toBeGreaterThan(Math.max(0, ...rows.map((r) => r.uid)));
          await store.collectGarbage({ minAgeMs: 0 });
          const referenced = new Set(rows.map((r) => r.blob_id));
          expect(new Set(await store.blobs.list())).toEqual(referenced);
          maxUidBefore = Math.max(0, ...rows.map((r) => r.uid));
          next = Math.max(next, ...reported.keys()) + 1000;
        } finally {
          store.close();
        }
      }
      expect(committed.size).toBeGreaterThanOrEqual(KILLS * 5);
    } finally {
      await remove();
    }
  }, 120_000);
});
