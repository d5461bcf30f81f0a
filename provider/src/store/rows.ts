/**
 * What the SQLite and PostgreSQL stores share: the rows they read, turned into records the
 * same way, and the push rule they apply per document, so the two cannot drift apart.
 */
import type { PasswordKdf } from '../../../shared/src/password-kdf.js';
import type { HeldMessage, PushRow, StoredDoc, UserRecord } from './types.js';

export interface UserRow {
  id: string;
  login: string;
  address: string;
  salt: string;
  verifier: string;
  kdf: string | null;
  public_key: string | null;
  key_fingerprint: string | null;
  created_at: number;
}

export interface HeldRow {
  id: string;
  user_id: string;
  path: string;
  sender: string;
  received_at: number;
}

export const toUser = (r: UserRow | undefined): UserRecord | null =>
  r
    ? {
        id: r.id,
        login: r.login,
        address: r.address,
        salt: r.salt,
        verifier: r.verifier,
        // Validated by the API before it was stored.
        kdf: r.kdf === null ? null : (JSON.parse(r.kdf) as PasswordKdf),
        publicKey: r.public_key,
        keyFingerprint: r.key_fingerprint,
        createdAt: r.created_at,
      }
    : null;

export const toHeld = (r: HeldRow): HeldMessage => ({
  id: r.id,
  userId: r.user_id,
  path: r.path,
  sender: r.sender,
  receivedAt: r.received_at,
});

export const kdfText = (kdf: PasswordKdf | null) => (kdf === null ? null : JSON.stringify(kdf));

/**
 * The push rule: the stored state to report as a conflict, or null when the row may be
 * written (the client assumed exactly what is stored, or nothing where nothing is).
 */
export function conflictOf(row: PushRow, current: StoredDoc | null): StoredDoc | null {
  const assumed = row.assumedMasterState;
  if (current) {
    const same = assumed && assumed.hash === current.hash && assumed.deleted === current.deleted;
    return same ? null : current;
  }
  if (assumed === null) return null;
  // Nothing is stored, so there is no master state to report; a tombstone without content
  // tells the client that the document it assumed does not exist here.
  return { id: row.newDocumentState.id, deleted: true, ciphertext: '', hash: '', updatedAt: 0 };
}

/** The per-user clock: `updatedAt` strictly increasing even when the wall clock stalls or steps back. */
export const nextUpdatedAt = (now: number, clock: number) => Math.max(now, clock + 1);
