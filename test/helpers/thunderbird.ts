/**
 * A throwaway Thunderbird for end-to-end tests: its own HOME and profile, the built add-on
 * sideloaded, the built native host registered for that HOME only, headless, bounded by a
 * hard timeout. The host it starts gets a control socket so the test can ask the add-on to
 * act, and everything it logs is readable here. Logs are copied to .test-output/e2e/<name>/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ADDON_ID } from '../../shared/src/constants.js';
import { install } from '../../native-host/src/messaging/index.js';
import { ControlClient } from './control-client.js';
import { waitFor } from './wait.js';

const repo = resolve(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};
export const builtXpi = join(repo, 'dist', `${pkg.name}-${pkg.version}.xpi`);
export const builtHostMain = join(repo, 'dist', 'native-host', 'native-host', 'src', 'main.js');

const QUIET_PREFS: Record<string, string | number | boolean> = {
  'extensions.autoDisableScopes': 0,
  'extensions.enabledScopes': 15,
  'mail.shell.checkDefaultClient': false,
  'mailnews.start_page.enabled': false,
  'mail.provider.suppress_dialog_on_startup': true,
  'mail.spotlight.firstRunDone': true,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
  'app.update.disabledForTesting': true,
  'browser.dom.window.dump.enabled': true,
  'devtools.console.stdout.content': true,
  'devtools.console.stdout.chrome': true,
  // This machine has no network beyond loopback; without these Thunderbird decides it is
  // offline and never talks to the loopback servers.
  'network.manage-offline-status': false,
  'offline.autoDetect': false,
};

export interface HostLogEntry {
  time: string;
  level: string;
  event: string;
  [field: string]: unknown;
}

export interface ThunderbirdOptions {
  /** Names the artifact folder. */
  name: string;
  /** Kill everything after this long, whatever happens (default 120 s). */
  hardTimeoutMs?: number;
  prefs?: Record<string, string | number | boolean>;
  /** Register the built host for this HOME (default); false relies on a system-wide install. */
  registerHost?: boolean;
  /** Written to the host's `<data dir>/config.json` (e.g. a resolver map to loopback providers). */
  hostConfig?: Record<string, unknown>;
  /** An X display to run on instead of headless: Xvfb's for screenshots, the desktop's for the demo. */
  display?: string;
  /** Start again on the HOME (profile and host data) of an earlier run stopped with keepHome. */
  reuseHome?: string;
}

/** Extra environment for Thunderbird, e.g. LEAPBIRD_TB_MOZ_LOG=IMAP:5,SMTP:5 for protocol logs. */
function debugEnv(): Record<string, string> {
  return process.env.LEAPBIRD_TB_MOZ_LOG ? { MOZ_LOG: process.env.LEAPBIRD_TB_MOZ_LOG } : {};
}

export class ThunderbirdRun {
  private exited: Promise<number | null>;
  private killTimer: NodeJS.Timeout;
  private controlClient: ControlClient | null = null;

  private constructor(
    readonly name: string,
    readonly home: string,
    readonly profile: string,
    readonly dataDir: string,
    readonly controlSocket: string,
    private readonly child: ChildProcess,
    hardTimeoutMs: number,
  ) {
    this.exited = new Promise((resolveExit) => child.once('exit', (code) => resolveExit(code)));
    this.killTimer = setTimeout(() => this.killGroup('SIGKILL'), hardTimeoutMs);
    this.killTimer.unref();
  }

  static async start(options: ThunderbirdOptions): Promise<ThunderbirdRun> {
    for (const artifact of [builtXpi, builtHostMain]) {
      if (!existsSync(artifact))
        throw new Error(`${artifact} is missing: run "npm run build" first`);
    }
    const home = options.reuseHome ?? mkdtempSync(join(tmpdir(), 'lb-e2e-'));
    const profile = join(home, 'profile');
    const dataDir = join(home, 'data');
    // Thunderbird's (and the host's) temporary files land under the run's HOME, where a test
    // can look at them, not in the shared /tmp.
    const tmp = join(home, 'tmp');
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    mkdirSync(join(profile, 'extensions'), { recursive: true });
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    copyFileSync(builtXpi, join(profile, 'extensions', `${ADDON_ID}.xpi`));
    if (options.hostConfig)
      writeFileSync(join(dataDir, 'config.json'), JSON.stringify(options.hostConfig, null, 2));
    const prefs = { ...QUIET_PREFS, ...options.prefs };
    writeFileSync(
      join(profile, 'user.js'),
      Object.entries(prefs)
        .map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`)
        .join('\n') + '\n',
    );
    // Registered exactly as a user would with `npm run install-host`, but for this HOME.
    if (options.registerHost !== false)
      install({
        mainPath: builtHostMain,
        launcherPath: join(home, 'bin', 'leapbird-host'),
        home,
        env: {},
      });

    const controlSocket = join(dataDir, 'control.sock');
    rmSync(controlSocket, { force: true }); // an earlier run's, when the HOME is reused
    const logFile = join(home, 'thunderbird.log');
    writeFileSync(logFile, '');
    const headless = options.display ? [] : ['--headless'];
    const screen = options.display ? { DISPLAY: options.display } : { MOZ_HEADLESS: '1' };
    const child = spawn('thunderbird', [...headless, '--no-remote', '--profile', profile], {
      detached: true, // its own process group, so a timeout kills its helpers too
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: home,
        XDG_CONFIG_HOME: join(home, '.config'),
        XDG_CACHE_HOME: join(home, '.cache'),
        XDG_DATA_HOME: join(home, '.local', 'share'),
        TMPDIR: tmp,
        ...screen,
        LANG: 'C.UTF-8',
        LEAPBIRD_DATA_DIR: dataDir,
        LEAPBIRD_CONTROL_SOCKET: controlSocket,
        ...debugEnv(),
      },
    });
    const append = (chunk: Buffer) => writeFileSync(logFile, chunk, { flag: 'a' });
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    return new ThunderbirdRun(
      options.name,
      home,
      profile,
      dataDir,
      controlSocket,
      child,
      options.hardTimeoutMs ?? 120_000,
    );
  }

  /** The host's structured log, parsed (from the kept artifacts once the run is stopped). */
  hostLog(): HostLogEntry[] {
    const live = join(this.dataDir, 'logs', 'host.log');
    const kept = join(repo, '.test-output', 'e2e', this.name, 'host-logs', 'host.log');
    const file = existsSync(live) ? live : kept;
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as HostLogEntry);
  }

  async waitForHostEvent(event: string, timeoutMs = 60_000): Promise<HostLogEntry> {
    return waitFor(
      `host log event ${event}`,
      () => this.hostLog().find((e) => e.event === event),
      timeoutMs,
    );
  }

  /** Connects to the host's control socket once the add-on has started the host. */
  async control(timeoutMs = 60_000): Promise<ControlClient> {
    if (this.controlClient) return this.controlClient;
    await waitFor(
      'the native host control socket',
      () => existsSync(this.controlSocket),
      timeoutMs,
    );
    this.controlClient = await ControlClient.connect(this.controlSocket);
    await this.controlClient.call('host.waitForAddon', {}, timeoutMs);
    return this.controlClient;
  }

  thunderbirdOutput(): string {
    return readFileSync(join(this.home, 'thunderbird.log'), 'utf8');
  }

  private stopping: Promise<{ exitCode: number | null; clean: boolean }> | null = null;

  /**
   * Quits Thunderbird cleanly through the add-on, falling back to signals. Idempotent.
   * keepHome leaves the profile and host data for a later run (`reuseHome`).
   */
  stop(options: { keepHome?: boolean } = {}): Promise<{ exitCode: number | null; clean: boolean }> {
    this.stopping ??= this.doStop(options.keepHome ?? false);
    return this.stopping;
  }

  private async doStop(keepHome: boolean): Promise<{ exitCode: number | null; clean: boolean }> {
    let clean = false;
    if (this.child.exitCode === null && this.controlClient) {
      // The answer may be lost when Thunderbird closes the port right after sending it;
      // what counts is that Thunderbird exits by itself.
      await this.controlClient.call('app.quit', {}, 5_000).catch(() => undefined);
      clean = (await this.waitExit(20_000)) !== 'timeout';
    }
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.killGroup('SIGTERM');
      if ((await this.waitExit(10_000)) === 'timeout') {
        this.killGroup('SIGKILL');
        await this.waitExit(5_000);
      }
    }
    clearTimeout(this.killTimer);
    this.controlClient?.close();
    this.keepArtifacts();
    if (!keepHome && !process.env.LEAPBIRD_KEEP_E2E)
      rmSync(this.home, { recursive: true, force: true });
    return { exitCode: this.child.exitCode, clean };
  }

  private async waitExit(ms: number): Promise<number | null | 'timeout'> {
    return Promise.race([
      this.exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms)),
    ]);
  }

  private killGroup(signal: NodeJS.Signals): void {
    if (this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // Already gone.
    }
  }

  private keepArtifacts(): void {
    const dest = join(repo, '.test-output', 'e2e', this.name);
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    for (const [from, to] of [
      [join(this.home, 'thunderbird.log'), 'thunderbird.log'],
      [join(this.dataDir, 'logs'), 'host-logs'],
      [join(this.profile, 'prefs.js'), 'prefs.js'],
    ] as const) {
      if (existsSync(from)) cpSync(from, join(dest, to), { recursive: true });
    }
  }
}
