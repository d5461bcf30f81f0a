/**
 * Upstream folder names and special uses mapped to the local store's ('/'-delimited names,
 * RFC 6154 attributes), and back for replaying local changes.
 */
import type { ListResponse } from 'imapflow';
import type { SpecialUse } from '../imap/index.js';

const LOCAL_DELIMITER = '/';
const SPECIAL_USES = new Set<string>([
  '\\All',
  '\\Archive',
  '\\Drafts',
  '\\Flagged',
  '\\Junk',
  '\\Sent',
  '\\Trash',
]);

export interface UpstreamFolder {
  path: string;
  localName: string;
  specialUse: SpecialUse | null;
}

/** Folders that hold messages (not \Noselect / \NonExistent), INBOX first. */
export function selectableFolders(list: ListResponse[]): UpstreamFolder[] {
  return list
    .filter((f) => !f.flags.has('\\Noselect') && !f.flags.has('\\NonExistent'))
    .map((f) => ({
      path: f.path,
      localName: toLocalName(f.path, f.delimiter),
      specialUse:
        f.specialUse && SPECIAL_USES.has(f.specialUse) ? (f.specialUse as SpecialUse) : null,
    }))
    .sort((a, b) => Number(b.localName === 'INBOX') - Number(a.localName === 'INBOX'));
}

export function toLocalName(path: string, delimiter: string | null | undefined): string {
  if (path.toUpperCase() === 'INBOX') return 'INBOX';
  if (!delimiter || delimiter === LOCAL_DELIMITER) return path;
  // A '/' inside an upstream name part cannot be a local name part: it becomes '_'.
  return path
    .split(delimiter)
    .map((part) => part.replaceAll(LOCAL_DELIMITER, '_'))
    .join(LOCAL_DELIMITER);
}

export function toUpstreamPath(localName: string, delimiter: string | null | undefined): string {
  if (!delimiter || delimiter === LOCAL_DELIMITER) return localName;
  return localName.split(LOCAL_DELIMITER).join(delimiter);
}
