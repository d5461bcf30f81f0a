/**
 * SRP's x on the host: one formula whichever way it is reached (a new password, the password
 * at login on another device, or the fast-hash x a device kept), and a handshake that asks
 * for the fast hash or cheap parameters refused in words. Each derivation is a real scrypt
 * at the recovery record's cost.
 */
import srp from 'secure-remote-password/client.js';
import { describe, expect, it } from 'vitest';
import {
  keyForOffer,
  newLoginKey,
  upgradedLoginKey,
} from '../../native-host/src/provider/srp-key.js';

const context = { login: 'olga', domain: 'alpha.test', memoryHard: false };

describe("SRP's x on the host", () => {
  it('is the same from a new password and from the password at a later login', async () => {
    const key = await newLoginKey('olga', 'pw olga');
    expect(key.verifier).toBe(srp.deriveVerifier(key.x));
    const again = await keyForOffer(key, { password: 'pw olga' }, context);
    expect(again.x).toBe(key.x);
    const wrong = await keyForOffer(key, { password: 'pw olg4' }, context);
    expect(wrong.x).not.toBe(key.x);
  });

  it('moves from the fast hash to the same x from the old x or from the password', async () => {
    const legacySalt = srp.generateSalt();
    const oldX = srp.derivePrivateKey(legacySalt, 'olga', 'pw olga');
    const moved = await upgradedLoginKey({ x: oldX, salt: legacySalt, kdf: null });
    expect(moved.kdf.prehash).toEqual({ algorithm: 'srp-sha256', salt: legacySalt });
    // A device with the password, and a device that kept only the old x (salt unknown).
    const viaPassword = await keyForOffer(moved, { password: 'pw olga' }, context);
    const viaOldX = await keyForOffer(moved, { key: { x: oldX, kdf: null } }, context);
    expect(viaPassword.x).toBe(moved.x);
    expect(viaOldX).toEqual({ x: moved.x, salt: moved.salt, kdf: moved.kdf });
  });

  it('answers the fast hash only for an account this device has not seen move', async () => {
    const offer = { salt: srp.generateSalt(), kdf: null };
    const fast = await keyForOffer(offer, { password: 'pw olga' }, context);
    expect(fast.x).toBe(srp.derivePrivateKey(offer.salt, 'olga', 'pw olga'));
    await expect(
      keyForOffer(offer, { password: 'pw olga' }, { ...context, memoryHard: true }),
    ).rejects.toMatchObject({
      code: 'login_key_downgrade',
      message: expect.stringMatching(/old, fast password hash.*did not log in/),
    });
  });

  it('refuses parameters cheaper than the recovery record, on any account', async () => {
    const offer = {
      salt: srp.generateSalt(),
      kdf: { algorithm: 'scrypt' as const, N: 2 ** 12, r: 8, p: 1 },
    };
    await expect(keyForOffer(offer, { password: 'pw olga' }, context)).rejects.toMatchObject({
      code: 'login_key_downgrade',
      message: expect.stringMatching(
        /weaker than LeapBird accepts \(scrypt with at least 128 MiB\)/,
      ),
    });
  });

  it('keeps a memory-hard key it holds when the offer is another (the password changed elsewhere)', async () => {
    const held = await newLoginKey('olga', 'pw olga');
    const other = await newLoginKey('olga', 'a new password');
    expect(await keyForOffer(other, { key: held }, context)).toBe(held);
  });
});
