/**
 * The storage secret at login: opened from the provider's recovery record, or — only when
 * the provider says definitely that it holds none, and holds no synced document either (the
 * account's first setup) — made here and stored there.
 *
 * A new secret over a good record would make the synced documents (the private key among
 * them) unreadable, so every other answer (a 5xx, a 429, a timeout, a body that is not a
 * record) ends the login with a sentence and changes nothing, here or at the provider. The
 * record is created with `If-None-Match: *`, so two devices setting up at once cannot
 * overwrite each other's record either: the second one opens the first one's.
 */
import { RpcError } from '../../../shared/src/errors.js';
import { COLLECTIONS } from '../documents/index.js';
import type { Logger } from '../log/index.js';
import { ProviderClientError, type ProviderSession } from '../provider/index.js';
import {
  createRecoveryRecord,
  generateStorageSecret,
  isStoreError,
  openRecoveryRecord,
} from '../store/index.js';

const PATH = '/1/recovery';

export async function storageSecretAtLogin(
  session: ProviderSession,
  password: string,
  log: Logger,
  /** The secret this computer already holds for the account, if any: kept rather than replaced. */
  local: Buffer | null,
): Promise<Buffer> {
  const domain = session.provider.domain;
  const answer = await fetchRecord(session);
  if (answer.kind === 'record') {
    log.info('account.secret_recovered');
    return openRecord(answer.record, password, domain);
  }
  // No record. Either this computer set the account up and was interrupted before storing
  // it (store the secret it has), or this is the first setup: then nothing was synced yet.
  if (!local) await expectNothingSynced(session);
  const secret = local ?? generateStorageSecret();
  const record = await createRecoveryRecord(secret, password);
  const put = await session.request('PUT', PATH, { record }, { 'if-none-match': '*' });
  if (put.status === 412) {
    // Another device stored one in the meantime: that one is the account's secret.
    const again = await fetchRecord(session);
    if (again.kind !== 'record') throw unavailable(domain, 'it lost the record it just refused');
    log.info('account.secret_recovered', { raced: true });
    return openRecord(again.record, password, domain);
  }
  if (put.status < 200 || put.status >= 300)
    throw unavailable(domain, `it did not store the recovery record (HTTP ${put.status})`);
  log.info(local ? 'account.secret_restored' : 'account.secret_created');
  return secret;
}

/** Documents at the provider without a record: a new secret could never read them. */
async function expectNothingSynced(session: ProviderSession): Promise<void> {
  const domain = session.provider.domain;
  for (const collection of Object.values(COLLECTIONS)) {
    const res = await session.request('GET', `/1/sync/${collection}/pull?limit=1`);
    if (res.status !== 200) throw unavailable(domain, `it answered HTTP ${res.status}`);
    const documents = documentsOf(res.body);
    if (documents === null) throw unreadable(domain);
    if (documents > 0)
      throw new RpcError(
        'recovery_missing',
        `${domain} keeps the keys and settings you synced from another device, but not the recovery record that opens them. LeapBird did not make a new one, which would lock those out for good, and changed nothing; log in on a device that has this account set up, or ask ${domain} to restore the record.`,
      );
  }
}

async function fetchRecord(
  session: ProviderSession,
): Promise<{ kind: 'record'; record: string } | { kind: 'none' }> {
  const domain = session.provider.domain;
  let res;
  try {
    res = await session.request('GET', PATH);
  } catch (error) {
    if (error instanceof ProviderClientError && error.code === 'unreachable')
      throw unavailable(domain, 'it could not be reached');
    throw error;
  }
  if (res.status === 404 && errorCode(res.body) === 'not_found') return { kind: 'none' };
  if (res.status !== 200) throw unavailable(domain, `it answered HTTP ${res.status}`);
  const record = recordOf(res.body);
  if (record === null) throw unreadable(domain);
  return { kind: 'record', record };
}

async function openRecord(record: string, password: string, domain: string): Promise<Buffer> {
  try {
    return await openRecoveryRecord(record, password);
  } catch (error) {
    if (isStoreError(error, 'bad_recovery_record')) throw unreadable(domain);
    if (isStoreError(error, 'wrong_password'))
      throw new RpcError(
        'recovery_locked',
        `Your password logged you in to ${domain} but does not open the recovery record it keeps for you (it may have been changed from another device, or altered). LeapBird changed nothing; log in with the password you use on your other devices.`,
      );
    throw error;
  }
}

function unavailable(domain: string, why: string): RpcError {
  return new RpcError(
    'recovery_unavailable',
    `LeapBird could not fetch the recovery record that protects your mail from ${domain}: ${why}. Nothing was changed on this computer or at ${domain}; try logging in again in a few minutes.`,
  );
}

function unreadable(domain: string): RpcError {
  return new RpcError(
    'recovery_unreadable',
    `${domain} sent something that is not a LeapBird recovery record. LeapBird did not replace it and changed nothing on this computer; try again later, and tell ${domain} if it keeps happening.`,
  );
}

/** The body as JSON, or undefined when it is not JSON: the callers then say what was wrong. */
function json(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function errorCode(body: Buffer): unknown {
  return (json(body) as { error?: { code?: unknown } } | null)?.error?.code;
}

function documentsOf(body: Buffer): number | null {
  const documents = (json(body) as { documents?: unknown } | null)?.documents;
  return Array.isArray(documents) ? documents.length : null;
}

function recordOf(body: Buffer): string | null {
  const record = (json(body) as { record?: unknown } | null)?.record;
  return typeof record === 'string' ? record : null;
}
