/**
 * How a provider announces in DNS that it is LEAP-compatible: a TXT record at
 * `_leap.<domain>` reading `v=LEAP1` (optionally `; api=<host>[:port]`). Trusted only when
 * DNSSEC-validated; a validated announcement obliges peers to use validated TLS (DANE or
 * MTA-STS) for everything they send it.
 */
export const LEAP_TXT_LABEL = '_leap';

export interface LeapAnnouncement {
  api: string | null;
}

export function leapRecord(domain: string): string {
  return `v=LEAP1; api=api.${domain}`;
}

export function parseLeapRecord(txt: string): LeapAnnouncement | null {
  const fields = txt.split(';').map((f) => f.trim());
  if (fields[0] !== 'v=LEAP1') return null;
  const api = fields.find((f) => f.startsWith('api='))?.slice(4) ?? null;
  return { api: api || null };
}
