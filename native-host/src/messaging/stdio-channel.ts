/**
 * Wires an RPC peer to the host's stdin/stdout with native-messaging framing. Framing
 * errors are answered where possible and logged; the channel stays usable.
 */
import type { Readable, Writable } from 'node:stream';
import { RpcError } from '../../../shared/src/errors.js';
import type { Envelope } from '../../../shared/src/rpc.js';
import { FrameDecoder, encodeFrame } from './framing.js';

export interface StdioChannelOptions {
  input: Readable;
  output: Writable;
  maxIncomingBytes: number;
  onMessage: (message: unknown) => void;
  onFramingError: (error: RpcError) => void;
  onClose: (reason: { truncatedBytes: number }) => void;
}

export interface Channel {
  send(envelope: Envelope): void;
}

export function openStdioChannel(options: StdioChannelOptions): Channel {
  const decoder = new FrameDecoder(options.maxIncomingBytes);
  let closed = false;
  options.input.on('data', (chunk: Buffer) => {
    for (const item of decoder.push(chunk)) {
      if (item.kind === 'message') options.onMessage(item.value);
      else options.onFramingError(new RpcError(item.error.code, item.error.message));
    }
  });
  const close = () => {
    if (closed) return;
    closed = true;
    options.onClose({ truncatedBytes: decoder.pendingBytes });
  };
  options.input.on('end', close);
  options.input.on('close', close);
  options.input.on('error', close);
  options.output.on('error', close);
  return {
    send(envelope) {
      if (!closed) options.output.write(encodeFrame(envelope));
    },
  };
}
