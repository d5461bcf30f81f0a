export {
  FrameDecoder,
  FramingError,
  encodeFrame,
  type Decoded,
  type FramingErrorCode,
} from './framing.js';
export { openStdioChannel, type Channel, type StdioChannelOptions } from './stdio-channel.js';
export { openControlSocket, type ControlHandler } from './control-socket.js';
export {
  nativeManifest,
  userManifestPath,
  WINDOWS_REGISTRY_KEY,
  SYSTEM_MANIFEST_DIR_LINUX,
  type NativeManifest,
} from './manifest.js';
export { install, uninstall, launcherScript, type InstallPaths } from './install.js';
