/**
 * The running engine: IDLE on INBOX brings new mail into the local store without a manual
 * pass, a local change goes upstream without waiting for the poll, and after the provider
 * was away the engine reports it, reconnects by itself and carries on.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startProvider } from '../../provider/src/index.js';
import { SyncEngine } from '../../native-host/src/sync/index.js';
import {
  deliver,
  localMessages,
  makeMessage,
  messageId,
  openTempStore,
  providerWithAccount,
  testKeys,
  type SyncAccount,
} from './helpers.js';

let account: SyncAccount;
let restarted: Awaited<ReturnType<typeof startProvider>> | null = null;
beforeAll(async () => {
  account = await providerWithAccount('live.test');
}, 60_000);
afterAll(async () => {
  await restarted?.stop();
  await account?.provider.cleanup();
});

async function until<T>(what: string, probe: () => Promise<T | null>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('brings new mail in through IDLE and sends local flag changes up at once', async () => {
  const local = await openTempStore();
  const engine = new SyncEngine({
    store: local.store,
    credentials: account.credentials,
    keys: testKeys(account),
    // Long enough that only IDLE and the local change feed can explain what happens.
    pollIntervalMs: 10 * 60_000,
  });
  engine.start();
  try {
    const raw = makeMessage(1, 'live@outside.test', account.address, 300);
    // The first pass creates the local mailboxes; then the engine idles.
    await until('the first pass', async () =>
      (await local.store.getMailbox('Trash')) ? true : null,
    );
    await deliver(account.provider, account.address, [{ from: 'live@outside.test', raw }]);
    const arrived = await until('the new message', async () => {
      const list = await localMessages(local.store, 'INBOX');
      return list.find((m) => messageId(m.raw) === messageId(raw)) ?? null;
    });

    const inbox = (await local.store.getMailbox('INBOX'))!;
    await local.store.storeFlags(inbox.id, [{ start: arrived.uid, end: arrived.uid }], {
      operation: 'add',
      flags: ['\\Flagged'],
    });
    const c = account.credentials as { accessToken: () => Promise<string> };
    const other = new ImapFlow({
      host: account.provider.host,
      port: account.provider.ports.imap,
      secure: true,
      tls: { ca: account.provider.caCertPem, servername: account.provider.domain },
      auth: { user: account.address, accessToken: await c.accessToken() },
      logger: false,
    });
    await other.connect();
    try {
      await until('the flag upstream', async () => {
        await other.mailboxOpen('INBOX');
        const msg = await other.fetchOne('*', { flags: true });
        return msg && msg.flags?.has('\\Flagged') ? true : null;
      });
    } finally {
      await other.logout();
    }
    expect(local.store.queue.pending()).toHaveLength(0);
    expect(engine.error).toBeNull();
  } finally {
    await engine.stop();
    local.store.close();
    local.cleanup();
  }
}, 60_000);

it('reports the provider as unreachable while it is away, then reconnects and syncs', async () => {
  const local = await openTempStore();
  const engine = new SyncEngine({
    store: local.store,
    credentials: account.credentials,
    keys: testKeys(account),
    pollIntervalMs: 10 * 60_000,
  });
  engine.start();
  try {
    await until('the first pass', async () =>
      (await local.store.getMailbox('Trash')) ? true : null,
    );
    await account.provider.stop();
    await until('the error', async () => engine.error?.code ?? null);
    expect(engine.error!.code).toBe('upstream_unreachable');

    const { ports } = account.provider;
    restarted = await startProvider({
      domain: account.provider.domain,
      dataDir: account.provider.dataDir,
      host: account.provider.host,
      ports: { api: ports.api, mx: ports.mx, submission: ports.submission, imap: ports.imap },
    });
    const raw = makeMessage(2, 'back@outside.test', account.address, 300);
    await deliver({ ...account.provider, ports: restarted.ports }, account.address, [
      { from: 'back@outside.test', raw },
    ]);
    await until(
      'the message sent while reconnecting',
      async () => {
        const list = await localMessages(local.store, 'INBOX');
        return list.find((m) => messageId(m.raw) === messageId(raw)) ?? null;
      },
      40_000,
    );
    await until('the error to clear', async () => (engine.error === null ? true : null));
  } finally {
    await engine.stop();
    local.store.close();
    local.cleanup();
  }
}, 90_000);
