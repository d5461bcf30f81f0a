/**
 * A 50 MB attachment goes through submission, encryption or signing, the outbox and the
 * relay as a stream. Measured in a child process with explicit garbage collection, so
 * garbage not yet collected does not count: the live memory the process gains while it
 * passes stays below the size of the message (a generous bound; streaming needs a few
 * chunks), and so does the growth of its resident set when only signing (the bound
 * is twice the message; holding it in memory once to sign cost over four times).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as openpgp from 'openpgp';
import { expect, it } from 'vitest';
import { decodeTransfer } from '../../native-host/src/crypto/transfer.js';
import { bodyOf, header, topParts } from '../crypto/fixtures.js';
import { TempGpg } from '../crypto/gpg.js';

const CHILD = fileURLToPath(new URL('./large-child.ts', import.meta.url));

interface ChildResult {
  reply: string;
  size: number;
  grown: number;
  rssGrown: number;
  delivered: { size: number; encrypted: boolean; signed: boolean; file: string | null } | null;
  senderPublicKey: string;
  queued: number;
}

async function runChild(mode: 'encrypt' | 'sign', saveTo?: string): Promise<ChildResult> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', CHILD, mode, ...(saveTo ? [saveTo] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('close', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  expect(err.replace(/npm warn.*\n?/g, '')).toBe('');
  expect(code).toBe(0);
  const result = JSON.parse(out) as ChildResult;
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  console.log(
    `${mode}: message ${mib(result.size)} MiB; live memory grew by at most ${mib(result.grown)} MiB, resident set by ${mib(result.rssGrown)} MiB`,
  );
  return result;
}

it('encrypts, queues and relays a 50 MB attachment without holding it in memory', async () => {
  const result = await runChild('encrypt');
  expect(result.reply).toContain('(encrypt)');
  expect(result.queued).toBe(0);
  expect(result.delivered?.encrypted).toBe(true);
  expect(result.delivered!.size).toBeGreaterThan(result.size);
  expect(result.grown).toBeLessThan(result.size);
}, 120_000);

it('signs, queues and relays a 50 MB attachment for a recipient without a key, and gpg verifies it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'smtp-large-signed-'));
  const gpg = await TempGpg.create();
  try {
    const result = await runChild('sign', dir);
    expect(result.reply).toContain('(sign)');
    expect(result.queued).toBe(0);
    expect(result.delivered?.signed).toBe(true);
    expect(result.rssGrown).toBeLessThan(2 * result.size);
    expect(result.grown).toBeLessThan(result.size);

    const received = readFileSync(result.delivered!.file!);
    expect(received.length).toBeGreaterThan(result.size);
    const [signedPart, signaturePart] = topParts(received);
    const [text] = topParts(signedPart!);
    // The 8-bit text with bare LFs went out 7-bit safe and reads as it was written.
    const encoding = header(text!, 'content-transfer-encoding');
    expect(encoding).toBe('quoted-printable');
    expect(decodeTransfer(bodyOf(text!), encoding).toString('utf8')).toBe(
      'Grüße, here is the archive. \r\nSee you!\r\n',
    );
    await gpg.run(['--import'], result.senderPublicKey);
    const verified = await gpg.run([
      '--verify',
      await gpg.write('signature.asc', bodyOf(signaturePart!)),
      await gpg.write('signed-part', signedPart!),
    ]);
    expect(verified.code).toBe(0);
    const sender = await openpgp.readKey({ armoredKey: result.senderPublicKey });
    expect(verified.status.find((l) => l.includes('VALIDSIG'))).toContain(
      sender.getFingerprint().toUpperCase(),
    );
  } finally {
    await gpg.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
