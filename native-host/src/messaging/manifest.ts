/**
 * The native-messaging manifest that tells Thunderbird how to start the host, and where
 * each platform looks for it (Gecko's toolkit code; Thunderbird overrides none of it).
 */
import { join } from 'node:path';
import { ADDON_ID, NATIVE_HOST_NAME, PRODUCT_NAME } from '../../../shared/src/constants.js';

export interface NativeManifest {
  name: string;
  description: string;
  path: string;
  type: 'stdio';
  allowed_extensions: string[];
}

export function nativeManifest(launcherPath: string): NativeManifest {
  return {
    name: NATIVE_HOST_NAME,
    description: `${PRODUCT_NAME} native host: local encrypted mail store, IMAP and SMTP for Thunderbird`,
    path: launcherPath,
    type: 'stdio',
    allowed_extensions: [ADDON_ID],
  };
}

/**
 * Per-user manifest file. On Windows the file may live anywhere; Thunderbird finds it
 * through the registry key HKCU\Software\Mozilla\NativeMessagingHosts\<name>.
 */
export function userManifestPath(
  platform: NodeJS.Platform,
  home: string,
  env: NodeJS.ProcessEnv,
): string {
  const file = `${NATIVE_HOST_NAME}.json`;
  switch (platform) {
    case 'darwin':
      return join(home, 'Library', 'Mozilla', 'NativeMessagingHosts', file);
    case 'win32':
      return join(env.APPDATA || join(home, 'AppData', 'Roaming'), PRODUCT_NAME, file);
    default:
      return join(home, '.mozilla', 'native-messaging-hosts', file);
  }
}

export const WINDOWS_REGISTRY_KEY = `HKCU\\Software\\Mozilla\\NativeMessagingHosts\\${NATIVE_HOST_NAME}`;
export const SYSTEM_MANIFEST_DIR_LINUX = '/usr/lib/mozilla/native-messaging-hosts';
