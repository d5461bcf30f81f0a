/**
 * The one e-mail address normaliser, shared by the host (key records, synced documents) and
 * the add-on (binding a signature to the From address), so both sides compare the same way.
 */

/**
 * Lower case, `+suffix` removed (LEAP's normalisation); "Name <addr>" gives addr; null when
 * not an address.
 */
export function normaliseAddress(address: string): string | null {
  const bare = /<([^<>]*)>\s*$/.exec(address)?.[1] ?? address;
  const match = /^([^\s@<>]+)@([a-z0-9-]+(?:\.[a-z0-9-]+)+)$/i.exec(bare.trim());
  if (!match) return null;
  const local = (match[1] as string).toLowerCase().replace(/\+.*$/, '');
  return local ? `${local}@${(match[2] as string).toLowerCase()}` : null;
}
