/**
 * What one password guess costs someone who holds the provider's database, against each
 * thing there the password protects: the SRP verifier as the SRP library derives it (the fast
 * hash accounts had before the move to scrypt), the verifier as LeapBird derives it now (scrypt, new and
 * moved accounts), and the recovery record (scrypt, then AES-GCM). Anchor: the recovery
 * record, so a ratio of 1 or more means the verifier is no cheaper a target.
 *   npx tsx bench/srp-guess.ts [scrypt guesses]
 */
import srp from 'secure-remote-password/client.js';
import { keyForOffer, newLoginKey, upgradedLoginKey } from '../native-host/src/provider/srp-key.js';
import {
  createRecoveryRecord,
  generateStorageSecret,
  openRecoveryRecord,
} from '../native-host/src/store/index.js';
import { median } from './lib/stats.js';

const slowRuns = Number(process.argv[2] ?? 5);
/** Fast guesses timed together, so each timing is long enough to read. */
const fastRepeat = 20;
const login = 'alice';
const password = 'the real password';
const context = { login, domain: 'alpha.test', memoryHard: false };

async function time(guess: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await guess();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

// What the database holds for three accounts with the same password.
const legacySalt = srp.generateSalt();
const legacyVerifier = srp.deriveVerifier(srp.derivePrivateKey(legacySalt, login, password));
const fresh = await newLoginKey(login, password);
const moved = await upgradedLoginKey({
  x: srp.derivePrivateKey(legacySalt, login, password),
  salt: legacySalt,
  kdf: null,
});
const record = await createRecoveryRecord(generateStorageSecret(), password);

// A guess is wrong unless it is the password; each function says whether it matched.
const targets: [string, (guess: string) => Promise<boolean>][] = [
  [
    'recovery record: scrypt + AES-GCM (anchor)',
    (guess) =>
      openRecoveryRecord(record, guess).then(
        () => true,
        () => false,
      ),
  ],
  [
    'SRP verifier, fast hash (before): SHA-256 + g^x',
    async (guess) =>
      srp.deriveVerifier(srp.derivePrivateKey(legacySalt, login, guess)) === legacyVerifier,
  ],
  [
    'SRP verifier, scrypt (new account): scrypt + g^x',
    async (guess) =>
      srp.deriveVerifier((await keyForOffer(fresh, { password: guess }, context)).x) ===
      fresh.verifier,
  ],
  [
    'SRP verifier, scrypt (moved from fast hash)',
    async (guess) =>
      srp.deriveVerifier((await keyForOffer(moved, { password: guess }, context)).x) ===
      moved.verifier,
  ],
];

// Interleaved, one round of each at a time, so a busy machine slows them all alike; the
// first round warms up and is not counted.
const samples = targets.map(() => [] as number[]);
for (let round = 0; round <= slowRuns; round++) {
  for (const [t, [name, guess]] of targets.entries()) {
    const repeat = name.includes('fast hash (before)') ? fastRepeat : 1;
    const ms = await time(async () => {
      for (let i = 0; i < repeat; i++) await guess(`guess ${round}.${i}`);
    });
    if (round > 0) samples[t]!.push(ms / repeat);
  }
}
const rows = targets.map(([name], t) => [name, median(samples[t]!)] as const);

const anchor = rows[0]![1];
console.log(`One password guess by someone holding the provider database (median ms):`);
for (const [name, ms] of rows) {
  console.log(
    `  ${name.padEnd(50)} ${ms.toFixed(3).padStart(9)} ms   ×${(ms / anchor).toFixed(4)} of the recovery record`,
  );
}
const fast = rows[1]![1];
const slow = rows[2]![1];
console.log(
  `A guess against the verifier now costs ${(slow / fast).toFixed(0)}× what it did, ` +
    `and ${(slow / anchor).toFixed(2)}× a guess against the recovery record.`,
);
