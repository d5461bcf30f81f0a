/**
 * Legacy mode against a plain Dovecot with a password: plaintext mail is stored locally,
 * then its upstream copy is replaced by one encrypted to the user, once, and the local copy
 * stays single.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureCa } from '../../provider/src/ca/index.js';
import { startDovecot, type DovecotInstance } from '../../provider/src/index.js';
import { SyncEngine, type UpstreamCredentials } from '../../native-host/src/sync/index.js';
import { decryptWith, makeKey } from '../provider/helpers.js';
import {
  leapHeader,
  localMessages,
  makeMessage,
  messageId,
  openTempStore,
  testKeys,
} from './helpers.js';

const user = 'lea@legacy.test';
const password = 'legacy password';
let dir: string;
let dovecot: DovecotInstance;
let caPem: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sync-legacy-'));
  chmodSync(dir, 0o711);
  // The host sends a password only after STARTTLS, so this Dovecot offers it.
  const ca = await ensureCa(join(dir, 'tls'), 'legacy.test', ['127.0.0.1']);
  chmodSync(join(dir, 'tls', 'ca'), 0o755);
  chmodSync(ca.serverKeyPath, 0o644); // Dovecot reads it after dropping privileges
  caPem = ca.caCertPem;
  dovecot = await startDovecot({
    dataDir: join(dir, 'dovecot'),
    auth: { kind: 'passwd-file', users: [{ user, password }] },
    tls: { certPath: ca.serverCertPath, keyPath: ca.serverKeyPath },
  });
}, 30_000);
afterAll(async () => {
  await dovecot?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function plainClient(): ImapFlow {
  return new ImapFlow({
    host: dovecot.host,
    port: dovecot.imapPort,
    secure: false,
    tls: { ca: caPem, servername: 'imap.legacy.test' },
    auth: { user, pass: password },
    logger: false,
  });
}

async function upstreamInbox(): Promise<Buffer[]> {
  const client = plainClient();
  await client.connect();
  try {
    const box = await client.mailboxOpen('INBOX');
    const out: Buffer[] = [];
    if (box.exists)
      for await (const m of client.fetch('1:*', { source: true })) out.push(m.source!);
    return out;
  } finally {
    await client.logout();
  }
}

it('replaces plaintext upstream copies with copies encrypted to the user, exactly once', async () => {
  const key = await makeKey(user);
  const sent = Array.from({ length: 5 }, (_, i) => makeMessage(i, 'old@friend.test', user, 700));
  const client = plainClient();
  await client.connect();
  for (const raw of sent) await client.append('INBOX', raw, ['\\Seen']);
  await client.logout();

  const credentials: UpstreamCredentials = {
    host: dovecot.host,
    port: dovecot.imapPort,
    secure: false,
    servername: 'imap.legacy.test',
    ca: caPem,
    user,
    password: () => password,
  };
  const local = await openTempStore();
  try {
    const engine = new SyncEngine({
      store: local.store,
      credentials,
      keys: testKeys({ address: user, privateKey: key.privateKey }),
      legacy: {},
    });
    await engine.syncOnce();

    const upstream = await upstreamInbox();
    expect(upstream).toHaveLength(5);
    for (const source of upstream) {
      expect(source.toString()).toContain('multipart/encrypted');
      expect(source.toString()).not.toContain('quick brown fox');
    }
    const decrypted = await Promise.all(upstream.map((s) => decryptWith(key.privateKey, s)));
    expect(decrypted.map((d) => messageId(d)).sort()).toEqual(sent.map((s) => messageId(s)).sort());

    const stored = await localMessages(local.store, 'INBOX');
    expect(stored).toHaveLength(5);
    expect(stored.every((m) => leapHeader(m.raw, 'X-Leap-Encryption') === 'none')).toBe(true);
    expect(stored.every((m) => m.flags.includes('\\Seen'))).toBe(true);

    // The next pass sees the encrypted copies as the ones it already has.
    const again = await engine.syncOnce();
    expect(again.stored).toBe(0);
    expect(again.folders.find((f) => f.mailbox === 'INBOX')).toMatchObject({
      done: 5,
      total: 5,
      synced: true,
    });
    expect(await localMessages(local.store, 'INBOX')).toHaveLength(5);
    expect(await upstreamInbox()).toHaveLength(5);
  } finally {
    local.store.close();
    local.cleanup();
  }
}, 60_000);
