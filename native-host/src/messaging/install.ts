/**
 * Registering the host with Thunderbird for the current user: a launcher script that
 * starts this Node program with an absolute path to node (Thunderbird's PATH may not have
 * it), and the manifest where Gecko looks. `uninstall` removes both.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { nativeManifest, userManifestPath, WINDOWS_REGISTRY_KEY } from './manifest.js';

export interface InstallPaths {
  manifestPath: string;
  launcherPath: string;
}

export function launcherScript(
  nodePath: string,
  mainPath: string,
  platform: NodeJS.Platform,
): string {
  if (platform === 'win32') return `@echo off\r\n"${nodePath}" "${mainPath}" %*\r\n`;
  return `#!/bin/sh\n# Started by Thunderbird through native messaging.\nexec "${nodePath}" "${mainPath}" "$@"\n`;
}

export function install(options: {
  mainPath: string;
  launcherPath: string;
  home?: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  nodePath?: string;
}): InstallPaths {
  const platform = options.platform ?? process.platform;
  const home = options.home ?? homedir();
  const manifestPath = userManifestPath(platform, home, options.env ?? process.env);
  mkdirSync(dirname(options.launcherPath), { recursive: true });
  writeFileSync(
    options.launcherPath,
    launcherScript(options.nodePath ?? process.execPath, options.mainPath, platform),
  );
  chmodSync(options.launcherPath, 0o755);
  mkdirSync(dirname(manifestPath), { recursive: true });
  writeFileSync(manifestPath, JSON.stringify(nativeManifest(options.launcherPath), null, 2) + '\n');
  if (platform === 'win32') {
    execFileSync('reg', [
      'add',
      WINDOWS_REGISTRY_KEY,
      '/ve',
      '/t',
      'REG_SZ',
      '/d',
      manifestPath,
      '/f',
    ]);
  }
  return { manifestPath, launcherPath: options.launcherPath };
}

export function uninstall(options: {
  launcherPath: string;
  home?: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
}): InstallPaths {
  const platform = options.platform ?? process.platform;
  const manifestPath = userManifestPath(
    platform,
    options.home ?? homedir(),
    options.env ?? process.env,
  );
  if (existsSync(manifestPath)) rmSync(manifestPath);
  if (existsSync(options.launcherPath)) rmSync(options.launcherPath);
  if (platform === 'win32') {
    try {
      execFileSync('reg', ['delete', WINDOWS_REGISTRY_KEY, '/f']);
    } catch {
      // Not registered: nothing to remove.
    }
  }
  return { manifestPath, launcherPath: options.launcherPath };
}
