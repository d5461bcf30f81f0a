/**
 * Malformed MIME and broken OpenPGP never stop the sync: each message is stored and
 * readable in some form (as it came when nothing could open it), the folder is declared
 * synced, and a message encrypted to a key the user did not have yet opens once that key
 * arrives, without a duplicate.
 */
import { randomBytes } from 'node:crypto';
import { ImapFlow } from 'imapflow';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SyncEngine } from '../../native-host/src/sync/index.js';
import { makeKey } from '../provider/helpers.js';
import {
  leapHeader,
  localMessages,
  openTempStore,
  providerWithAccount,
  testKeys,
  type SyncAccount,
} from './helpers.js';

let account: SyncAccount;
beforeAll(async () => {
  account = await providerWithAccount('corpus.test');
}, 60_000);
afterAll(async () => {
  await account?.provider.cleanup();
});

async function armoredTo(publicKey: string, text: string): Promise<string> {
  return (await openpgp.encrypt({
    message: await openpgp.createMessage({ text }),
    encryptionKeys: await openpgp.readKey({ armoredKey: publicKey }),
  })) as string;
}

function pgpMime(id: string, armored: string): Buffer {
  return Buffer.from(
    `From: <x@outside.test>\r\nSubject: ${id}\r\nMessage-ID: <${id}@corpus>\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b1"\r\n\r\n` +
      `--b1\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n` +
      `--b1\r\nContent-Type: application/octet-stream\r\n\r\n${armored.replace(/\r?\n/g, '\r\n')}\r\n--b1--\r\n`,
  );
}

function plain(id: string, headers: string, body: Buffer | string): Buffer {
  return Buffer.concat([
    Buffer.from(`From: <x@outside.test>\r\nMessage-ID: <${id}@corpus>\r\n${headers}\r\n`, 'latin1'),
    typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
  ]);
}

it('stores every broken message readably, keeps syncing, and opens a late-keyed one when its key arrives', async () => {
  const stranger = await makeKey('someone-else@corpus.test');
  const later = await makeKey(account.address);
  const good = await armoredTo(account.publicKey, 'fine and readable');
  const nested =
    Array.from(
      { length: 80 },
      (_, i) => `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}\r\n`,
    ).join('') + 'Content-Type: text/plain\r\n\r\ndeep inside\r\n';
  const corpus: Record<string, Buffer> = {
    'truncated-armour': pgpMime('truncated-armour', good.slice(0, Math.floor(good.length / 2))),
    'garbage-armour': pgpMime(
      'garbage-armour',
      `-----BEGIN PGP MESSAGE-----\n\n${randomBytes(300).toString('base64')}!!\n-----END PGP MESSAGE-----\n`,
    ),
    'wrong-key': pgpMime('wrong-key', await armoredTo(stranger.publicKey, 'not for ada')),
    'later-key': pgpMime(
      'later-key',
      await armoredTo(
        later.publicKey,
        'Content-Type: text/plain\r\n\r\nopens with the new key\r\n',
      ),
    ),
    'one-part-encrypted': plain(
      'one-part-encrypted',
      'Content-Type: multipart/encrypted; boundary="q"\r\n',
      '--q\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--q--\r\n',
    ),
    'inline-truncated': plain(
      'inline-truncated',
      'Content-Type: text/plain\r\n',
      `Hello\r\n${good.slice(0, 120).replace(/\r?\n/g, '\r\n')}\r\n`,
    ),
    'bad-charset': plain(
      'bad-charset',
      'Subject: =?x-no-such-charset?B?w6nDqMOg?=\r\nContent-Type: text/plain; charset="x-no-such-charset"\r\nContent-Transfer-Encoding: 8bit\r\n',
      Buffer.from([0x48, 0xe9, 0xff, 0xfe, 0x80, 0x0d, 0x0a]),
    ),
    'nested-multiparts': plain('nested-multiparts', 'MIME-Version: 1.0\r\n', nested),
    '8bit-headers': Buffer.concat([
      Buffer.from(
        'From: J\xfcrgen M\xfcller <jm@outside.test>\r\nSubject: Gr\xfc\xdfe \xe2\x98\x83\r\n',
        'latin1',
      ),
      Buffer.from('Message-ID: <8bit-headers@corpus>\r\nContent-Type: text/plain\r\n\r\nbody\r\n'),
    ]),
    'no-body-separator': Buffer.from(
      'From: <x@outside.test>\r\nMessage-ID: <no-body-separator@corpus>\r\nSubject: only headers\r\n',
    ),
    'missing-boundary': plain(
      'missing-boundary',
      'Content-Type: multipart/mixed\r\n',
      '--\r\nContent-Type: text/plain\r\n\r\nlost\r\n',
    ),
    'signed-garbage': plain(
      'signed-garbage',
      'Content-Type: multipart/signed; protocol="application/pgp-signature"; micalg=pgp-sha512; boundary="s"\r\n',
      '--s\r\nContent-Type: text/plain\r\n\r\nsigned?\r\n--s\r\nContent-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n--s--\r\n',
    ),
  };
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
  for (const raw of Object.values(corpus)) await other.append('INBOX', raw);
  await other.logout();

  const local = await openTempStore();
  try {
    const keys = testKeys(account);
    const engine = new SyncEngine({ store: local.store, credentials: account.credentials, keys });
    const report = await engine.syncOnce();
    const names = Object.keys(corpus);
    expect(report.folders.find((f) => f.mailbox === 'INBOX')).toMatchObject({
      done: names.length,
      total: names.length,
      synced: true,
    });
    const stored = await localMessages(local.store, 'INBOX');
    expect(stored).toHaveLength(names.length);
    const find = (name: string) => stored.find((m) => m.raw.includes(`<${name}@corpus>`));
    // Every one is there and readable: what came is kept after our two headers.
    for (const name of names) {
      const m = find(name);
      expect(m, name).toBeDefined();
      expect(m!.raw.includes(corpus[name]!.subarray(-40)), name).toBe(true);
    }
    expect(leapHeader(find('wrong-key')!.raw, 'X-Leap-Encryption')).toMatch(/^failed; reason="/);
    expect(leapHeader(find('later-key')!.raw, 'X-Leap-Encryption')).toMatch(/^failed; reason="/);
    expect(leapHeader(find('truncated-armour')!.raw, 'X-Leap-Encryption')).toMatch(/^failed/);
    expect(report.undecrypted).toBeGreaterThanOrEqual(2);

    // The older key turns up (restored from another device): the message opens on the next
    // pass, in place of the undecrypted copy, and the other failures stay as they were.
    keys.privateKeys.push(later.privateKey);
    const second = await engine.syncOnce();
    const after = await localMessages(local.store, 'INBOX');
    expect(after).toHaveLength(names.length);
    const opened = after.filter((m) => m.raw.includes('<later-key@corpus>'));
    expect(opened).toHaveLength(1);
    expect(leapHeader(opened[0]!.raw, 'X-Leap-Encryption')).toBe('end-to-end');
    expect(opened[0]!.raw.toString()).toContain('opens with the new key');
    expect(second.undecrypted).toBe(report.undecrypted - 1);
    expect(second.folders.find((f) => f.mailbox === 'INBOX')!.synced).toBe(true);
  } finally {
    local.store.close();
    local.cleanup();
  }
}, 90_000);
