/**
 * What a client reads before logging in: provider.json (LEAP's fields), the CA certificate
 * and the service configurations.
 */
import type { ProviderContext } from '../context.js';
import { ProviderError } from '../errors.js';
import { requireUser } from './accounts.js';
import type { Router } from './http.js';

export function providerJson(ctx: ProviderContext): Record<string, unknown> {
  // Clients reach api.<domain> through DNS in production and through their resolver map
  // (IP + servername) in tests; the certificate carries both names.
  const api = `https://api.${ctx.domain}:${ctx.endpoints().apiPort}`;
  return {
    domain: ctx.domain,
    name: { en: ctx.name },
    description: { en: `Encrypted mail at ${ctx.domain}` },
    languages: ['en'],
    default_language: 'en',
    api_uri: api,
    api_version: '1',
    ca_cert_uri: `${api}/ca.crt`,
    ca_cert_fingerprint: ctx.ca.caFingerprint,
    services: ['mx'],
    service: {
      allow_anonymous: false,
      allow_registration: ctx.allowRegistration,
      allow_free: true,
    },
    enrollment_policy: ctx.allowRegistration ? 'open' : 'closed',
    // LEAP compatibility (also in DNS: `_leap.<domain>` TXT): peers must reach this
    // provider's MX and API only with TLS validated by DANE (TLSA records in DNSSEC).
    leap_federation: { version: 1, validated_tls: ['dane'], dns: `_leap.${ctx.domain}` },
  };
}

function serviceConfig(hostname: string, ip: string, port: number) {
  return {
    serial: 1,
    version: 1,
    hosts: { [hostname.split('.')[0] ?? hostname]: { hostname, ip_address: ip, port } },
    locations: {},
  };
}

export function addBootstrapRoutes(router: Router, ctx: ProviderContext): void {
  router.add('GET', /^\/provider\.json$/, async () => ({ json: providerJson(ctx) }));
  router.add('GET', /^\/ca\.crt$/, async () => ({
    bytes: ctx.ca.caCertPem,
    type: 'application/x-pem-file',
  }));
  router.add('GET', /^\/1\/configs\.json$/, async () => ({
    json: {
      services: {
        smtp: '/1/configs/smtp-service.json',
        soledad: '/1/configs/soledad-service.json',
        imap: '/1/configs/imap-service.json',
      },
    },
  }));
  // As in LEAP, a service's hosts are told to logged-in users only (no anonymous access).
  router.add('GET', /^\/1\/configs\/([a-z]+)-service\.json$/, async (req) => {
    await requireUser(ctx, req);
    const e = ctx.endpoints();
    switch (req.params[0]) {
      case 'smtp':
        return { json: serviceConfig(`smtp.${ctx.domain}`, e.host, e.submissionPort) };
      case 'imap':
        return { json: serviceConfig(`imap.${ctx.domain}`, e.host, e.imapPort) };
      case 'soledad':
        return {
          json: {
            ...serviceConfig(`api.${ctx.domain}`, e.host, e.apiPort),
            sync_uri: `https://api.${ctx.domain}:${e.apiPort}/1/sync`,
          },
        };
      default:
        throw new ProviderError('not_found', `No service "${req.params[0]}"`, 404);
    }
  });
}
