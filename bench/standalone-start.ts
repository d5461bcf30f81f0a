/**
 * How long a person waits with the standalone host: from `leapbird-host serve` to the first
 * IMAP login answered, for an account already set up on this computer (serve, then
 * `leapbird-host login --password-stdin` as soon as it listens, then an IMAP LOGIN over TLS).
 * Anchor: `leapbird-host status` against the running host, i.e. starting the program once.
 *   npx tsx bench/standalone-start.ts [runs]
 *   LEAPBIRD_HOST_MAIN=dist/native-host/native-host/src/main.js npx tsx bench/standalone-start.ts  (the built host)
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { newAccount, startTestProvider } from '../test/provider/helpers.js';
import { cli, credentialsOf, standalonePlace, startServe } from '../test/standalone/helpers.js';
import { median } from './lib/stats.js';

const runs = Number(process.argv[2] ?? 5);
const PASSWORD = 'alice times her mornings';
const provider = await startTestProvider('alpha.test');
await newAccount(provider, 'alice', PASSWORD);
const place = standalonePlace(provider);

const now = () => Number(process.hrtime.bigint()) / 1e6;

async function login(): Promise<void> {
  const result = await cli(place, ['login', 'alice@alpha.test', '--password-stdin'], PASSWORD);
  if (result.code !== 0) throw new Error(result.stderr);
}

/** Connects, waits for the greeting, logs in; resolves at the tagged OK. */
function imapLogin(settings: Awaited<ReturnType<typeof credentialsOf>>): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: settings.imap.host,
      port: settings.imap.port,
      ca: readFileSync(settings.certificateFile, 'utf8'),
    });
    let text = '';
    let sent = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (!sent && text.startsWith('* OK')) {
        sent = true;
        socket.write(`a LOGIN "${settings.username}" "${settings.password}"\r\n`);
      }
      if (/^a OK/m.test(text)) {
        socket.end();
        resolve();
      } else if (/^a (NO|BAD)/m.test(text)) reject(new Error(text));
    });
    socket.on('error', reject);
  });
}

process.on('SIGINT', () => void provider.cleanup().then(() => process.exit(1)));
// The account's first setup on this computer, not timed.
let serve = await startServe(place);
await login();
const settings = await credentialsOf(place, 'alice@alpha.test');
await serve.stop();

const listening: number[] = [];
const unlocked: number[] = [];
const firstLogin: number[] = [];
const anchor: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = now();
  serve = await startServe(place);
  const t1 = now();
  await login();
  const t2 = now();
  await imapLogin(settings);
  const t3 = now();
  await cli(place, ['status']);
  const t4 = now();
  await serve.stop();
  listening.push(t1 - t0);
  unlocked.push(t2 - t1);
  firstLogin.push(t3 - t0);
  anchor.push(t4 - t3);
}
const ms = (x: number) => `${Math.round(x)} ms`;
console.log(`runs: ${runs} (median)`);
console.log(`serve → listening:                 ${ms(median(listening))}`);
console.log(`login (SRP, recovery, store, servers): ${ms(median(unlocked))}`);
console.log(`serve → first IMAP login answered: ${ms(median(firstLogin))}`);
console.log(`anchor: one "leapbird-host status": ${ms(median(anchor))}`);
console.log(
  `ratio first IMAP login / anchor:   ${(median(firstLogin) / median(anchor)).toFixed(1)}`,
);
await provider.cleanup();
place.cleanup();
