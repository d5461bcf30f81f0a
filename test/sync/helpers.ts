/**
 * Test helpers for the sync engine: a reference provider with one account whose public key
 * is uploaded (so its MX encrypts on receipt), a local encrypted store, the upstream
 * credentials as the host would build them, and mail delivered through the MX.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { readPrivateKey } from 'openpgp';
import type { HarvestedKey } from '../../native-host/src/crypto/index.js';
import {
  generateStorageSecret,
  openAccountStore,
  type AccountStore,
} from '../../native-host/src/store/index.js';
import { type SyncKeys, type UpstreamCredentials } from '../../native-host/src/sync/index.js';
import { rewriteHeader } from '../../native-host/src/mime/index.js';
import {
  logIn,
  makeKey,
  newAccount,
  startTestProvider,
  uploadKey,
  type TestProvider,
} from '../provider/helpers.js';

export interface SyncAccount {
  provider: TestProvider;
  address: string;
  password: string;
  privateKey: string;
  publicKey: string;
  credentials: UpstreamCredentials;
}

export async function providerWithAccount(
  domain: string,
  host = '127.0.0.1',
  options: Parameters<typeof startTestProvider>[2] = {},
): Promise<SyncAccount> {
  const provider = await startTestProvider(domain, host, options);
  const login = 'ada';
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const account = await newAccount(provider, login, password);
  const key = await makeKey(account.address);
  const uploaded = await uploadKey(provider, account, key.publicKey);
  if (uploaded.status !== 200) throw new Error(`key upload failed: ${uploaded.status}`);
  return {
    provider,
    address: account.address,
    password,
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    credentials: tokenCredentials(provider, account.address, login, password, account.token),
  };
}

/** Like the provider session: the first token, then a fresh login whenever asked again. */
export function tokenCredentials(
  provider: TestProvider,
  address: string,
  login: string,
  password: string,
  first: string,
): UpstreamCredentials {
  let token: string | null = first;
  return {
    host: provider.host,
    port: provider.ports.imap,
    secure: true,
    servername: provider.domain,
    ca: provider.caCertPem,
    user: address,
    accessToken: async () => {
      if (token) {
        const t = token;
        token = null;
        return t;
      }
      const session = await logIn(provider, login, password);
      if (!session.token) throw new Error(`login failed: ${session.status}`);
      return session.token;
    },
  };
}

/** Keys as the key manager would give them: the user's own, and known senders by address. */
export function testKeys(
  account: Pick<SyncAccount, 'address' | 'privateKey'> & { publicKey?: string },
  senders: Record<string, string> = {},
  extraPrivate: string[] = [],
): SyncKeys & { privateKeys: string[]; learned: HarvestedKey[] } {
  const keys = {
    privateKeys: [account.privateKey, ...extraPrivate],
    learned: [] as HarvestedKey[],
    decryptionKeys: async () => keys.privateKeys,
    senderKeys: async (sender: string | null) =>
      sender && senders[sender.toLowerCase()] ? [senders[sender.toLowerCase()]!] : [],
    learn: async (harvested: HarvestedKey[]) => keys.learned.push(...harvested),
    ownKey: async () => ({
      address: account.address,
      privateArmored: keys.privateKeys[0]!,
      publicArmored:
        account.publicKey ??
        (await readPrivateKey({ armoredKey: keys.privateKeys[0]! })).toPublic().armor(),
    }),
  };
  return keys;
}

export async function openTempStore(): Promise<{
  store: AccountStore;
  dir: string;
  secret: Uint8Array;
  reopen: () => Promise<AccountStore>;
  cleanup: () => void;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'sync-store-'));
  const secret = generateStorageSecret();
  const store = await openAccountStore({ dir, storageSecret: secret });
  return {
    store,
    dir,
    secret,
    reopen: () => openAccountStore({ dir, storageSecret: secret }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A realistic message: text of varied length, sometimes an attachment, CRLF endings. */
export function makeMessage(i: number, from: string, to: string, bodyBytes?: number): Buffer {
  const size = bodyBytes ?? 1000 + ((i * 7919) % 20_000);
  const text = Array.from({ length: Math.ceil(size / 60) }, (_, n) =>
    `Line ${n} of message ${i}: the quick brown fox jumps over the lazy dog.`.slice(0, 58),
  ).join('\r\n');
  return Buffer.from(
    [
      `From: Sender ${i} <${from}>`,
      `To: <${to}>`,
      `Subject: Message number ${i}`,
      `Date: ${new Date(Date.UTC(2026, 0, 1) + i * 60_000).toUTCString()}`,
      `Message-ID: <msg-${i}-${randomBytes(4).toString('hex')}@outside.test>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      text,
      '',
    ].join('\r\n'),
  );
}

/** Delivers messages to the provider's MX over a few pooled SMTP connections. */
export async function deliver(
  provider: TestProvider,
  to: string,
  messages: { from: string; raw: Buffer }[],
): Promise<void> {
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: 4,
    maxMessages: Infinity,
    host: provider.host,
    port: provider.ports.mx,
    secure: false,
    tls: { ca: provider.caCertPem, servername: provider.domain },
    connectionTimeout: 10_000,
  });
  try {
    let next = 0;
    const worker = async () => {
      while (next < messages.length) {
        const m = messages[next++]!;
        await transport.sendMail({ envelope: { from: m.from, to: [to] }, raw: m.raw });
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
  } finally {
    transport.close();
  }
}

/** Every message of a local mailbox: UID, flags and bytes (our X-Leap headers kept). */
export async function localMessages(
  store: AccountStore,
  name: string,
): Promise<{ uid: number; flags: string[]; raw: Buffer }[]> {
  const box = await store.getMailbox(name);
  if (!box) return [];
  const out: { uid: number; flags: string[]; raw: Buffer }[] = [];
  for await (const meta of store.fetch(box.id, [{ start: 1, end: Infinity }])) {
    const chunks: Buffer[] = [];
    for await (const c of await store.readMessage(box.id, meta.uid)) chunks.push(Buffer.from(c));
    out.push({ uid: meta.uid, flags: meta.flags, raw: Buffer.concat(chunks) });
  }
  return out;
}

export function leapHeader(raw: Buffer, name: string): string | null {
  const head = raw.subarray(0, Math.max(0, raw.indexOf('\r\n\r\n'))).toString('latin1');
  const match = new RegExp(`^${name}: (.*)$`, 'im').exec(head);
  return match ? match[1]!.trim() : null;
}

/** The message as it was before the sync added its headers. */
export function withoutLeapHeaders(raw: Buffer): Buffer {
  return rewriteHeader(raw, { drop: (key) => key.startsWith('x-leap-') });
}

export function messageId(raw: Buffer): string | null {
  return leapHeader(raw, 'Message-ID');
}
