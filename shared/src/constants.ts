/** Identity of the add-on and its native host; both sides and the installers read these. */
export const ADDON_ID = 'leapbird@leapbird.org';
export const NATIVE_HOST_NAME = 'org.leapbird.host';
export const PRODUCT_NAME = 'LeapBird';
/** Kept equal to package.json's version (a unit test checks). */
export const VERSION = '0.1.0';

/** Version of the add-on ↔ host protocol; bumped on incompatible changes to shared/src/rpc.ts. */
export const RPC_PROTOCOL_VERSION = 1;

/**
 * Thunderbird kills the port when the host sends a message over 1 MiB (MAX_READ in
 * NativeMessaging.sys.mjs). We stay well below it, leaving room for the chunk envelope.
 */
export const HOST_TO_ADDON_MAX_BYTES = 1024 * 1024;
export const CHUNK_PAYLOAD_BYTES = 768 * 1024;

/**
 * The largest message LeapBird accepts or opens (SMTP submission, decryption). OpenPGP
 * decompression is bounded by it too, so a small compressed message cannot unpack to more.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
