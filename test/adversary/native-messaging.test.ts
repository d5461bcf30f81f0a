/**
 * The attacker writes crafted chunked messages onto the host's native-messaging channel (a
 * compromised add-on process, or whatever else gets to write to the host's stdin). Chunked
 * messages are put back together one at a time, in order, within the size a single message
 * may have; anything else is refused in words, and the host keeps answering. (Before the
 * fix a chunk could claim 2^32 siblings, which cost seconds of work per chunk, the whole was
 * bounded only by a fixed 256 MiB whatever the host's limit, and an unfinished message
 * stayed in memory for ever.)
 *
 * The host is the real one (`startHost`), fed framed bytes on its stdin.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHUNK_COUNT, toSendable } from '../../shared/src/chunking.js';
import type { ChunkEnvelope, Envelope } from '../../shared/src/rpc.js';
import { encodeFrame } from '../../native-host/src/messaging/index.js';
import { startHostAsAddon, type AddonSide } from '../helpers/addon-side.js';
import { waitFor } from '../helpers/wait.js';

/** What the host accepts as one message here: small, so the size attack stays cheap. */
const LIMIT = 1024 * 1024;

describe('crafted chunks on the native-messaging channel', () => {
  let dir: string;
  let side: AddonSide;
  let nextId = 1;

  const send = (envelope: Envelope | ChunkEnvelope) => side.writeRaw(encodeFrame(envelope));
  const chunk = (id: string, index: number, count: number, bytes: Buffer | string) =>
    send({ type: 'chunk', id, index, count, data: Buffer.from(bytes).toString('base64') });
  /** A ping split into chunks of 64 KiB, as an honest peer sends a large request. */
  const chunkedPing = (id: string, nonce = 'n'.repeat(200_000)) =>
    toSendable({ type: 'request', id, method: 'host.ping', params: { nonce } }, 64 * 1024, id);
  const answered = (id: string) =>
    side.received.some((m) => (m as { type?: string; id?: string }).id === id);
  /** The host answers a whole (chunked) request after the attack. */
  const stillAnswers = async () => {
    const id = `honest-${nextId++}`;
    for (const part of chunkedPing(id)) send(part);
    await waitFor(`an answer to ${id}`, () => answered(id), 20_000);
  };
  /** The host's words for what it refused, from its log. */
  const refusals = () =>
    readFileSync(join(dir, 'logs', 'host.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event: string; message?: string })
      .filter((entry) => entry.event === 'rpc.protocol_error')
      .map((entry) => entry.message ?? '');
  const refusedWith = (pattern: RegExp) =>
    waitFor(`the host to refuse with ${pattern}`, () => refusals().find((m) => pattern.test(m)));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lb-chunks-'));
    side = await startHostAsAddon({ dataDir: dir, maxIncomingMessageBytes: LIMIT });
  });

  afterAll(async () => {
    await side?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('claims four billion chunks', async () => {
    chunk('huge', 0, 2 ** 32 - 1, 'x');
    expect(await refusedWith(/huge: a message has 1 to 1024 chunks/)).toBeTruthy();
    expect(MAX_CHUNK_COUNT).toBe(1024);
    await stillAnswers();
  });

  it('sends chunks that add up to more than one message may have', async () => {
    const half = Buffer.alloc(LIMIT / 2, 'a');
    for (let i = 0; i < 3; i++) chunk('fat', i, 3, half);
    expect(await refusedWith(/fat exceeds 1048576 bytes/)).toBeTruthy();
    await stillAnswers();
  });

  it('leaves a chunked message unfinished', async () => {
    const parts = chunkedPing('stalled');
    expect(parts.length).toBeGreaterThan(2);
    send(parts[0]!);
    send(parts[1]!);
    // Whatever comes next ends it: honest peers send a message's chunks back to back.
    await stillAnswers();
    expect(
      await refusedWith(
        new RegExp(
          `dropped the unfinished chunked message stalled \\(2 of ${parts.length} chunks\\): another message arrived`,
        ),
      ),
    ).toBeTruthy();
    // Its remaining chunks find nothing to complete.
    for (const part of parts.slice(2)) send(part);
    expect(await refusedWith(/stalled arrived without the chunks before it/)).toBeTruthy();
    await stillAnswers();
    expect(answered('stalled')).toBe(false);
  });

  it('sends chunks out of order and twice', async () => {
    const parts = chunkedPing('shuffled');
    send(parts[1]!);
    expect(await refusedWith(/chunk 1 of \d+ of shuffled arrived without the chunks/)).toBeTruthy();
    send(parts[0]!);
    send(parts[0]!);
    expect(await refusedWith(/chunk 0 of \d+ of shuffled does not follow chunk 0/)).toBeTruthy();
    for (const part of parts.slice(1)) send(part);
    await stillAnswers();
    expect(answered('shuffled')).toBe(false);
  });

  it('sends chunk data that is not base64', async () => {
    send({ type: 'chunk', id: 'garbled', index: 0, count: 2, data: '%%% not base64 %%%' });
    expect(await refusedWith(/chunk 0 of 2 of garbled is not base64/)).toBeTruthy();
    await stillAnswers();
  });
});
