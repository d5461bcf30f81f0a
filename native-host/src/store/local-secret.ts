/**
 * Where the storage secret lives between sessions on this machine: one small file in the
 * account directory, wrapped by the add-on's session key (see secret.ts for the threat
 * model). Losing the file loses nothing: the secret comes back from the recovery record.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from './errors.js';
import { writeFileDurably } from './fs-durable.js';
import { unwrapSecretLocally, wrapSecretLocally } from './secret.js';

const FILE_NAME = 'storage-secret.wrapped';

export async function saveStorageSecret(
  accountDir: string,
  accountId: string,
  secret: Uint8Array,
  sessionKey: Uint8Array,
): Promise<void> {
  await writeFileDurably(
    join(accountDir, FILE_NAME),
    wrapSecretLocally(secret, sessionKey, accountId) + '\n',
  );
}

/** The unwrapped secret, or null when this machine has none stored for the account yet. */
export async function loadStorageSecret(
  accountDir: string,
  accountId: string,
  sessionKey: Uint8Array,
): Promise<Buffer | null> {
  let text: string;
  try {
    text = await readFile(join(accountDir, FILE_NAME), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new StoreError(
      'bad_wrapped_secret',
      `The stored storage secret could not be read: ${(error as Error).message}`,
    );
  }
  return unwrapSecretLocally(text, sessionKey, accountId);
}
