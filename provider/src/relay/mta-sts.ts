/**
 * MTA-STS (RFC 8461) policies: the `_mta-sts` TXT record, the policy file, and which MX
 * hosts a policy allows. Pure; fetching is in mta-sts-fetch.ts.
 */

export type StsMode = 'enforce' | 'testing' | 'none';

export interface StsPolicy {
  id: string;
  mode: StsMode;
  mx: string[];
  maxAgeSeconds: number;
}

/** The id of a `v=STSv1; id=…` record, or null when the TXT is not an STS record. */
export function parseStsRecord(txt: string): string | null {
  const fields = txt.split(';').map((f) => f.trim());
  if (fields[0] !== 'v=STSv1') return null;
  const id = fields.find((f) => f.startsWith('id='))?.slice(3);
  return id && /^[A-Za-z0-9]{1,32}$/.test(id) ? id : null;
}

/** RFC 8461 section 3.2; returns a reason string for a policy that is not valid. */
export function parseStsPolicy(text: string, id: string): StsPolicy | string {
  const fields = new Map<string, string[]>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9_]+):\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    const key = (m[1] as string).toLowerCase();
    fields.set(key, [...(fields.get(key) ?? []), m[2] as string]);
  }
  if (fields.get('version')?.[0] !== 'STSv1') return 'the policy is not version STSv1';
  const mode = fields.get('mode')?.[0];
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none')
    return 'the policy has no valid mode';
  const maxAge = Number(fields.get('max_age')?.[0]);
  if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > 31557600)
    return 'the policy has no valid max_age';
  const mx = (fields.get('mx') ?? []).map((m) => m.toLowerCase().replace(/\.$/, ''));
  if (mode !== 'none' && mx.length === 0) return 'the policy names no mx';
  return { id, mode, mx, maxAgeSeconds: maxAge };
}

/** `*.example.net` matches exactly one leftmost label (RFC 8461 section 4.1). */
export function mxAllowed(policy: StsPolicy, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  return policy.mx.some((pattern) =>
    pattern.startsWith('*.')
      ? name.endsWith(pattern.slice(1)) && !name.slice(0, -pattern.length + 1).includes('.')
      : name === pattern,
  );
}
