/**
 * `npm run provider -- --domain alpha.test --data <dir> [--host 127.0.0.2]
 *   [--resolver <file.json>] [--api-port N] [--mx-port N] [--submission-port N] [--imap-port N]`
 * starts the whole provider and stops it on Ctrl-C or SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startProvider, type ResolverMap } from './index.js';

const USAGE =
  'usage: npm run provider -- --domain <domain> --data <dir> [--host <ip>] [--resolver <map.json>] ' +
  '[--api-port N] [--mx-port N] [--submission-port N] [--imap-port N] [--closed]';

function port(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`"${value}" is not a port number`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      domain: { type: 'string' },
      data: { type: 'string' },
      host: { type: 'string' },
      resolver: { type: 'string' },
      'api-port': { type: 'string' },
      'mx-port': { type: 'string' },
      'submission-port': { type: 'string' },
      'imap-port': { type: 'string' },
      closed: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.domain || !values.data) {
    console.error(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const resolver = values.resolver
    ? (JSON.parse(readFileSync(values.resolver, 'utf8')) as ResolverMap)
    : {};
  const provider = await startProvider({
    domain: values.domain,
    dataDir: values.data,
    host: values.host ?? '127.0.0.1',
    resolver,
    allowRegistration: !values.closed,
    ports: {
      api: port(values['api-port']),
      mx: port(values['mx-port']),
      submission: port(values['submission-port']),
      imap: port(values['imap-port']),
    },
  });
  const { host, ports } = provider;
  console.log(`provider ${provider.domain} is running`);
  console.log(
    `  API          ${provider.apiUrl}  (TLS name: ${provider.domain} or api.${provider.domain})`,
  );
  console.log(`  provider.json ${provider.apiUrl}/provider.json`);
  console.log(`  CA           ${provider.caFingerprint}`);
  console.log(`  IMAP (TLS)   ${host}:${ports.imap}   STARTTLS ${host}:${ports.imapStarttls}`);
  console.log(
    `  submission   ${host}:${ports.submission} (implicit TLS, AUTH with the session token)`,
  );
  console.log(`  MX           ${host}:${ports.mx}`);
  console.log(`  data         ${values.data}`);
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
