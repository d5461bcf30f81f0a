/**
 * The device key: 32 random bytes this add-on keeps in its profile storage and hands to the
 * host at hello. The host wraps each account's storage secret with it, so the host's data
 * directory alone (a backup, a stolen disk image without the profile) opens nothing.
 */
export interface KeyStorage {
  get(key: string): Promise<Record<string, unknown>>;
  set(items: Record<string, unknown>): Promise<void>;
}

const STORAGE_KEY = 'deviceKey';

export async function deviceKey(
  storage: KeyStorage,
  random: (bytes: Uint8Array) => Uint8Array,
): Promise<string> {
  const stored = (await storage.get(STORAGE_KEY))[STORAGE_KEY];
  if (typeof stored === 'string' && stored.length >= 43) return stored;
  const bytes = random(new Uint8Array(32));
  const encoded = btoa(String.fromCharCode(...bytes));
  await storage.set({ [STORAGE_KEY]: encoded });
  return encoded;
}
