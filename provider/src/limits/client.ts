/**
 * Who a request comes from, as the login limits count it, and how long to wait, in words.
 *
 * The client is the TCP peer. X-Forwarded-For is believed only from a configured reverse
 * proxy (anyone else could claim any address): then the client is the nearest hop that is
 * not one of the proxies. IPv4-mapped IPv6 addresses count as IPv4, and IPv6 addresses by
 * their /64, which one subscriber usually holds whole.
 */
import { isIP } from 'node:net';

export function clientAddress(
  peer: string,
  forwardedFor: string | string[] | undefined,
  trustedProxies: readonly string[],
): string {
  let client = normalise(peer);
  if (forwardedFor === undefined || !trustedProxies.map(normalise).includes(client)) return client;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((hop) => hop.trim());
  while (trustedProxies.map(normalise).includes(client) && hops.length > 0) {
    const hop = hops.pop()!;
    if (isIP(hop.replace(/%.*$/, '')) === 0) break; // garbage: keep the last address we trust
    client = normalise(hop);
  }
  return client;
}

function normalise(address: string): string {
  const bare = address.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped) return mapped[1]!;
  if (isIP(bare) !== 6) return bare;
  return `${expand(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (no embedded IPv4; mapped ones are handled above). */
function expand(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}

/** `in 2 minutes (after 14:05:30 UTC)`: the provider does not know the client's time zone. */
export function tryAgainIn(waitMs: number, now: number): string {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  const amount =
    seconds < 90
      ? plural(seconds, 'second')
      : seconds < 90 * 60
        ? plural(Math.ceil(seconds / 60), 'minute')
        : plural(Math.ceil(seconds / 3600), 'hour');
  const at = new Date(now + seconds * 1000).toISOString().slice(11, 19);
  return `in ${amount} (after ${at} UTC)`;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}
