/**
 * Finding a legacy provider's servers the way Thunderbird does: the provider's autoconfig
 * file (`https://autoconfig.<domain>/mail/config-v1.1.xml`, then
 * `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml`), in Thunderbird's ISPDB
 * format. Only TLS and STARTTLS servers are offered; plaintext ones are ignored.
 */
import { httpsRequest, type Resolver } from '../net/index.js';
import type { ServerAddress } from './registry.js';

export interface DiscoveredServers {
  imap: ServerAddress;
  smtp: ServerAddress;
  /** Where the answer came from, for the UI. */
  source: string;
}

function tag(block: string, name: string): string | null {
  const match = new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`, 'i').exec(block);
  return match?.[1] ?? null;
}

function servers(
  xml: string,
  element: 'incomingServer' | 'outgoingServer',
  type: string,
): ServerAddress[] {
  const found: ServerAddress[] = [];
  const pattern = new RegExp(`<${element}\\s+type="${type}"\\s*>([\\s\\S]*?)</${element}>`, 'gi');
  for (const [, block] of xml.matchAll(pattern)) {
    const host = tag(block!, 'hostname');
    const port = Number(tag(block!, 'port'));
    const socket = (tag(block!, 'socketType') ?? '').toUpperCase();
    const security = socket === 'SSL' ? 'tls' : socket === 'STARTTLS' ? 'starttls' : null;
    if (
      host &&
      /^[a-z0-9.-]+$/i.test(host) &&
      Number.isInteger(port) &&
      port > 0 &&
      port < 65536 &&
      security
    ) {
      found.push({ host: host.toLowerCase(), port, security });
    }
  }
  // Implicit TLS first: it cannot be stripped by an attacker on the path.
  return found.sort((a, b) => (a.security === b.security ? 0 : a.security === 'tls' ? -1 : 1));
}

export function parseAutoconfig(xml: string, source: string): DiscoveredServers | null {
  const imap = servers(xml, 'incomingServer', 'imap')[0];
  const smtp = servers(xml, 'outgoingServer', 'smtp')[0];
  return imap && smtp ? { imap, smtp, source } : null;
}

export async function discoverServers(
  email: string,
  resolver?: Resolver,
): Promise<DiscoveredServers | null> {
  const domain = email.split('@')[1]?.toLowerCase();
  if (!domain) return null;
  const query = `?emailaddress=${encodeURIComponent(email)}`;
  const urls = [
    `https://autoconfig.${domain}/mail/config-v1.1.xml${query}`,
    `https://${domain}/.well-known/autoconfig/mail/config-v1.1.xml${query}`,
  ];
  for (const url of urls) {
    try {
      const res = await httpsRequest({
        url,
        ...(resolver ? { resolver } : {}),
        timeoutMs: 8_000,
        maxBytes: 256 * 1024,
      });
      if (res.status !== 200) continue;
      const found = parseAutoconfig(res.body.toString('utf8'), url.replace(/\?.*$/, ''));
      if (found) return found;
    } catch {
      // Not there or not reachable: try the next place.
    }
  }
  return null;
}
