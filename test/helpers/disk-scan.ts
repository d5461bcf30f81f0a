/**
 * What someone who copies a disk can read: every regular file under a directory, searched
 * for marker strings as plain UTF-8, UTF-16LE and base64 (at each of the three alignments,
 * as MIME stores attachments), and inside Mozilla's LZ4-compressed JSON files
 * (`*.jsonlz4`, `*.mozlz4`: session store and the like) after decompressing them.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface MarkerHit {
  /** Path relative to the scanned directory. */
  file: string;
  marker: string;
  /** How it was found: utf8, utf16le, base64, or one of these inside mozlz4. */
  form: string;
}

/** Every regular file under `dir` (symbolic links and sockets are not followed or read). */
export function regularFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...regularFiles(path));
    else if (entry.isFile() && lstatSync(path).isFile()) out.push(path);
  }
  return out;
}

/** The byte strings that reveal `marker` in a file, with the name of each form. */
export function markerForms(marker: string): { form: string; bytes: Buffer }[] {
  const plain = Buffer.from(marker, 'utf8');
  const forms = [
    { form: 'utf8', bytes: plain },
    { form: 'utf16le', bytes: Buffer.from(marker, 'utf16le') },
  ];
  for (let shift = 0; shift < 3; shift++) {
    // Only the base64 characters that depend on the marker's bytes alone.
    const encoded = Buffer.concat([Buffer.alloc(shift), plain]).toString('base64');
    const start = Math.ceil(shift / 3) * 4;
    const end = Math.floor((shift + plain.length) / 3) * 4;
    forms.push({ form: 'base64', bytes: Buffer.from(encoded.slice(start, end), 'ascii') });
  }
  return forms;
}

/**
 * Finds every marker in every file under `dir`. Plain forms match case-insensitively (an
 * index may fold case); base64 matches the marker as written, so give markers in lower case.
 */
export function scanForMarkers(dir: string, markers: string[]): MarkerHit[] {
  const hits: MarkerHit[] = [];
  const lowered = markers.map((m) => ({ marker: m, forms: markerForms(m.toLowerCase()) }));
  for (const path of regularFiles(dir)) {
    const file = relative(dir, path);
    const raw = readFileSync(path);
    const contents: { prefix: string; bytes: Buffer }[] = [{ prefix: '', bytes: raw }];
    const unpacked = mozLz4(raw);
    if (unpacked) contents.push({ prefix: 'mozlz4 ', bytes: unpacked });
    for (const { prefix, bytes } of contents) {
      const folded = Buffer.from(bytes.toString('latin1').toLowerCase(), 'latin1');
      for (const { marker, forms } of lowered) {
        for (const { form, bytes: needle } of forms) {
          // base64 is case-sensitive: search the raw bytes for it, the folded ones otherwise.
          const haystack = form === 'base64' ? bytes : folded;
          if (haystack.includes(form === 'base64' ? needle : lowerBytes(needle)))
            hits.push({ file, marker, form: prefix + form });
        }
      }
    }
  }
  return dedupe(hits);
}

function lowerBytes(b: Buffer): Buffer {
  return Buffer.from(b.toString('latin1').toLowerCase(), 'latin1');
}

function dedupe(hits: MarkerHit[]): MarkerHit[] {
  const seen = new Set<string>();
  return hits.filter((h) => {
    const key = `${h.file}\0${h.marker}\0${h.form}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const MOZLZ4_MAGIC = Buffer.from('mozLz40\0', 'latin1');

/** Mozilla's "mozLz40\0" + 32-bit size + one LZ4 block, decompressed; null for other files. */
export function mozLz4(file: Buffer): Buffer | null {
  if (file.length < 12 || !file.subarray(0, 8).equals(MOZLZ4_MAGIC)) return null;
  const size = file.readUInt32LE(8);
  const out = Buffer.alloc(size);
  let i = 12;
  let o = 0;
  while (i < file.length) {
    const token = file[i++]!;
    let literals = token >> 4;
    if (literals === 15) {
      let more: number;
      do {
        more = file[i++]!;
        literals += more;
      } while (more === 255);
    }
    file.copy(out, o, i, i + literals);
    i += literals;
    o += literals;
    if (i >= file.length) break; // the last sequence has literals only
    const offset = file.readUInt16LE(i);
    i += 2;
    let length = (token & 15) + 4;
    if ((token & 15) === 15) {
      let more: number;
      do {
        more = file[i++]!;
        length += more;
      } while (more === 255);
    }
    // Byte by byte: a match may overlap the bytes it is copying.
    for (let k = 0; k < length; k++, o++) out[o] = out[o - offset]!;
  }
  return out.subarray(0, o);
}
