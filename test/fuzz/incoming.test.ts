/**
 * The incoming path under damaged OpenPGP: real messages for a test key (PGP/MIME encrypted
 * and signed, inline armored, compressed, a binary message where armor belongs, the
 * provider's storage layer around plain and around encrypted mail, signed only), with bytes
 * flipped, cut or repeated and their armor broken, go through the sync's pipeline
 * (sync/incoming.ts, crypto/) and into the real store. Whatever the damage: no throw; a
 * message that cannot be opened is kept byte for byte (after the `X-Leap-*` fields, which
 * only the pipeline writes) and says `failed; reason="<words>"`; one that opens shows what
 * was sent and nothing else; the store keeps exactly what the pipeline gave it.
 */
import fc from 'fast-check';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encryptMessage,
  generateOwnKey,
  sealForStorage,
  signMessage,
  type OwnKey,
} from '../../native-host/src/crypto/index.js';
import { rewriteHeader, splitMessage } from '../../native-host/src/mime/index.js';
import type { AccountStore } from '../../native-host/src/store/index.js';
import { processIncoming, type SyncKeys } from '../../native-host/src/sync/index.js';
import { plainMessage } from '../crypto/fixtures.js';
import { openTempStore } from '../sync/helpers.js';
import { fuzzRuns, fuzzTimeout, heapGrowth, MiB } from './runs.js';

const ALICE = 'alice@alpha.test';
const BOB = 'bob@beta.test';

let alice: OwnKey;
let bob: OwnKey;
let keys: SyncKeys;
let temp: Awaited<ReturnType<typeof openTempStore>>;
let store: AccountStore;
let inbox: string;

/** A real message, and the bodies it may show once opened (its own, if it is plain). */
interface Sample {
  name: string;
  raw: Buffer;
  /** What the pipeline makes of it undamaged: the stored bytes it may yield. */
  clean: Buffer;
  /** Messages inside its storage layer (kept as they are when what is inside fails). */
  inner: Buffer[];
}
let samples: Sample[];

const withoutLeap = (raw: Buffer) =>
  rewriteHeader(raw, { drop: (key) => key.startsWith('x-leap-') });
const bodyOf = (raw: Buffer) => splitMessage(raw).body;

function fromBob(body: string, extra: string[] = []): Buffer {
  return Buffer.from(
    [
      `From: Bob <${BOB}>`,
      `To: <${ALICE}>`,
      'Subject: numbers',
      'Message-ID: <n-1@beta.test>',
      ...extra,
      '',
      body,
    ].join('\r\n'),
  );
}

async function armored(text: string, compress: boolean): Promise<string> {
  return openpgp.encrypt({
    message: await openpgp.createMessage({ text }),
    encryptionKeys: await openpgp.readKey({ armoredKey: alice.publicArmored }),
    signingKeys: await openpgp.readPrivateKey({ armoredKey: bob.privateArmored }),
    config: compress
      ? { preferredCompressionAlgorithm: openpgp.enums.compression.zlib }
      : undefined,
  });
}

beforeAll(async () => {
  [alice, bob] = await Promise.all([
    generateOwnKey({ address: ALICE }),
    generateOwnKey({ address: BOB }),
  ]);
  keys = {
    decryptionKeys: async () => [alice.privateArmored],
    senderKeys: async (sender) => (sender === BOB ? [bob.publicArmored] : []),
    learn: async () => undefined,
    ownKey: async () => ({
      address: ALICE,
      privateArmored: alice.privateArmored,
      publicArmored: alice.publicArmored,
    }),
  };
  const bobSends = { senderAddress: BOB, senderPrivateKey: bob.privateArmored };
  const plain = Buffer.from(plainMessage({ subject: 'plain' }));
  const pgpMime = await encryptMessage(plain, {
    ...bobSends,
    recipientKeys: [alice.publicArmored],
  });
  const signed = await signMessage(plain, bobSends);
  if (!pgpMime.ok || !signed.ok) throw new Error('could not build the samples');
  const binary = await openpgp.encrypt({
    message: await openpgp.createMessage({ text: 'binary where armor belongs' }),
    encryptionKeys: await openpgp.readKey({ armoredKey: alice.publicArmored }),
    format: 'binary',
  });
  const seal = async (m: Buffer) => {
    const sealed = await sealForStorage(m, { address: ALICE, publicArmored: alice.publicArmored });
    if (!sealed.ok) throw new Error(sealed.error.message);
    return sealed.value;
  };
  const raws: [string, Buffer, Buffer[]][] = [
    ['PGP/MIME, signed', pgpMime.value, []],
    ['inline', fromBob(await armored('inline secret 42', false)), []],
    ['inline, compressed', fromBob(await armored('compressed secret 17\n'.repeat(50), true)), []],
    [
      'binary in multipart/encrypted',
      fromBob(
        [
          '--e',
          'Content-Type: application/pgp-encrypted',
          '',
          'Version: 1',
          '--e',
          'Content-Type: application/octet-stream',
          'Content-Transfer-Encoding: base64',
          '',
          Buffer.from(binary).toString('base64'),
          '--e--',
          '',
        ].join('\r\n'),
        ['Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="e"'],
      ),
      [],
    ],
    ['storage layer around plain mail', await seal(plain), [plain]],
    ['storage layer around PGP/MIME', await seal(pgpMime.value), [pgpMime.value]],
    ['signed only', signed.value, []],
  ];
  samples = [];
  for (const [name, raw, inner] of raws) {
    const r = await processIncoming(raw, keys, [alice.privateArmored]);
    samples.push({ name, raw, clean: r.message, inner });
  }
  temp = await openTempStore();
  store = temp.store;
  inbox = (await store.getMailbox('INBOX'))!.id;
}, 120_000);

afterAll(() => {
  store?.close();
  temp?.cleanup();
});

interface Damage {
  kind: 'flip' | 'cut' | 'repeat' | 'armor';
  at: number;
  byte: number;
  length: number;
}

/** Ways to break armor and MIME by name rather than by position. */
const ARMOR_BREAKS: [RegExp, string][] = [
  [/-----BEGIN PGP MESSAGE-----/, '-----BEGIN PGP SIGNATURE-----'],
  [/-----END PGP MESSAGE-----/, ''],
  [/\r?\n=[A-Za-z0-9+/]{4}\r?\n/, '\r\n=AAAA\r\n'],
  [/-----BEGIN PGP MESSAGE-----\r?\n\r?\n/, '-----BEGIN PGP MESSAGE-----\r\n'],
  [/multipart\/encrypted/, 'multipart/mixed'],
  [/application\/octet-stream/, 'text/plain'],
  [/boundary="?[^"\r\n;]+"?/, 'boundary="elsewhere"'],
  [/X-Leap-Stored: [^\r\n]*/, 'X-Leap-Stored: provider; forged'],
  [/\r\n\r\n/, '\r\n'],
  [/Content-Transfer-Encoding: base64/, 'Content-Transfer-Encoding: quoted-printable'],
];

const damage: fc.Arbitrary<Damage> = fc.record({
  kind: fc.constantFrom('flip', 'flip', 'cut', 'repeat', 'armor'),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  length: fc.integer({ min: 1, max: 400 }),
});

function apply(input: Buffer, changes: Damage[]): Buffer {
  let out = Buffer.from(input);
  for (const change of changes) {
    const at = change.at % Math.max(1, out.length);
    if (change.kind === 'flip') out[at] = change.byte;
    else if (change.kind === 'cut') out = out.subarray(0, at);
    else if (change.kind === 'repeat')
      out = Buffer.concat([
        out.subarray(0, at),
        out.subarray(at, at + change.length),
        out.subarray(at),
      ]);
    else {
      const [pattern, replacement] = ARMOR_BREAKS[change.at % ARMOR_BREAKS.length]!;
      out = Buffer.from(out.toString('latin1').replace(pattern, replacement), 'latin1');
    }
  }
  return out;
}

let uid = 1;

describe('incoming decryption under damaged OpenPGP', () => {
  it(
    'keeps what it cannot open byte for byte, marked failed in words, and shows only what was sent',
    async () => {
      const outcomes = new Map<string, number>();
      const growth = await heapGrowth('incoming pipeline and store', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.nat(samples.length - 1),
            fc.array(damage, { minLength: 1, maxLength: 3 }),
            async (which, changes) => {
              const sample = samples[which]!;
              const input = apply(sample.raw, changes);
              const r = await processIncoming(input, keys, [alice.privateArmored]);
              const [encryption, signature] = r.statusFields;
              expect(encryption).toMatch(
                /^X-Leap-Encryption: (end-to-end|stored|none|failed; reason="[a-z ]+")$/,
              );
              expect(signature).toMatch(
                /^X-Leap-Signature: (valid; pubkey="[0-9A-F]{40}"; signer="[^"]+"|invalid|unknown-key|none)$/,
              );
              expect(r.message.equals(withoutLeap(r.message))).toBe(true);
              const kept = [input, ...sample.inner].map(withoutLeap);
              if (r.encryption === 'failed') {
                expect(r.failure!.message.length).toBeGreaterThan(10);
                // Nothing lost: the message as it came (or as the sender sent it, when only
                // the provider's layer could be taken off).
                expect(kept.some((k) => k.equals(r.message))).toBe(true);
              } else if (r.encryption === 'none') {
                expect(r.message.equals(kept[0]!)).toBe(true);
              } else {
                // Opened: what the sender wrote, never something the damage made up.
                expect(bodyOf(r.message).equals(bodyOf(sample.clean))).toBe(true);
              }
              if (r.retry) expect(r.encryption).toBe('failed');
              outcomes.set(r.encryption, (outcomes.get(r.encryption) ?? 0) + 1);

              // The store keeps exactly the status fields and the message.
              const stored = await store.appendFromUpstream(inbox, {
                content: r.message,
                statusFields: r.statusFields,
                upstream: { mailbox: 'INBOX', uidValidity: 1, uid: uid++ },
              });
              const chunks: Buffer[] = [];
              for await (const c of await store.readMessage(inbox, stored.uid))
                chunks.push(Buffer.from(c));
              const expected = Buffer.concat([
                Buffer.from(r.statusFields.map((f) => f + '\r\n').join(''), 'latin1'),
                r.message,
              ]);
              expect(Buffer.concat(chunks).equals(expected)).toBe(true);
            },
          ),
          { numRuns: fuzzRuns(120) },
        );
      });
      console.log(`[fuzz] incoming outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
      // Inputs are a few KiB each; what stays is OpenPGP.js's caches and the store's handles.
      expect(growth).toBeLessThan(64 * MiB);
    },
    fuzzTimeout(120_000),
  );
});
