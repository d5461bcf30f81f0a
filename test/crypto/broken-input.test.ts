/**
 * Whatever arrives, opening a message or reading a key ends in a value: an opened message or
 * an error with a known code and a message for a person. Damaged copies of real encrypted
 * and signed messages (bytes flipped, cut, repeated) are the inputs most likely to reach
 * unusual paths inside OpenPGP.js and the MIME parser.
 */
import fc from 'fast-check';
import { readKey } from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  encryptMessage,
  generateOwnKey,
  inspectKey,
  openMessage,
  signMessage,
  type CryptoErrorCode,
  type OwnKey,
} from '../../native-host/src/crypto/index.js';
import { multipartMessage } from './fixtures.js';

const CODES: CryptoErrorCode[] = [
  'invalid_key',
  'no_usable_key',
  'malformed_message',
  'malformed_armor',
  'wrong_key',
  'decryption_failed',
  'encryption_failed',
  'signing_failed',
  'too_deep',
  'too_large',
  'partly_encrypted',
];

let alice: OwnKey;
let samples: Buffer[];

beforeAll(async () => {
  alice = await generateOwnKey({ address: 'alice@alpha.test' });
  const options = { senderAddress: 'alice@alpha.test', senderPrivateKey: alice.privateArmored };
  const encrypted = await encryptMessage(multipartMessage(), { ...options, recipientKeys: [] });
  const signed = await signMessage(multipartMessage(), options);
  if (!encrypted.ok || !signed.ok) throw new Error('could not build the samples');
  samples = [encrypted.value, signed.value];
});

interface Damage {
  kind: 'flip' | 'cut' | 'repeat';
  at: number;
  byte?: number;
  length?: number;
}

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('repeat' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 400 }),
  }),
);

function apply(input: Buffer, changes: Damage[]): Buffer {
  let out = Buffer.from(input);
  for (const change of changes) {
    const at = change.at % Math.max(1, out.length);
    if (change.kind === 'flip') out[at] = change.byte ?? 0;
    else if (change.kind === 'cut') out = out.subarray(0, at);
    else
      out = Buffer.concat([
        out.subarray(0, at),
        out.subarray(at, at + (change.length ?? 1)),
        out.subarray(at),
      ]);
  }
  return out;
}

describe('damaged input', () => {
  it('opening a damaged message always ends in a result or a coded error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(1),
        fc.array(damage, { minLength: 1, maxLength: 4 }),
        async (which, changes) => {
          const input = apply(samples[which]!, changes);
          const opened = await openMessage(input, {
            decryptionKeys: [alice.privateArmored],
            senderKeys: () => [alice.publicArmored],
          });
          if (!opened.ok) {
            expect(CODES).toContain(opened.error.code);
            expect(opened.error.message.length).toBeGreaterThan(10);
          }
        },
      ),
      { numRuns: 120 },
    );
  });

  it('reading a damaged or random key always ends in key information or a coded error', async () => {
    const binaryKey = Buffer.from((await readKey({ armoredKey: alice.publicArmored })).write());
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 500 }).map((b) => Buffer.from(b)),
          fc
            .array(damage, { minLength: 1, maxLength: 3 })
            .map((changes) => apply(binaryKey, changes)),
        ),
        async (input) => {
          const read = await inspectKey(new Uint8Array(input));
          if (!read.ok) expect(read.error.code).toBe('invalid_key');
        },
      ),
      { numRuns: 120 },
    );
  });
});
