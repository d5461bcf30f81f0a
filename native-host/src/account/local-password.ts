/**
 * The per-install password other clients log in to the loopback servers with. Thunderbird
 * keeps it in its own account settings, so the host needed only its hash; a person who
 * types it into mutt or mbsync needs it shown again (`leapbird-host credentials`) and kept
 * the same across logins, or every login would break their configuration. So it is kept
 * beside the account's data, sealed by a key derived from the account's storage secret:
 * readable only while the account is unlocked, never in the clear on disk.
 */
import { hkdfSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unwrapSecretLocally, wrapSecretLocally, writeFileDurably } from '../store/index.js';
import { checkLocalPassword, type AccountRecord } from './registry.js';

const FILE_NAME = 'local-password.wrapped';

function sealingKey(storageSecret: Uint8Array): Buffer {
  return Buffer.from(
    hkdfSync('sha256', storageSecret, Buffer.from('leapbird local password'), 'v1', 32),
  );
}

/** The wrapper takes 32 bytes or more: a length, the password, then padding. */
function pack(password: string): Buffer {
  const text = Buffer.from(password, 'utf8');
  const packed = Buffer.alloc(Math.max(32, text.length + 2));
  packed.writeUInt16BE(text.length, 0);
  text.copy(packed, 2);
  return packed;
}

export async function keepLocalPassword(
  accountDir: string,
  email: string,
  storageSecret: Uint8Array,
  password: string,
): Promise<void> {
  await writeFileDurably(
    join(accountDir, FILE_NAME),
    wrapSecretLocally(pack(password), sealingKey(storageSecret), `local-password:${email}`) + '\n',
  );
}

/**
 * The kept password if it is still the one the account record accepts; null when there is
 * none (an account set up before it was kept), it does not open, or it is out of date.
 */
export async function readLocalPassword(
  accountDir: string,
  record: AccountRecord,
  storageSecret: Uint8Array,
): Promise<string | null> {
  try {
    const text = await readFile(join(accountDir, FILE_NAME), 'utf8');
    const packed = unwrapSecretLocally(
      text,
      sealingKey(storageSecret),
      `local-password:${record.email}`,
    );
    const password = packed.subarray(2, 2 + packed.readUInt16BE(0)).toString('utf8');
    return checkLocalPassword(record, password) ? password : null;
  } catch {
    return null;
  }
}
