/**
 * `npm run provider -- --domain alpha.test --data <dir> [--host 127.0.0.2] [--config <file.json>]
 *   [--database postgres://…] [--resolver <map.json>] [--api-port N] [--mx-port N] [--submission-port N] [--imap-port N]`
 * starts the whole provider and stops it on Ctrl-C or SIGTERM. A config file holds any of
 * the `startProvider` options (see provider/README.md); flags given on the command line win.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startProvider, type ProviderOptions, type ResolverMap } from './index.js';

const USAGE =
  'usage: npm run provider -- --domain <domain> --data <dir> [--host <ip>] [--config <file.json>] ' +
  '[--database postgres://user@host:port/db] [--resolver <map.json>] [--api-port N] [--mx-port N] [--submission-port N] [--imap-port N] [--closed]';

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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      domain: { type: 'string' },
      data: { type: 'string' },
      host: { type: 'string' },
      config: { type: 'string' },
      resolver: { type: 'string' },
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
  console.error(`provider failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
