/** The pages' way to the background (and through it to the host). */
import { RpcError } from '../../shared/src/errors.js';
import type { HostMethods } from '../../shared/src/rpc.js';
import type { PageHostMethod, UiBroadcast, UiReply, UiRequest } from '../lib/messages.js';

export async function ask<T>(request: UiRequest): Promise<T> {
  const reply = (await messenger.runtime.sendMessage(request)) as UiReply<T> | undefined;
  if (!reply) throw new RpcError('host_unavailable', 'LeapBird is still starting; try again.');
  if (!reply.ok) throw new RpcError(reply.error.code, reply.error.message);
  return reply.value;
}

export function callHost<M extends PageHostMethod>(
  method: M,
  params: HostMethods[M]['params'],
): Promise<HostMethods[M]['result']> {
  return ask({ type: 'host.call', method, params } as UiRequest);
}

export function onBroadcast(listener: (message: UiBroadcast) => void): () => void {
  const wrapped = (message: UiBroadcast) => {
    if (message && typeof message === 'object' && 'type' in message) listener(message);
    return undefined;
  };
  messenger.runtime.onMessage.addListener(wrapped);
  return () => messenger.runtime.onMessage.removeListener(wrapped);
}
