/**
 * The host as a process, spoken to exactly as Thunderbird does: framed JSON on stdin and
 * stdout. Garbage gets a clear error and the channel stays usable; closing stdin stops it.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADDON_ID, RPC_PROTOCOL_VERSION } from '../../shared/src/constants.js';
import { FrameDecoder, encodeFrame } from '../../native-host/src/messaging/index.js';
import { waitFor } from '../helpers/wait.js';

const repo = resolve(import.meta.dirname, '..', '..');
const running: { child: ChildProcessWithoutNullStreams; dir: string }[] = [];

afterEach(() => {
  for (const { child, dir } of running.splice(0)) {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

function startHost() {
  const dir = mkdtempSync(join(tmpdir(), 'lb-host-'));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repo, 'native-host/src/main.ts'), '/x/manifest.json', ADDON_ID],
    {
      cwd: repo,
      env: { ...process.env, LEAPBIRD_DATA_DIR: dir },
    },
  );
  running.push({ child, dir });
  const decoder = new FrameDecoder(2 * 1024 * 1024);
  const received: unknown[] = [];
  const badStdout: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    for (const item of decoder.push(chunk)) {
      if (item.kind === 'message') received.push(item.value);
      else badStdout.push(item.error.message);
    }
  });
  const log = () =>
    readFileSync(join(dir, 'logs', 'host.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; code?: string });
  const response = (id: string) =>
    waitFor(
      `response ${id}`,
      () =>
        received.find((m) => (m as { id?: string }).id === id) as
          Record<string, unknown> | undefined,
      20_000,
    );
  return { child, received, badStdout, log, response, dir };
}

describe('native host over stdio', () => {
  it('answers hello and ping, survives garbage, and exits when stdin closes', async () => {
    const host = startHost();
    host.child.stdin.write(
      encodeFrame({
        type: 'request',
        id: 'a1',
        method: 'host.hello',
        params: { addonVersion: 't', thunderbirdVersion: '153.0', protocol: RPC_PROTOCOL_VERSION },
      }),
    );
    expect(await host.response('a1')).toMatchObject({
      type: 'response',
      result: { protocol: RPC_PROTOCOL_VERSION },
    });

    // Garbage: bad JSON, an empty frame, invalid UTF-8, a non-envelope and an unknown method.
    const bad = (bytes: Buffer) => {
      const header = Buffer.alloc(4);
      header.writeUInt32LE(bytes.byteLength, 0);
      return Buffer.concat([header, bytes]);
    };
    host.child.stdin.write(
      Buffer.concat([
        bad(Buffer.from('{nope')),
        bad(Buffer.alloc(0)),
        bad(Buffer.from([0xc3, 0x28])),
      ]),
    );
    host.child.stdin.write(encodeFrame({ id: 'a2', hello: 'world' }));
    host.child.stdin.write(
      encodeFrame({ type: 'request', id: 'a3', method: 'no.such', params: {} }),
    );
    expect(await host.response('a2')).toMatchObject({ error: { code: 'bad_message' } });
    expect(await host.response('a3')).toMatchObject({
      error: { code: 'unknown_method', message: 'Unknown method no.such.' },
    });

    // Still usable afterwards.
    host.child.stdin.write(
      encodeFrame({ type: 'request', id: 'a4', method: 'host.ping', params: { nonce: 'n1' } }),
    );
    expect(await host.response('a4')).toMatchObject({ result: { nonce: 'n1' } });
    const codes = host
      .log()
      .map((e) => e.code)
      .filter(Boolean);
    expect(codes).toEqual(expect.arrayContaining(['bad_json', 'bad_utf8']));
    expect(host.badStdout).toEqual([]); // nothing but frames ever reaches stdout

    host.child.stdin.end();
    await waitFor('the host to exit', () => host.child.exitCode !== null, 10_000);
    expect(host.child.exitCode).toBe(0);
    expect(host.log().some((e) => e.event === 'host.stop')).toBe(true);
  });

  it('refuses an add-on speaking another protocol version, in words', async () => {
    const host = startHost();
    host.child.stdin.write(
      encodeFrame({
        type: 'request',
        id: 'v',
        method: 'host.hello',
        params: { addonVersion: 't', thunderbirdVersion: '153.0', protocol: 999 },
      }),
    );
    const answer = (await host.response('v')) as { error: { code: string; message: string } };
    expect(answer.error.code).toBe('not_supported');
    expect(answer.error.message).toMatch(/update both/);
  });

  it('drops an oversized message without dying', async () => {
    const host = startHost();
    const header = Buffer.alloc(4);
    header.writeUInt32LE(0xfffffff0, 0); // claims ~4 GiB; the host must not try to buffer it
    host.child.stdin.write(header);
    await waitFor('the oversize error in the log', () => {
      try {
        return host.log().some((e) => e.code === 'message_too_large');
      } catch {
        return false;
      }
    });
    expect(host.child.exitCode).toBeNull();
  });
});
