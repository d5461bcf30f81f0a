/**
 * A "device" for the documents tests: its own data directory with the account's encrypted
 * database (the real store), and the account's synced documents on it.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import {
  openAccountDocuments,
  type AccountDocuments,
  type DocumentsSession,
} from '../../native-host/src/documents/index.js';
import type { Resolver } from '../../native-host/src/net/index.js';
import { openAccountStore, type AccountStore } from '../../native-host/src/store/index.js';
import type { ContactKeyRecord } from '../../native-host/src/keys/index.js';

export interface Device {
  dir: string;
  store: AccountStore;
  docs: AccountDocuments;
  close(): Promise<void>;
}

export async function openDevice(options: {
  dir: string;
  storageSecret: Uint8Array;
  name: string;
  session?: DocumentsSession;
  resolver?: Resolver;
}): Promise<Device> {
  const store = await openAccountStore({ dir: options.dir, storageSecret: options.storageSecret });
  const docs = await openAccountDocuments({
    database: store.database.raw,
    storageSecret: options.storageSecret,
    name: options.name,
    session: options.session,
    resolver: options.resolver,
    retryTimeMs: 200,
  }).catch((err: unknown) => {
    store.close();
    throw err;
  });
  return {
    dir: options.dir,
    store,
    docs,
    async close() {
      await docs.close();
      store.close();
    },
  };
}

export function tempDir(label: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `documents-${label}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every regular file under `dir`, at any depth (for scanning what is at rest). */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return [];
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

/** Polls `check` until it holds; fails after `timeoutMs` naming what it waited for. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export interface TestKey {
  address: string;
  fingerprint: string;
  publicArmored: string;
  privateArmored: string;
}

/** A real key pair for an address (v4, Curve25519 legacy, as the host generates). */
export async function testKey(address: string): Promise<TestKey> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ email: address }],
    format: 'armored',
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return {
    address,
    fingerprint: key.getFingerprint().toUpperCase(),
    publicArmored: publicKey,
    privateArmored: privateKey,
  };
}

export function contactRecord(
  key: TestKey,
  overrides: Partial<ContactKeyRecord> = {},
): ContactKeyRecord {
  return {
    address: key.address,
    fingerprint: key.fingerprint,
    armored: key.publicArmored,
    validation: 'Weak_Chain',
    source: 'autocrypt',
    firstSeen: 1_000,
    lastSeen: 1_000,
    refreshedAt: 1_000,
    expires: null,
    encrUsed: false,
    signUsed: false,
    history: [],
    ...overrides,
  };
}
