/**
 * SRP's private key x, from the password or from the x this machine keeps.
 *
 * The SRP library's own x is SHA-256(salt, SHA-256(login:password)): whoever holds the
 * provider's database (or a copy) could test a password guess with one hash and one
 * modular exponentiation, far cheaper than a guess against the recovery record, and the
 * same password opens that record. So x is scrypt'd here (shared/src/password-kdf.ts has
 * the formula), with parameters the provider keeps beside the salt and hands out in the
 * handshake, never weaker than the recovery record's. The SRP-6a math stays the library's:
 * it takes x as it is.
 *
 * An account made with the fast hash (no description) moves at its next login: the host
 * derives a new x from the old one (`prehash`), so a device that kept only the old x (every
 * device between restarts) moves too, without the password. Once this device has seen an
 * account use a memory-hard x, it refuses a handshake that asks for the fast one: a provider
 * that did would get a proof it can attack cheaply.
 */
import { createHash } from 'node:crypto';
import srp from 'secure-remote-password/client.js';
import {
  atLeastAsStrong,
  DEFAULT_SCRYPT,
  sameKdf,
  type PasswordKdf,
} from '../../../shared/src/password-kdf.js';
import { scryptKey } from '../store/index.js';
import { ProviderClientError } from './errors.js';

/** x with what it was derived under; `salt` undefined when not known (kept before this). */
export interface LoginKey {
  x: string;
  salt?: string;
  /** null: the library's fast hash. */
  kdf: PasswordKdf | null;
}

/** What the provider offers in the handshake. */
export interface KeyOffer {
  salt: string;
  kdf: PasswordKdf | null;
}

/** A key made here: its salt, description, x, and the verifier the provider keeps. */
export interface NewLoginKey extends LoginKey {
  salt: string;
  kdf: PasswordKdf;
  verifier: string;
}

/** A new account's (or a new password's) salt, description, x and verifier. */
export async function newLoginKey(login: string, password: string): Promise<NewLoginKey> {
  const salt = srp.generateSalt();
  const kdf: PasswordKdf = { algorithm: 'scrypt', ...DEFAULT_SCRYPT };
  const x = await scryptX(password, salt, kdf);
  return { x, salt, kdf, verifier: srp.deriveVerifier(x) };
}

/** The memory-hard x that replaces a fast one, derived from it: no password needed. */
export async function upgradedLoginKey(legacy: LoginKey & { salt: string }): Promise<NewLoginKey> {
  const salt = srp.generateSalt();
  const kdf: PasswordKdf = {
    algorithm: 'scrypt',
    ...DEFAULT_SCRYPT,
    prehash: { algorithm: 'srp-sha256', salt: legacy.salt },
  };
  const x = await scryptX(Buffer.from(legacy.x, 'hex'), salt, kdf);
  return { x, salt, kdf, verifier: srp.deriveVerifier(x) };
}

/**
 * The x to answer `offer` with, from the password or from the key kept here. Refuses a
 * fast hash when this device knows the account moved (`memoryHard`), and parameters weaker
 * than the recovery record's.
 */
export async function keyForOffer(
  offer: KeyOffer,
  held: { password: string } | { key: LoginKey },
  context: { login: string; domain: string; memoryHard: boolean },
): Promise<LoginKey> {
  const { login, domain } = context;
  if (!offer.kdf) {
    if (context.memoryHard) throw downgrade(domain, login);
    const x =
      'password' in held ? srp.derivePrivateKey(offer.salt, login, held.password) : held.key.x;
    return { x, salt: offer.salt, kdf: null };
  }
  if (!atLeastAsStrong(offer.kdf, DEFAULT_SCRYPT)) throw weak(domain);
  const kdf = offer.kdf;
  if ('password' in held) {
    const input = kdf.prehash
      ? Buffer.from(srp.derivePrivateKey(kdf.prehash.salt, login, held.password), 'hex')
      : held.password;
    return { x: await scryptX(input, offer.salt, kdf), salt: offer.salt, kdf };
  }
  const key = held.key;
  if (key.salt === offer.salt && sameKdf(key.kdf, kdf)) return key;
  // Another device moved the account from the fast hash this key still is.
  if (kdf.prehash && key.kdf === null && (key.salt ?? kdf.prehash.salt) === kdf.prehash.salt) {
    return {
      x: await scryptX(Buffer.from(key.x, 'hex'), offer.salt, kdf),
      salt: offer.salt,
      kdf,
    };
  }
  // The password changed elsewhere: the proof will fail and the user is asked for it.
  return key;
}

/** x = SHA-256(salt ‖ scrypt(input, salt)), as hex the SRP library reads. */
async function scryptX(input: string | Buffer, saltHex: string, kdf: PasswordKdf): Promise<string> {
  const salt = Buffer.from(saltHex, 'hex');
  const key = await scryptKey(input, salt, kdf);
  return createHash('sha256').update(salt).update(key).digest('hex');
}

function downgrade(domain: string, login: string): ProviderClientError {
  return new ProviderClientError(
    'login_key_downgrade',
    `${domain} asked this computer to log in as "${login}" with the old, fast password hash, although this account already moved to the slow one that protects your password from guessing. Answering would let whoever asked test password guesses cheaply, so LeapBird did not log in. If this keeps happening, tell ${domain}.`,
  );
}

function weak(domain: string): ProviderClientError {
  return new ProviderClientError(
    'login_key_downgrade',
    `${domain} asked for a password key weaker than LeapBird accepts (scrypt with at least ${(128 * DEFAULT_SCRYPT.N * DEFAULT_SCRYPT.r) / 2 ** 20} MiB). That would make password guesses cheap, so LeapBird did not log in.`,
  );
}
