/** An account's address as typed on a terminal: `login@provider.domain`. */
export type ParsedAddress =
  { ok: true; login: string; domain: string } | { ok: false; message: string };

export function parseAddress(text: string): ParsedAddress {
  const trimmed = text.trim().toLowerCase();
  const at = trimmed.lastIndexOf('@');
  const login = trimmed.slice(0, at);
  const domain = trimmed.slice(at + 1);
  if (at <= 0 || !domain.includes('.') || /[\s@]/.test(login) || !/^[a-z0-9.-]+$/.test(domain))
    return {
      ok: false,
      message: `"${text}" is not an address; give it as name@provider, e.g. alice@example.org.`,
    };
  return { ok: true, login, domain };
}
