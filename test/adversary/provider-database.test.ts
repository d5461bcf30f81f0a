/**
 * The attacker holds the provider's database: a stolen copy, a backup, or the provider
 * itself. With SRP's verifier and salt, each password guess used to cost one SHA-256 and one
 * modular exponentiation (the SRP library's x = SHA-256(salt, SHA-256(login:password))), far
 * less than a guess against the recovery record's scrypt; and the password opens that record
 * and the private key in it. What must hold:
 * - a new account's verifier needs scrypt (the recovery record's cost) per guess, with the
 *   parameters stored beside the salt;
 * - an account made with the fast hash moves to scrypt at its next login, without the user
 *   doing anything, and its devices keep working;
 * - a provider that writes the fast hash back (or cheap parameters) for an account this
 *   device saw move gets no answer, though one would have logged in, and the user is told.
 *
 * The provider is the real one; the attacker edits its store. The host is the real one,
 * spoken to as the add-on does. The x formula is computed here independently from
 * shared/src/password-kdf.ts's description, so the test checks what a cracker would compute.
 */
import { createHash, randomBytes, scryptSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import srp from 'secure-remote-password/client.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  hostConfigFor,
  logIn,
  signUp,
  startTestProvider,
  type TestProvider,
} from '../provider/helpers.js';
import { startHostAsAddon, type AddonSide } from '../helpers/addon-side.js';
import { waitFor } from '../helpers/wait.js';

const PASSWORD = 'a long passphrase for the database test';

/** What a cracker computes per guess against a row: the verifier the guess would give. */
function guessVerifier(
  row: {
    salt: string;
    kdf: { N: number; r: number; p: number; prehash?: { salt: string } } | null;
  },
  login: string,
  guess: string,
): string {
  if (!row.kdf) return srp.deriveVerifier(srp.derivePrivateKey(row.salt, login, guess));
  const { N, r, p, prehash } = row.kdf;
  const input = prehash
    ? Buffer.from(srp.derivePrivateKey(prehash.salt, login, guess), 'hex')
    : guess.normalize('NFC');
  const salt = Buffer.from(row.salt, 'hex');
  const key = scryptSync(input, salt, 32, { N, r, p, maxmem: 128 * N * r + 2 ** 20 });
  return srp.deriveVerifier(createHash('sha256').update(salt).update(key).digest('hex'));
}

describe('someone who holds the provider database', () => {
  let provider: TestProvider;
  const dirs: string[] = [];
  const hosts: AddonSide[] = [];

  const deviceKeys = new Map<string, string>();
  /** A host on `dir` (a new one if absent), with that directory's add-on device key. */
  const device = async (dir = mkdtempSync(join(tmpdir(), 'lb-db-'))) => {
    if (!dirs.includes(dir)) dirs.push(dir);
    if (!deviceKeys.has(dir)) deviceKeys.set(dir, randomBytes(32).toString('base64'));
    const side = await startHostAsAddon(
      { dataDir: dir, ...hostConfigFor(provider) },
      deviceKeys.get(dir),
    );
    hosts.push(side);
    return { side, dir };
  };
  const row = async (login: string) => (await provider.store.userByLogin(login))!;
  const credentials = (username: string) => ({
    domain: 'alpha.test',
    username,
    password: PASSWORD,
  });

  beforeAll(async () => {
    provider = await startTestProvider('alpha.test');
  });

  afterAll(async () => {
    for (const side of hosts) await side.stop().catch(() => undefined);
    await provider?.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('finds a new account behind scrypt, with the parameters beside the salt', async () => {
    const { side } = await device();
    await side.addon.call('setup.signUp', credentials('dora'));
    const stored = await row('dora');
    expect(stored.kdf).toEqual({ algorithm: 'scrypt', N: 2 ** 17, r: 8, p: 1 });
    // The recovery record is protected by the same cost, so neither is the cheaper target.
    const record = JSON.parse((await provider.store.getRecovery(stored.id))!) as Record<
      string,
      unknown
    >;
    expect({ N: stored.kdf!.N, r: stored.kdf!.r, p: stored.kdf!.p }).toEqual({
      N: record.N,
      r: record.r,
      p: record.p,
    });
    // The fast hash of the right password no longer matches; only scrypt's does.
    expect(guessVerifier({ ...stored, kdf: null }, 'dora', PASSWORD)).not.toBe(stored.verifier);
    expect(guessVerifier(stored, 'dora', 'a wrong guess')).not.toBe(stored.verifier);
    expect(guessVerifier(stored, 'dora', PASSWORD)).toBe(stored.verifier);
    // And the handshake hands the description out.
    const hello = await api(provider, 'POST', '/1/sessions', {
      json: { login: 'dora', A: srp.generateEphemeral().public },
    });
    expect(hello.json).toMatchObject({ salt: stored.salt, kdf: stored.kdf });
  });

  describe('an account made with the fast hash', () => {
    let first: { side: AddonSide; dir: string };
    let second: { side: AddonSide; dir: string };
    let legacySalt: string;
    let otherToken: string;

    beforeAll(async () => {
      // An older client signed erin up: salt and fast-hash verifier, no description.
      expect((await signUp(provider, 'erin', PASSWORD)).status).toBe(201);
      legacySalt = (await row('erin')).salt;
      expect((await row('erin')).kdf).toBeNull();
      expect(guessVerifier(await row('erin'), 'erin', PASSWORD)).toBe((await row('erin')).verifier);
      // A session of that older client, still open.
      otherToken = (await logIn(provider, 'erin', PASSWORD)).token!;
    }, 60_000);

    it('moves to scrypt at its next login, and its other sessions stay', async () => {
      first = await device();
      await first.side.addon.call('setup.logIn', credentials('erin'));
      const stored = await row('erin');
      expect(stored.kdf).toEqual({
        algorithm: 'scrypt',
        N: 2 ** 17,
        r: 8,
        p: 1,
        prehash: { algorithm: 'srp-sha256', salt: legacySalt },
      });
      expect(stored.salt).not.toBe(legacySalt);
      expect(guessVerifier({ ...stored, kdf: null }, 'erin', PASSWORD)).not.toBe(stored.verifier);
      expect(guessVerifier(stored, 'erin', PASSWORD)).toBe(stored.verifier);
      // The same password: the older client's session was not thrown out.
      const still = await api(provider, 'GET', '/1/recovery', { token: otherToken });
      expect(still.status).toBe(200);
    });

    it('keeps working: after a restart, and on a new device with the password', async () => {
      await first.side.stop();
      first.side = (await device(first.dir)).side;
      await waitFor('erin resumed', async () =>
        (await first.side.addon.call('host.status', {})).accounts.some(
          (a) => a.email === 'erin@alpha.test' && a.state === 'connected',
        ),
      );
      second = await device();
      const result = await second.side.addon.call('setup.logIn', credentials('erin'));
      expect(result.account.email).toBe('erin@alpha.test');
    });

    it('gets no answer from a device that saw the move when the fast hash is written back', async () => {
      const moved = await row('erin');
      // The attacker writes back a fast-hash row for the right password: a device that
      // answered would log in, and its proof could be cracked at SHA-256 speed.
      const salt = srp.generateSalt();
      const fast = srp.deriveVerifier(srp.derivePrivateKey(salt, 'erin', PASSWORD));
      await provider.store.setPassword(moved.id, salt, fast, null);
      expect((await logIn(provider, 'erin', PASSWORD)).status).toBe(200); // it would work

      const refused = await second.side.addon.call('setup.logIn', credentials('erin')).then(
        () => null,
        (e: Error) => e,
      );
      expect(refused?.message).toMatch(
        /alpha\.test asked this computer to log in as "erin" with the old, fast password hash.*did not log in/,
      );
      expect(await row('erin')).toMatchObject({ salt, verifier: fast, kdf: null }); // nothing moved

      // The device that kept its key says so at its next start instead of answering.
      await first.side.stop();
      first.side = (await device(first.dir)).side;
      const status = await waitFor('the refusal in the status', async () => {
        const s = await first.side.addon.call('host.status', {});
        return s.lastError ? s : undefined;
      });
      expect(status.lastError?.message).toMatch(/old, fast password hash/);

      // Logging out (keeping the data) does not make this device forget the move.
      await second.side.addon.call('account.logOut', {
        email: 'erin@alpha.test',
        removeData: false,
      });
      await expect(second.side.addon.call('setup.logIn', credentials('erin'))).rejects.toThrow(
        /old, fast password hash/,
      );
      await provider.store.setPassword(moved.id, moved.salt, moved.verifier, moved.kdf);
    });

    it('gets no answer when cheap scrypt parameters are written back', async () => {
      const moved = await row('erin');
      const cheap = { algorithm: 'scrypt' as const, N: 2 ** 10, r: 8, p: 1 };
      const salt = srp.generateSalt();
      await provider.store.setPassword(
        moved.id,
        salt,
        guessVerifier({ salt, kdf: cheap }, 'erin', PASSWORD),
        cheap,
      );
      const refused = await second.side.addon.call('setup.logIn', credentials('erin')).then(
        () => null,
        (e: Error) => e,
      );
      expect(refused?.message).toMatch(/weaker than LeapBird accepts .*did not log in/);
      await provider.store.setPassword(moved.id, moved.salt, moved.verifier, moved.kdf);
    });
  });
});
