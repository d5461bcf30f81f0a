/**
 * A password from the terminal without echo, or from standard input for scripts
 * (`--password-stdin`: everything up to the first newline).
 */
import type { Readable, Writable } from 'node:stream';
import { CommandError } from './control-client.js';

export async function readPasswordFromStream(input: Readable): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  const password = text.split(/\r?\n/)[0] ?? '';
  if (!password) throw new CommandError('invalid_params', 'No password was given on stdin.');
  return password;
}

/** Raw mode: each key arrives as typed and nothing is echoed; Enter ends, Ctrl-C aborts. */
export function readPasswordFromTerminal(
  prompt: string,
  input: NodeJS.ReadStream = process.stdin,
  output: Writable = process.stderr,
): Promise<string> {
  if (!input.isTTY)
    throw new CommandError(
      'invalid_params',
      'Standard input is not a terminal; pass the password with --password-stdin.',
    );
  // Echo off before the prompt shows: a password typed or pasted at once must not appear.
  input.setRawMode(true);
  output.write(prompt);
  input.resume();
  input.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let password = '';
    const done = (error: Error | null) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      output.write('\n');
      if (error) reject(error);
      else resolve(password);
    };
    const onData = (text: string) => {
      for (const char of text) {
        if (char === '\r' || char === '\n') return done(null);
        if (char === '\u0003' || char === '\u0004')
          return done(new CommandError('cancelled', 'Cancelled.'));
        if (char === '\u007f' || char === '\b') password = password.slice(0, -1);
        else if (char >= ' ') password += char;
      }
    };
    input.on('data', onData);
  });
}
