/**
 * Local submission cost: 20 KB messages with one recipient, sent by a client
 *   (a) through the host: local SMTP server, key lookup, encrypt + sign, durable outbox,
 *       relay to the provider's submission server;
 *   (b) straight to the same relay without encryption (the anchor).
 * "Back to back" submits a round without waiting for the relay (as Thunderbird does: it
 * waits only for 250) and counts until the outbox has emptied.
 * Both end in the same provider (alpha.test on 127.0.0.2, encryption on receipt off so the
 * far end costs the same), one message at a time, one relay connection per message as the
 * outbox makes them. Runs alternate so load from other processes hits both alike. Prints
 * throughput and latency side by side, and the ratios.
 *
 *   npx tsx bench/smtp-submission.ts [messages per round, default 30]
 */
import { randomBytes } from 'node:crypto';
import { generateOwnKey } from '../native-host/src/crypto/index.js';
import { relayMessage, type RelayEndpoint } from '../native-host/src/smtp/index.js';
import { Readable } from 'node:stream';
import {
  newAccount,
  startTestProvider,
  uploadKey,
  type TestProvider,
} from '../test/provider/helpers.js';
import { startHost, submit, type TestHost } from '../test/smtp/helpers.js';

const PER_ROUND = Number(process.argv[2] ?? 30);
const ROUNDS = 3;
const BODY_BYTES = 20 * 1024;

function message(from: string, to: string, n: number): Buffer {
  const text = randomBytes((BODY_BYTES * 3) / 4)
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      `From: ${from}`,
      `To: ${to}`,
      `Subject: Benchmark message ${n}`,
      `Message-ID: <bench-${n}-${randomBytes(6).toString('hex')}@alpha.test>`,
      `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      text,
      '',
    ].join('\r\n'),
  );
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

interface Samples {
  /** Until the client heard 250. */
  accepted: number[];
  /** Until the relay took it. */
  relayed: number[];
  seconds: number;
  count: number;
}

const empty = (): Samples => ({ accepted: [], relayed: [], seconds: 0, count: 0 });

async function main() {
  const alpha: TestProvider = await startTestProvider('alpha.test', '127.0.0.2', {
    encryptIncoming: false,
  });
  let host: TestHost | null = null;
  try {
    const alice = await newAccount(alpha, 'alice');
    const bob = await newAccount(alpha, 'bob');
    const bobKey = await generateOwnKey({ address: bob.address });
    await uploadKey(alpha, bob, bobKey.publicArmored);
    const endpoint: RelayEndpoint = {
      host: alpha.host,
      port: alpha.ports.submission,
      secure: true,
      servername: alpha.domain,
      ca: alpha.caCertPem,
      user: alice.address,
      accessToken: async () => alice.token,
    };
    host = await startHost(alice.address, { relay: async () => endpoint });
    await host.keys.consider(bob.address, bobKey.publicArmored, 'manual');
    const envelope = { from: alice.address, to: [bob.address] };

    const viaHost = empty();
    const direct = empty();
    let n = 0;
    const runHost = async (s: Samples, count: number) => {
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        const reply = await submit(host!, envelope, message(alice.address, bob.address, n++));
        if (!reply.includes('(encrypt)')) throw new Error(`not encrypted: ${reply}`);
        const t1 = performance.now();
        await host!.outbox.flush();
        s.accepted.push(t1 - t0);
        s.relayed.push(performance.now() - t0);
      }
      if (host!.outbox.list().length) throw new Error('the outbox did not empty');
      s.seconds += (performance.now() - start) / 1000;
      s.count += count;
    };
    const runDirect = async (s: Samples, count: number) => {
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        const outcome = await relayMessage(
          endpoint,
          envelope,
          Readable.from([message(alice.address, bob.address, n++)]),
        );
        if (!outcome.ok) throw new Error(outcome.reason);
        const t = performance.now() - t0;
        s.accepted.push(t);
        s.relayed.push(t);
      }
      s.seconds += (performance.now() - start) / 1000;
      s.count += count;
    };

    /** Back to back: the client only waits for 250; the outbox relays meanwhile. */
    const burst = { seconds: 0, count: 0 };
    const runBurst = async (count: number) => {
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        await submit(host!, envelope, message(alice.address, bob.address, n++));
      }
      const deadline = Date.now() + 120_000;
      while (host!.outbox.list().length > 0) {
        if (Date.now() > deadline) throw new Error('the outbox did not empty in time');
        await host!.outbox.flush();
      }
      burst.seconds += (performance.now() - start) / 1000;
      burst.count += count;
    };

    // Warm-up (key parsing caches, TLS, JIT), not counted.
    await runHost(empty(), 5);
    await runDirect(empty(), 5);
    for (let round = 0; round < ROUNDS; round++) {
      await runHost(viaHost, PER_ROUND);
      await runDirect(direct, PER_ROUND);
      await runBurst(PER_ROUND);
    }

    const rate = (s: Samples) => s.count / s.seconds;
    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const rows: [string, number, number][] = [
      ['throughput (msg/s)', rate(viaHost), rate(direct)],
      ['throughput, back to back', burst.count / burst.seconds, rate(direct)],
      ['latency to 250, median', quantile(viaHost.accepted, 0.5), quantile(direct.accepted, 0.5)],
      ['latency to 250, p95', quantile(viaHost.accepted, 0.95), quantile(direct.accepted, 0.95)],
      ['latency to relay, median', quantile(viaHost.relayed, 0.5), quantile(direct.relayed, 0.5)],
      ['latency to relay, p95', quantile(viaHost.relayed, 0.95), quantile(direct.relayed, 0.95)],
    ];
    console.log(
      `20 KB messages, 1 recipient, ${viaHost.count} per path in ${ROUNDS} alternating rounds`,
    );
    console.log(
      `${'metric'.padEnd(28)}${'host: encrypt+sign+queue+relay'.padStart(32)}${'anchor: relay only'.padStart(22)}${'ratio'.padStart(10)}`,
    );
    for (const [name, a, b] of rows) {
      const fmt = name.startsWith('throughput') ? (v: number) => v.toFixed(1) : ms;
      console.log(
        `${name.padEnd(28)}${fmt(a).padStart(32)}${fmt(b).padStart(22)}${(a / b).toFixed(2).padStart(10)}`,
      );
    }
  } finally {
    await host?.cleanup();
    await alpha.cleanup();
  }
}

await main();
