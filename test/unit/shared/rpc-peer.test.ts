import { describe, expect, it } from 'vitest';
import { RpcPeer } from '../../../shared/src/rpc-peer.js';
import type { Envelope, MethodSpec } from '../../../shared/src/rpc.js';
import { RpcError } from '../../../shared/src/errors.js';

type AMethods = {
  echo: MethodSpec<{ text: string }, { text: string }>;
  fail: MethodSpec<object, never>;
};
type BMethods = { big: MethodSpec<{ size: number }, { data: string }> };
type Events = { progress: { done: number } };

/** Two peers wired back to back through JSON, as a real transport would carry them. */
function pair(maxBytesFromB = Infinity) {
  const sentByB: Envelope[] = [];
  const errors: RpcError[] = [];
  const a: RpcPeer<AMethods, BMethods, Events, Events> = new RpcPeer({
    idPrefix: 'a',
    send: (e) => queueMicrotask(() => b.receive(JSON.parse(JSON.stringify(e)))),
    onProtocolError: (e) => errors.push(e),
  });
  const b: RpcPeer<BMethods, AMethods, Events, Events> = new RpcPeer({
    idPrefix: 'b',
    maxMessageBytes: maxBytesFromB,
    send: (e) => {
      sentByB.push(e);
      queueMicrotask(() => a.receive(JSON.parse(JSON.stringify(e))));
    },
  });
  return { a, b, sentByB, errors };
}

describe('typed RPC peer', () => {
  it('answers a request with the handler result', async () => {
    const { a, b } = pair();
    a.handle('echo', ({ text }) => ({ text: text.toUpperCase() }));
    await expect(b.call('echo', { text: 'hi' })).resolves.toEqual({ text: 'HI' });
  });

  it('turns a handler error into {code, message} for the caller', async () => {
    const { a, b } = pair();
    a.handle('fail', () => {
      throw new RpcError('invalid_params', 'That does not work.');
    });
    await expect(b.call('fail', {})).rejects.toMatchObject({
      code: 'invalid_params',
      message: 'That does not work.',
    });
  });

  it('reports an unknown method', async () => {
    const { b } = pair();
    await expect(b.call('echo', { text: 'x' })).rejects.toMatchObject({ code: 'unknown_method' });
  });

  it('times out a call nobody answers, with a readable message', async () => {
    const silent = new RpcPeer<AMethods, BMethods, Events, Events>({
      idPrefix: 's',
      send: () => {},
    });
    await expect(silent.call('big', { size: 1 }, { timeoutMs: 20 })).rejects.toMatchObject({
      code: 'timeout',
      message: expect.stringContaining('big'),
    });
  });

  it('delivers events to listeners', async () => {
    const { a, b } = pair();
    const seen: number[] = [];
    a.on('progress', (p) => seen.push(p.done));
    b.emit('progress', { done: 3 });
    b.emit('progress', { done: 4 });
    await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual([3, 4]);
  });

  it('chunks a response larger than the limit and reassembles it', async () => {
    const { a, b, sentByB } = pair(64 * 1024);
    b.handle('big', ({ size }) => ({ data: 'ü€'.repeat(size) }));
    const { data } = await a.call('big', { size: 100_000 });
    expect(data).toBe('ü€'.repeat(100_000));
    expect(sentByB.length).toBeGreaterThan(5);
    for (const e of sentByB)
      expect(Buffer.byteLength(JSON.stringify(e))).toBeLessThanOrEqual(64 * 1024);
  });

  it('answers a malformed envelope that has an id with bad_message', () => {
    const replies: Envelope[] = [];
    const peer = new RpcPeer<AMethods, BMethods, Events, Events>({
      idPrefix: 'p',
      send: (e) => replies.push(e),
    });
    peer.receive({ id: '7', type: 'nonsense' });
    peer.receive(42);
    expect(replies).toEqual([
      {
        type: 'response',
        id: '7',
        error: { code: 'bad_message', message: 'The message is not a valid RPC envelope.' },
      },
    ]);
  });

  it('rejects pending calls when closed', async () => {
    const peer = new RpcPeer<AMethods, BMethods, Events, Events>({ idPrefix: 'p', send: () => {} });
    const call = peer.call('big', { size: 1 });
    peer.close();
    await expect(call).rejects.toMatchObject({ code: 'disconnected' });
    await expect(peer.call('big', { size: 1 })).rejects.toMatchObject({ code: 'disconnected' });
  });
});
