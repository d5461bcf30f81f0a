/**
 * Durable file writes: data reaches the disk before the name that points at it, and the
 * name reaches the disk before anyone is told the write is done.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function fsyncDirectory(dir: string): Promise<void> {
  // Windows cannot open a directory to sync it; NTFS journals the rename itself.
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Renames a fully written and fsynced temporary file into place, then fsyncs the directory. */
export async function commitRename(tempPath: string, finalPath: string): Promise<void> {
  await rename(tempPath, finalPath);
  await fsyncDirectory(dirname(finalPath));
}

/** Writes a small file atomically: temp file, fsync, rename, fsync the directory. */
export async function writeFileDurably(path: string, data: string | Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  await commitRename(temp, path);
}
