/**
 * How a password becomes a key, as the host and the provider describe it to each other:
 * scrypt parameters, their bounds, and the description of SRP's private key x that the
 * provider keeps beside an account's salt and hands out in the login handshake.
 *
 * Pure: the host computes the keys (native-host/src/store/secret.ts runs scrypt), the
 * provider only stores and validates the description. It never sees the password.
 */

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** OWASP's scrypt recommendation (128 MiB, about a third of a second on these machines). */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };

/** What a description from elsewhere may ask of us; beyond it, it is refused. */
const SCRYPT_BOUNDS = { minLogN: 10, maxLogN: 20, maxR: 32, maxP: 16, maxBytes: 256 * 2 ** 20 };

/** Whether the parameters are well-formed and within what a client is willing to spend. */
export function checkScryptParams(params: ScryptParams): boolean {
  const { N, r, p } = params;
  if (![N, r, p].every((x) => Number.isSafeInteger(x) && x > 0)) return false;
  const logN = Math.log2(N);
  return (
    Number.isInteger(logN) &&
    logN >= SCRYPT_BOUNDS.minLogN &&
    logN <= SCRYPT_BOUNDS.maxLogN &&
    r <= SCRYPT_BOUNDS.maxR &&
    p <= SCRYPT_BOUNDS.maxP &&
    128 * N * r <= SCRYPT_BOUNDS.maxBytes
  );
}

/** At least the memory and work of `floor` (scrypt's cost grows with N·r in both). */
export function atLeastAsStrong(params: ScryptParams, floor: ScryptParams): boolean {
  return (
    params.N * params.r >= floor.N * floor.r &&
    params.N * params.r * params.p >= floor.N * floor.r * floor.p
  );
}

/**
 * SRP's x for an account, when it is not the library's fast SHA-256 (an account without a
 * description, made before this existed):
 *
 *   x = SHA-256(salt ‖ scrypt(input, salt, N, r, p))
 *
 * where `input` is the password (NFC), or, for an account moved from the fast hash without
 * its password at hand, the old x itself: SHA-256(old salt, SHA-256(login:password)) as the
 * SRP library computes it (`prehash`). A guess costs one scrypt either way.
 */
export interface PasswordKdf extends ScryptParams {
  algorithm: 'scrypt';
  prehash?: { algorithm: 'srp-sha256'; salt: string };
}

const HEX = /^(?:[0-9a-f]{2})+$/;
/** SRP salts as hex: 16 to 128 bytes. */
export function isSaltHex(value: unknown): value is string {
  return typeof value === 'string' && HEX.test(value) && value.length >= 32 && value.length <= 256;
}

/** A description from the wire, reduced to its known fields, or the reason it is refused. */
export function parsePasswordKdf(value: unknown): { kdf: PasswordKdf } | { error: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { error: 'the password key description is not an object' };
  const v = value as Record<string, unknown>;
  if (v.algorithm !== 'scrypt')
    return { error: `the password key algorithm "${String(v.algorithm)}" is not known` };
  const params = { N: v.N, r: v.r, p: v.p } as ScryptParams;
  if (!checkScryptParams(params))
    return { error: 'the scrypt parameters of the password key are out of the allowed range' };
  const kdf: PasswordKdf = { algorithm: 'scrypt', N: params.N, r: params.r, p: params.p };
  if (v.prehash !== undefined) {
    const pre = v.prehash as Record<string, unknown> | null;
    if (typeof pre !== 'object' || pre === null || pre.algorithm !== 'srp-sha256')
      return { error: 'the password key prehash is not known' };
    if (!isSaltHex(pre.salt))
      return { error: 'the password key prehash salt is not 16 to 128 bytes of hexadecimal' };
    kdf.prehash = { algorithm: 'srp-sha256', salt: pre.salt };
  }
  return { kdf };
}

/** The same description (field order aside). */
export function sameKdf(a: PasswordKdf | null, b: PasswordKdf | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.algorithm === b.algorithm &&
    a.N === b.N &&
    a.r === b.r &&
    a.p === b.p &&
    a.prehash?.salt === b.prehash?.salt
  );
}
