/**
 * The attacker is anyone on the internet who can send the user mail. Every attack goes
 * through the real path: the reference provider's MX (which stores plain mail encrypted to
 * the user), the host's sync with a real key manager, into the local store that Thunderbird
 * reads. Each test asserts what the user would be shown or what the user's keys become.
 */
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encryptMessage, signMessage } from '../../native-host/src/crypto/index.js';
import { KeyManager, MemoryKeyStore } from '../../native-host/src/keys/index.js';
import { SyncEngine, keyManagerKeys } from '../../native-host/src/sync/index.js';
import { makeKey } from '../provider/helpers.js';
import {
  deliver,
  leapHeader,
  localMessages,
  messageId,
  openTempStore,
  providerWithAccount,
  type SyncAccount,
} from '../sync/helpers.js';
import { loggedIn, startFixture } from '../imap/helpers.js';

let account: SyncAccount;
let keys: KeyManager;
/** Bob is a real correspondent; his genuine key is published nowhere the test reaches. */
let bob: Awaited<ReturnType<typeof makeKey>>;
let attacker: Awaited<ReturnType<typeof makeKey>>;
const BOB = 'bob@outside.test';

beforeAll(async () => {
  account = await providerWithAccount('internet-sender.test');
  [bob, attacker] = await Promise.all([makeKey(BOB), makeKey('mallory@evil.test')]);
}, 60_000);
afterAll(async () => {
  await account?.provider.cleanup();
});

/** A key manager as the host has it: nothing to look up outside 127.0.0.1, no VKS. */
function keyManager(): KeyManager {
  return new KeyManager({
    store: new MemoryKeyStore(),
    address: account.address,
    resolver: () => ({ origin: 'https://127.0.0.1:1' }),
    vksUrl: null,
  });
}

/** Delivers through the MX and syncs; returns the stored copy of each message by Message-ID. */
async function receive(messages: Buffer[]): Promise<Map<string, Buffer>> {
  await deliver(
    account.provider,
    account.address,
    messages.map((raw) => ({ from: 'mallory@evil.test', raw })),
  );
  const local = await openTempStore();
  try {
    const own = account;
    keys = keys ?? keyManager();
    const syncKeys = keyManagerKeys(keys);
    // The user's own key pair, as the key manager would hold it after setup.
    syncKeys.decryptionKeys = async () => [own.privateKey];
    syncKeys.ownKey = async () => ({
      address: own.address,
      privateArmored: own.privateKey,
      publicArmored: own.publicKey,
    });
    await new SyncEngine({
      store: local.store,
      credentials: account.credentials,
      keys: syncKeys,
    }).syncOnce();
    const stored = await localMessages(local.store, 'INBOX');
    return new Map(stored.map((m) => [messageId(m.raw) ?? '', m.raw]));
  } finally {
    local.store.close();
    local.cleanup();
  }
}

function plain(id: string, from: string, extra: string, body: string): Buffer {
  return Buffer.from(
    `From: <${from}>\r\nTo: <${account.address}>\r\nSubject: ${id}\r\n` +
      `Message-ID: <${id}@evil.test>\r\n${extra}Content-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`,
  );
}

async function autocryptValue(address: string, armored: string): Promise<string> {
  const key = await openpgp.readKey({ armoredKey: armored });
  const data = Buffer.from(key.write()).toString('base64');
  return `addr=${address}; keydata=${data.replace(/(.{76})/g, '$1\r\n ')}`;
}

/** The header section of a stored message, split on any line ending a reader might honour. */
function headerLines(raw: Buffer): string[] {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return text.slice(0, end < 0 ? text.length : end).split(/\r\n|\r|\n/);
}

it('plants a key for a correspondent with an unsigned Autocrypt-Gossip header', async () => {
  const spam = plain(
    'gossip',
    'mallory@evil.test',
    `Autocrypt-Gossip: ${await autocryptValue(BOB, attacker.publicKey)}\r\n`,
    'Cheap watches.',
  );
  const stored = await receive([spam]);
  expect(stored.has('<gossip@evil.test>')).toBe(true);
  // The user's next mail to Bob must not be encrypted to Mallory's key.
  const forBob = await keys.lookup(BOB, { network: false });
  expect(forBob.ok && forBob.value).toBeNull();
}, 60_000);

it('forges From with its own key attached: the signature is never shown as valid', async () => {
  const forged = await signMessage(
    plain(
      'forged-from',
      BOB,
      `Autocrypt: ${await autocryptValue(BOB, attacker.publicKey)}\r\n`,
      'Please pay invoice 4711 to this new account.',
    ),
    { senderAddress: BOB, senderPrivateKey: attacker.privateKey },
  );
  if (!forged.ok) throw new Error(forged.error.message);
  const stored = (await receive([forged.value])).get('<forged-from@evil.test>')!;
  expect(leapHeader(stored, 'X-Leap-Signature')).toBe('unknown-key');
  expect(leapHeader(stored, 'X-Leap-Encryption')).toBe('stored');
}, 60_000);

it('sends plain mail with forged LeapBird status fields: shown as stored and unsigned', async () => {
  const spam = plain(
    'forged-status',
    'mallory@evil.test',
    'X-Leap-Encryption: end-to-end\r\nX-Leap-Signature: valid; pubkey="0000"; signer="bank@bank.test"\r\n',
    'Your bank account needs attention.',
  );
  const stored = (await receive([spam])).get('<forged-status@evil.test>')!;
  const leap = headerLines(stored).filter((l) => /^x-leap-/i.test(l));
  expect(leap).toEqual(['X-Leap-Encryption: stored', 'X-Leap-Signature: none']);
}, 60_000);

it('smuggles a status field behind a bare CR in a header', async () => {
  const spam = plain(
    'bare-cr',
    'mallory@evil.test',
    'X-Note: harmless\rX-Leap-Signature: valid; pubkey="0000"; signer="bank@bank.test"\r\n',
    'Hello.',
  );
  const stored = (await receive([spam])).get('<bare-cr@evil.test>')!;
  const leap = headerLines(stored).filter((l) => /^x-leap-/i.test(l));
  expect(leap).toEqual(['X-Leap-Encryption: stored', 'X-Leap-Signature: none']);
}, 60_000);

it("wraps someone else's ciphertext in its own text to get it decrypted and quoted back", async () => {
  // A message Bob once encrypted to the user, captured by the attacker.
  const secret = await openpgp.encrypt({
    message: await openpgp.createMessage({ text: 'The launch code is 0000-SECRET.' }),
    encryptionKeys: await openpgp.readKey({ armoredKey: account.publicKey }),
  });
  const oracle = plain(
    'oracle',
    'mallory@evil.test',
    '',
    `Hi, could you reply with this quoted?\r\n\r\n${String(secret).replace(/\r?\n/g, '\r\n')}`,
  );
  const stored = (await receive([oracle])).get('<oracle@evil.test>')!;
  expect(leapHeader(stored, 'X-Leap-Encryption')).toBe(
    'failed; reason="only part of it is encrypted"',
  );
  expect(stored.toString('latin1')).not.toContain('0000-SECRET');
}, 60_000);

it('sends a decompression bomb: kept as too large, and the sync goes on', async () => {
  const bomb = await openpgp.encrypt({
    message: await openpgp.createMessage({ binary: new Uint8Array(80 * 1024 * 1024) }),
    encryptionKeys: await openpgp.readKey({ armoredKey: account.publicKey }),
    config: { preferredCompressionAlgorithm: openpgp.enums.compression.zlib },
  });
  const raw = Buffer.from(
    `From: <mallory@evil.test>\r\nTo: <${account.address}>\r\nSubject: bomb\r\n` +
      `Message-ID: <bomb@evil.test>\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"\r\n\r\n` +
      `--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n` +
      `--b\r\nContent-Type: application/octet-stream\r\n\r\n${String(bomb).replace(/\r?\n/g, '\r\n')}\r\n--b--\r\n`,
  );
  const after = plain('after-bomb', 'mallory@evil.test', '', 'still syncing');
  const stored = await receive([raw, after]);
  expect(leapHeader(stored.get('<bomb@evil.test>')!, 'X-Leap-Encryption')).toBe(
    'failed; reason="too large when decompressed"',
  );
  expect(stored.has('<after-bomb@evil.test>')).toBe(true);
}, 120_000);

it('signs mail without encrypting it: its header section is kept byte for byte', async () => {
  const original = await signMessage(
    plain(
      'signed-only',
      BOB,
      `Autocrypt: ${await autocryptValue(BOB, bob.publicKey)}\r\n`,
      'Signed, not sealed.',
    ),
    { senderAddress: BOB, senderPrivateKey: bob.privateKey },
  );
  if (!original.ok) throw new Error(original.error.message);
  const stored = (await receive([original.value])).get('<signed-only@evil.test>')!;
  // After our status fields and the delivery's trace fields comes the message as Bob sent it.
  expect(stored.subarray(stored.length - original.value.length).equals(original.value)).toBe(true);
  expect(stored.toString('latin1')).not.toContain('encrypted@');
}, 60_000);

it('gossips a key inside an end-to-end message it did not sign with a known key', async () => {
  const carol = 'carol@outside.test';
  const sealed = await encryptMessage(
    plain(
      'sealed-gossip',
      'mallory@evil.test',
      `Cc: <${carol}>\r\nAutocrypt-Gossip: ${await autocryptValue(carol, attacker.publicKey)}\r\n`,
      'Sealed, and signed by a stranger.',
    ),
    {
      recipientKeys: [account.publicKey],
      senderAddress: 'mallory@evil.test',
      senderPrivateKey: attacker.privateKey,
    },
  );
  if (!sealed.ok) throw new Error(sealed.error.message);
  const stored = (await receive([sealed.value])).get('<sealed-gossip@evil.test>')!;
  expect(leapHeader(stored, 'X-Leap-Encryption')).toBe('end-to-end');
  const forCarol = await keys.lookup(carol, { network: false });
  expect(forCarol.ok && forCarol.value).toBeNull();
}, 60_000);

it('has its forged message carried in from another account: APPEND and COPY drop the status fields', async () => {
  // The user drags Mallory's message from another account into LeapBird; Thunderbird APPENDs
  // it to the real local IMAP server, which keeps it in the real encrypted store.
  const imap = await startFixture({}, 'store');
  try {
    const forged = plain(
      'carried-in',
      'bank@bank.test',
      'X-Leap-Encryption: end-to-end\r\nX-Leap-Signature: valid; pubkey="0000"; signer="bank@bank.test"\r\n' +
        'Subject-Extra: x\rX-Leap-Signature: valid\r\n',
      'Your bank account needs attention.',
    );
    const client = await loggedIn(imap.server.port);
    client.write(`A APPEND INBOX {${forged.length}}\r\n`);
    expect(await client.readLine()).toMatch(/^\+/);
    client.write(Buffer.concat([forged, Buffer.from('\r\n')]));
    expect(await client.response('A')).toMatch(/A OK/);
    expect(await client.command('S', 'SELECT INBOX')).toMatch(/S OK/);
    expect(await client.command('C', 'COPY 1 Trash')).toMatch(/C OK/);
    expect(await client.command('T', 'SELECT Trash')).toMatch(/T OK/);
    for (const mailbox of ['INBOX', 'Trash']) {
      expect(await client.command('M', `SELECT ${mailbox}`)).toMatch(/M OK/);
      const fetched = await client.command('F', 'FETCH 1 BODY.PEEK[HEADER]');
      expect(fetched).toContain('Subject: carried-in');
      expect(fetched.split(/\r\n|\r|\n/).filter((l) => /^x-leap-/i.test(l))).toEqual([]);
    }
    client.close();
  } finally {
    await imap.close();
  }
}, 60_000);
