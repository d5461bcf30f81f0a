// A ZIP writer whose output depends only on the files' names and contents, so that anyone
// can rebuild the XPI and get the same bytes (web-ext stores each file's mtime, and the
// order it happens to walk the folder).
//
// What is fixed: entries sorted by name (bytewise, '/' as separator), no directory entries,
// every timestamp the same (the given epoch, as a DOS date in UTC), every file mode 0644 and
// "made by Unix", no extra fields, no data descriptors, no comment. Contents are deflated by
// node:zlib at a fixed level (stored when deflating does not help). The format is APPNOTE
// 6.3.x with nothing beyond 2.0 features; Gecko reads it as it reads any XPI.
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

const DOS_EPOCH = Date.UTC(1980, 0, 1) / 1000;

/** Seconds since 1970 as DOS date and time fields (UTC, 2-second resolution). */
export function dosDateTime(epochSeconds) {
  const d = new Date(Math.max(epochSeconds, DOS_EPOCH) * 1000);
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
  const date = ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  return { time, date };
}

/** Every regular file under dir, as '/'-separated paths relative to it, sorted. */
export function listFiles(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const path = join(dir, entry);
    if (statSync(path).isFile()) files.push(relative(dir, path).split(sep).join('/'));
  }
  return files.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * The ZIP archive of entries [{ name, data }] as one Buffer. Sorts them itself; a name
 * that appears twice is an error rather than a silently shadowed file.
 */
export function zipEntries(entries, epochSeconds) {
  const sorted = [...entries].sort((a, b) =>
    Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
  );
  const { time, date } = dosDateTime(epochSeconds);
  const locals = [];
  const centrals = [];
  let offset = 0;
  let previous = null;
  for (const { name, data } of sorted) {
    if (name === previous) throw new Error(`zip: the name ${name} appears twice`);
    previous = name;
    const nameBytes = Buffer.from(name, 'utf8');
    const deflated = deflateRawSync(data, { level: 9 });
    const [method, body] = deflated.length < data.length ? [8, deflated] : [0, data];
    const crc = crc32(data);
    // Bit 11: the name is UTF-8 (only set when it is not plain ASCII, as zip tools do).
    const flags = /^[\x20-\x7e]*$/.test(name) ? 0 : 0x0800;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28); // no extra field (no extended timestamps, no uid/gid)
    locals.push(local, nameBytes, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, spec 2.0 (so the mode below counts)
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    // extra length, comment length, disk number, internal attributes: all 0
    central.writeUInt32LE(0o100644 * 0x10000, 38); // regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);

    offset += local.length + nameBytes.length + body.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  if (sorted.length > 0xffff || offset + centralSize > 0xffffffff)
    throw new Error('zip: too large for a ZIP without ZIP64');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(sorted.length, 8);
  end.writeUInt16LE(sorted.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

/** Zips every file under dir into out; returns the entry names. */
export function zipFolder(dir, out, epochSeconds) {
  const names = listFiles(dir);
  writeFileSync(
    out,
    zipEntries(
      names.map((name) => ({ name, data: readFileSync(join(dir, name)) })),
      epochSeconds,
    ),
  );
  return names;
}
