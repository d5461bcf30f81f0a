/**
 * Login handshakes waiting for their proof. Each holds the server's SRP secret until the
 * proof comes or it expires; a client keeps at most `perClient` (a newer one replaces its
 * oldest) and all clients together at most `max` (the oldest anywhere goes first), so a
 * flood of handshakes costs bounded memory and replaces only the flooder's own, or ones
 * older than any real login takes to send its proof.
 */
export interface PendingPolicy {
  perClient: number;
  max: number;
  ttlMs: number;
}

interface Entry<T> {
  client: string;
  value: T;
  expires: number;
}

export class PendingHandshakes<T> {
  /** In insertion order, which is expiry order: the oldest first. */
  private readonly entries = new Map<string, Entry<T>>();
  private readonly byClient = new Map<string, string[]>();

  constructor(private readonly policy: PendingPolicy) {}

  get size(): number {
    return this.entries.size;
  }

  add(client: string, key: string, value: T, now: number): void {
    this.prune(now);
    this.remove(key);
    const own = this.byClient.get(client) ?? [];
    while (own.length >= this.policy.perClient) this.remove(own[0]!);
    this.entries.set(key, { client, value, expires: now + this.policy.ttlMs });
    this.byClient.set(client, [...(this.byClient.get(client) ?? []), key]);
    while (this.entries.size > this.policy.max) this.remove(this.entries.keys().next().value!);
  }

  /** The value for `key`, once; undefined when unknown, replaced or expired. */
  take(key: string, now: number): T | undefined {
    const entry = this.entries.get(key);
    this.remove(key);
    return entry && entry.expires >= now ? entry.value : undefined;
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    const rest = (this.byClient.get(entry.client) ?? []).filter((k) => k !== key);
    if (rest.length > 0) this.byClient.set(entry.client, rest);
    else this.byClient.delete(entry.client);
  }

  private prune(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expires >= now) break;
      this.remove(key);
    }
  }
}
