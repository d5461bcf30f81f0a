/**
 * A virtual X display for tests and scripts that need to see what a person sees: Thunderbird
 * runs on it (instead of headless) and `shoot` saves the whole screen as a PNG (ImageMagick's
 * `import`). Needs the Debian packages xvfb and imagemagick.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { waitFor } from './wait.js';

export interface VirtualDisplay {
  /** The X display, e.g. ":91", for Thunderbird's `display` option. */
  display: string;
  /** Saves the whole screen to `file` (a .png) and returns the path. */
  shoot(file: string): string;
  stop(): void;
}

function freeDisplay(): string {
  for (let n = 90; n < 140; n++) {
    if (!existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`)) return `:${n}`;
  }
  throw new Error('no free X display number');
}

export async function startXvfb(size = '1280x860'): Promise<VirtualDisplay> {
  const display = freeDisplay();
  const xvfb = spawn('Xvfb', [display, '-screen', '0', `${size}x24`, '-nolisten', 'tcp'], {
    stdio: 'ignore',
  });
  try {
    await waitFor('Xvfb', () => existsSync(`/tmp/.X11-unix/X${display.slice(1)}`), 10_000);
  } catch (error) {
    xvfb.kill('SIGTERM');
    throw error;
  }
  return {
    display,
    shoot(file) {
      mkdirSync(dirname(file), { recursive: true });
      execFileSync('import', ['-display', display, '-window', 'root', file], { timeout: 20_000 });
      return file;
    },
    stop() {
      xvfb.kill('SIGTERM');
    },
  };
}
