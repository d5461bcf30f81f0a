/**
 * OpenPGP.js (as the host uses it) against GnuPG on the same data and the same keys:
 * encryption, and signing + encryption, of 1 MB and 50 MB, armoured and uncompressed on
 * both sides. Printed as ratios (OpenPGP.js time / gpg time; below 1 = OpenPGP.js faster).
 * gpg's time includes starting the process, as it would for a host that shelled out to it.
 * Also: the host's streaming PGP/MIME path on a 50 MB message generated on the fly, with
 * the peak RSS it added, to show the message is never held whole.
 *
 * Run: npx tsx bench/openpgp-vs-gpg.ts   (about a minute on 2 cores)
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as openpgp from 'openpgp';
import { encryptMessageStream, generateOwnKey } from '../native-host/src/crypto/index.js';
import { TempGpg } from '../test/crypto/gpg.js';

const MB = 1024 * 1024;
const SIZES = [1 * MB, 50 * MB];
const REPEATS: Record<number, number> = { [MB]: 5, [50 * MB]: 1 };
const DEADLINE_MS = 5 * 60_000;

const config = {
  preferredHashAlgorithm: openpgp.enums.hash.sha512,
  preferredSymmetricAlgorithm: openpgp.enums.symmetric.aes256,
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function time(repeats: number, run: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return median(times);
}

async function main(): Promise<void> {
  const guard = setTimeout(() => {
    console.error('benchmark exceeded its time bound; stopping');
    process.exit(2);
  }, DEADLINE_MS);
  guard.unref();

  const gpg = await TempGpg.create();
  try {
    const alice = await generateOwnKey({ address: 'alice@alpha.test' });
    const bob = await generateOwnKey({ address: 'bob@beta.test' });
    await gpg.run(['--import'], alice.privateArmored);
    await gpg.run(['--import'], bob.publicArmored);
    const signingKey = await openpgp.readPrivateKey({ armoredKey: alice.privateArmored });
    const encryptionKey = await openpgp.readKey({ armoredKey: bob.publicArmored });

    // The host's own path: a whole RFC 822 message in, PGP/MIME out, as streams. Measured
    // first, while the heap is small, so the RSS it adds is its own.
    const size = 50 * MB;
    const chunk = randomBytes(64 * 1024)
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n');
    async function* message(): AsyncGenerator<Buffer> {
      yield Buffer.from(
        'From: alice@alpha.test\r\nTo: bob@beta.test\r\nSubject: big\r\nMessage-ID: <big@alpha.test>\r\n' +
          'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n',
      );
      for (let sent = 0; sent < size; sent += chunk.length) yield Buffer.from(chunk);
    }
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const start = performance.now();
    const stream = await encryptMessageStream(message(), {
      senderAddress: 'alice@alpha.test',
      senderPrivateKey: alice.privateArmored,
      recipientKeys: [bob.publicArmored],
    });
    if (!stream.ok) throw new Error(stream.error.message);
    let out = 0;
    for await (const piece of stream.value) out += (piece as Buffer).length;
    const elapsed = performance.now() - start;
    clearInterval(sampler);
    console.log(
      `streaming PGP/MIME sign+encrypt of a ${size / MB} MB message: ${elapsed.toFixed(0)} ms, ` +
        `${(size / MB / (elapsed / 1000)).toFixed(1)} MB/s, output ${(out / MB).toFixed(1)} MB, ` +
        `peak RSS +${((peak - baseline) / MB).toFixed(0)} MB over the ${(baseline / MB).toFixed(0)} MB before`,
    );

    console.log(
      `${openpgp.config.versionString} vs ${(await gpg.run(['--version'])).stdout.toString().split('\n')[0]}`,
    );
    console.log('size    mode            openpgp.js ms   gpg ms   ratio (js/gpg)   js MB/s');
    for (const size of SIZES) {
      const data = randomBytes(size);
      const input = await gpg.write(`data-${size}`, data);
      const output = `${input}.asc`;
      for (const sign of [false, true]) {
        const js = await time(REPEATS[size] ?? 1, async () => {
          const message = await openpgp.createMessage({ binary: data });
          return openpgp.encrypt({
            message,
            encryptionKeys: encryptionKey,
            ...(sign ? { signingKeys: signingKey } : {}),
            format: 'armored',
            config,
          });
        });
        const native = await time(REPEATS[size] ?? 1, async () => {
          const args = [
            '--armor',
            '--compress-algo',
            'none',
            '--cipher-algo',
            'AES256',
            '--digest-algo',
            'SHA512',
          ];
          const act = sign ? ['--sign', '-u', alice.fingerprint, '--encrypt'] : ['--encrypt'];
          const result = await gpg.run([
            ...args,
            ...act,
            '-r',
            bob.fingerprint,
            '-o',
            output,
            input,
          ]);
          if (result.code !== 0) throw new Error(`gpg failed: ${result.stderr}`);
        });
        const mode = sign ? 'sign+encrypt' : 'encrypt';
        console.log(
          `${String(size / MB).padStart(3)} MB  ${mode.padEnd(14)}  ${js.toFixed(0).padStart(13)}  ${native.toFixed(0).padStart(7)}  ${(js / native).toFixed(2).padStart(15)}  ${(size / MB / (js / 1000)).toFixed(1).padStart(8)}`,
        );
      }
    }
  } finally {
    await gpg.dispose();
  }
}

await main();
