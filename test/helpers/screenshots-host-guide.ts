/**
 * Screenshots of what a person sees when the LeapBird program is missing, or installed in a
 * version that speaks an older protocol: the setup tab that opens by itself, in a real
 * Thunderbird on Xvfb. The old program is a stub that refuses the add-on's hello exactly as
 * an old host does (code not_supported, naming the protocol it speaks).
 * Run after `npm run build`:  npx tsx test/helpers/screenshots-host-guide.ts
 * Writes .test-output/screenshots/host-missing.png and host-outdated.png (not committed).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ADDON_ID, NATIVE_HOST_NAME } from '../../shared/src/constants.js';
import { ThunderbirdRun } from './thunderbird.js';
import { startXvfb } from './xvfb.js';

const out = resolve(import.meta.dirname, '..', '..', '.test-output', 'screenshots');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A native host that answers every request as a host of protocol 0 answers a newer add-on. */
const OLD_HOST = `
let buffer = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  while (buffer.length >= 4 && buffer.length >= 4 + buffer.readUInt32LE(0)) {
    const length = buffer.readUInt32LE(0);
    const message = JSON.parse(buffer.subarray(4, 4 + length).toString('utf8'));
    buffer = buffer.subarray(4 + length);
    if (message.type !== 'request') continue;
    const body = Buffer.from(JSON.stringify({
      type: 'response',
      id: message.id,
      error: {
        code: 'not_supported',
        message: 'The add-on speaks protocol ' + message.params?.protocol + ' but this host speaks 0; update both to the same version.',
      },
    }));
    const head = Buffer.alloc(4);
    head.writeUInt32LE(body.length, 0);
    process.stdout.write(Buffer.concat([head, body]));
  }
});
`;

async function shootRun(
  screen: Awaited<ReturnType<typeof startXvfb>>,
  name: string,
  prepare: (home: string) => void,
): Promise<void> {
  const home = join(out, `home-${name}`);
  mkdirSync(home, { recursive: true });
  prepare(home);
  const tb = await ThunderbirdRun.start({
    name: `screenshot-${name}`,
    registerHost: false,
    display: screen.display,
    reuseHome: home,
    hardTimeoutMs: 90_000,
  });
  try {
    await pause(9000); // Thunderbird starts, the add-on finds no usable program, opens setup
    process.stdout.write(`screenshot: ${screen.shoot(join(out, `${name}.png`))}\n`);
  } finally {
    await tb.stop();
  }
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const screen = await startXvfb();
  try {
    await shootRun(screen, 'host-missing', () => {});
    await shootRun(screen, 'host-outdated', (home) => {
      const script = join(home, 'old-host.mjs');
      writeFileSync(script, OLD_HOST);
      const launcher = join(home, 'old-host');
      writeFileSync(launcher, `#!/bin/sh\nexec "${process.execPath}" "${script}"\n`);
      chmodSync(launcher, 0o755);
      const dir = join(home, '.mozilla', 'native-messaging-hosts');
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, `${NATIVE_HOST_NAME}.json`),
        JSON.stringify({
          name: NATIVE_HOST_NAME,
          description: 'an old LeapBird host',
          path: launcher,
          type: 'stdio',
          allowed_extensions: [ADDON_ID],
        }),
      );
    });
  } finally {
    screen.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
