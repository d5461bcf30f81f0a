/**
 * Work measured without a clock: the bytes `Buffer.concat` copies while some code runs. A
 * decoder that copies each byte a bounded number of times does work linear in its input.
 */
import { vi } from 'vitest';

export function bytesCopied(work: () => void): number {
  const concat = Buffer.concat.bind(Buffer);
  let copied = 0;
  const spy = vi.spyOn(Buffer, 'concat').mockImplementation((list, length) => {
    const out = concat(list, length);
    copied += out.length;
    return out;
  });
  try {
    work();
  } finally {
    spy.mockRestore();
  }
  return copied;
}
