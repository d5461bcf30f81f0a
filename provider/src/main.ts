/**
 * `npm run provider -- --domain alpha.test --data <dir> [--host 127.0.0.2] [--config <file.json>]
 *   [--database postgres://…] [--resolver <map.json>] [--dns-resolver ip:port] [--api-port N]
 *   [--mx-port N] [--submission-port N] [--imap-port N]`
 * starts the whole provider and stops it on Ctrl-C or SIGTERM. A config file holds any of
 * the `startProvider` options (see provider/README.md); flags given on the command line win.
 *
 * `npm run provider -- records --domain alpha.test --data <dir> [--ip A] [--ip6 AAAA]
 *   [--next-cert file.pem] [--sts-mode enforce|testing|none]` prints what to publish: DNS
 * records (MX, TLSA for MX and API, LEAP announcement, MTA-STS) and the MTA-STS policy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startProvider, type ProviderOptions, type ResolverMap } from './index.js';
import { dnsRecords, stsPolicy, type PublishInput } from './publish/index.js';

const USAGE =
  'usage: npm run provider -- --domain <domain> --data <dir> [--host <ip>] [--config <file.json>] ' +
  '[--database postgres://user@host:port/db] [--resolver <map.json>] [--dns-resolver <ip:port>] [--api-port N] [--mx-port N] [--submission-port N] [--imap-port N] [--closed]';

function port(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`"${value}" is not a port number`);
  return n;
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Drops undefined entries so they do not override values from the config file. */
function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const RECORDS_USAGE =
  'usage: npm run provider -- records --domain <domain> --data <dir> [--ip <v4>]... [--ip6 <v6>]... ' +
  '[--next-cert <file.pem>] [--sts-mode enforce|testing|none] [--smtp-port N] [--https-port N]';

function records(args: string[]): void {
  const { values } = parseArgs({
    args,
    options: {
      domain: { type: 'string' },
      data: { type: 'string' },
      ip: { type: 'string', multiple: true },
      ip6: { type: 'string', multiple: true },
      'next-cert': { type: 'string' },
      'sts-mode': { type: 'string' },
      'smtp-port': { type: 'string' },
      'https-port': { type: 'string' },
    },
  });
  const certPath = values.data ? join(values.data, 'ca', 'server.crt') : '';
  if (!values.domain || !values.data) {
    console.error(RECORDS_USAGE);
    process.exit(2);
  }
  if (!existsSync(certPath))
    throw new Error(`${certPath} does not exist: start the provider once to create it`);
  const mode = values['sts-mode'] ?? 'testing';
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none')
    throw new Error(`--sts-mode must be enforce, testing or none, not "${mode}"`);
  const input: PublishInput = {
    domain: values.domain.toLowerCase(),
    certPem: readFileSync(certPath, 'utf8'),
    caCertPem: readFileSync(join(values.data, 'ca', 'ca.crt'), 'utf8'),
    ...(values['next-cert'] ? { nextCertPem: readFileSync(values['next-cert'], 'utf8') } : {}),
    ipv4: values.ip ?? [],
    ipv6: values.ip6 ?? [],
    smtpPort: port(values['smtp-port']) ?? 25,
    httpsPort: port(values['https-port']) ?? 443,
    stsMode: mode,
  };
  console.log(`; DNS records for ${input.domain} (sign the zone with DNSSEC: TLSA needs it)`);
  for (const line of dnsRecords(input)) console.log(line);
  console.log(
    `\n; MTA-STS policy: serve as https://mta-sts.${input.domain}/.well-known/mta-sts.txt`,
  );
  process.stdout.write(stsPolicy(input).replace(/\r\n/g, '\n'));
}

async function main(): Promise<void> {
  if (process.argv[2] === 'records') return records(process.argv.slice(3));
  const { values } = parseArgs({
    options: {
      domain: { type: 'string' },
      data: { type: 'string' },
      host: { type: 'string' },
      config: { type: 'string' },
      resolver: { type: 'string' },
      'dns-resolver': { type: 'string' },
      database: { type: 'string' },
      'api-port': { type: 'string' },
      'mx-port': { type: 'string' },
      'submission-port': { type: 'string' },
      'imap-port': { type: 'string' },
      closed: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const file: Partial<ProviderOptions> = values.config ? readJson(values.config) : {};
  const domain = values.domain ?? file.domain;
  const dataDir = values.data ?? file.dataDir;
  if (values.help || !domain || !dataDir) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const provider = await startProvider({
    ...file,
    domain,
    dataDir,
    ...defined({
      host: values.host,
      database: values.database,
      resolver: values.resolver ? readJson<ResolverMap>(values.resolver) : undefined,
      allowRegistration: values.closed ? false : undefined,
      dns: values['dns-resolver'] ? { ...file.dns, resolver: values['dns-resolver'] } : undefined,
    }),
    ports: {
      ...file.ports,
      ...defined({
        api: port(values['api-port']),
        mx: port(values['mx-port']),
        submission: port(values['submission-port']),
        imap: port(values['imap-port']),
      }),
    },
  });
  const { host, ports } = provider;
  console.log(`provider ${provider.domain} is running`);
  console.log(
    `  API           ${provider.apiUrl}  (TLS name: ${provider.domain} or api.${provider.domain})`,
  );
  console.log(`  provider.json ${provider.apiUrl}/provider.json`);
  console.log(`  CA            ${provider.caFingerprint}`);
  console.log(`  IMAP (TLS)    ${host}:${ports.imap}   STARTTLS ${host}:${ports.imapStarttls}`);
  console.log(
    `  submission    ${host}:${ports.submission} (implicit TLS, AUTH with the session token)`,
  );
  console.log(`  MX            ${host}:${ports.mx}`);
  console.log(`  data          ${dataDir}`);
  const database = values.database ?? file.database;
  // The URL may hold a password: only where it points is printed.
  console.log(
    `  database      ${database ? `PostgreSQL ${new URL(database).host}${new URL(database).pathname}` : `SQLite in ${dataDir}`}`,
  );
  console.log('Ctrl-C stops everything.');

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    provider.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(`provider failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
