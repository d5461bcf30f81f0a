/**
 * A small DNSSEC internet on loopback for the tests: a test root zone and one zone per
 * domain, each signed with ldns-signzone under its own key (the root holds the children's
 * DS records), served by a real knotd, and a real unbound that validates from the test
 * root's trust anchor. Both on 127.0.0.1 with free ports, in a temporary directory, started
 * and stopped by PID. A zone marked `bogus` is signed and then has its signatures broken, so
 * unbound answers SERVFAIL for it, as for a forged answer on the internet.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../../provider/src/net/index.js';

export interface ZoneSpec {
  /** e.g. `alpha.test` (a child of the test root). */
  name: string;
  /** Zone-file lines with absolute or relative owner names, e.g. `mx A 127.0.19.2`. */
  records: string[];
  /** Break the signatures: all (except the DNSKEY set's), or only those of these owner
   * names (relative, e.g. `_leap`). */
  bogus?: boolean | string[];
}

export interface DnsWorld {
  /** `127.0.0.1:<port>` of the validating resolver. */
  resolver: string;
  /** Replaces the zones (re-signed), reloads knotd and empties unbound's cache. */
  setZones(zones: ZoneSpec[]): Promise<void>;
  stop(): Promise<void>;
}

const TTL = 60;

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Generates a key for `zone` in `dir` once; returns the file base name (K<zone>+013+<id>). */
function keyFor(dir: string, zone: string): string {
  const label = zone === '.' ? '.' : `${zone}.`;
  const existing = readdirSync(dir).find(
    (f) => f.startsWith(`K${label === '.' ? '.' : label}+`) && f.endsWith('.key'),
  );
  if (existing) return existing.replace(/\.key$/, '');
  // One key per zone with the SEP flag, used as both KSK and ZSK (a CSK).
  return run('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', label], dir).trim();
}

function zoneText(origin: string, records: string[], nsAddress: string, serial: number): string {
  const o = origin === '.' ? '.' : `${origin}.`;
  return [
    `$ORIGIN ${o}`,
    `$TTL ${TTL}`,
    `@ SOA ns.${o === '.' ? 'root.' : o} hostmaster.${o === '.' ? 'root.' : o} ${serial} 3600 600 86400 ${TTL}`,
    `@ NS ns.${o === '.' ? 'root.' : o}`,
    `ns.${o === '.' ? 'root.' : o} A ${nsAddress}`,
    ...records,
    '',
  ].join('\n');
}

/** Breaks signatures (never the DNSKEY set's): the keys validate, the data does not. */
function breakSignatures(signed: string, owners: string[] | null): string {
  return signed
    .split('\n')
    .map((line) => {
      const f = line.split(/\s+/);
      if (f[3] !== 'RRSIG' || f[4] === 'DNSKEY') return line;
      if (owners && !owners.includes((f[0] as string).toLowerCase())) return line;
      const sig = f[f.length - 1] as string;
      const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
      return [...f.slice(0, -1), flipped].join('\t');
    })
    .join('\n');
}

function signZone(dir: string, origin: string, text: string, bogus: boolean | string[]): string {
  const file = origin === '.' ? 'root.zone' : `${origin}.zone`;
  writeFileSync(join(dir, file), text);
  const key = keyFor(dir, origin);
  run('ldns-signzone', ['-n', '-f', `${file}.signed`, file, key], dir);
  if (bogus) {
    const signedPath = join(dir, `${file}.signed`);
    const owners = Array.isArray(bogus) ? bogus.map((o) => `${o}.${origin}.`.toLowerCase()) : null;
    writeFileSync(signedPath, breakSignatures(readFileSync(signedPath, 'utf8'), owners));
  }
  return `${file}.signed`;
}

function dsOf(dir: string, zone: string): string {
  const key = keyFor(dir, zone);
  const ds = run('ldns-key2ds', ['-n', '-2', `${key}.key`], dir).trim();
  return ds;
}

/** Every rewrite gets a higher serial, however fast: knotd reloads only newer zones. */
function writeZones(dir: string, zones: ZoneSpec[], nsAddress: string, serial: number): string[] {
  const files: string[] = [];
  const delegations: string[] = [];
  for (const z of zones) {
    files.push(
      signZone(dir, z.name, zoneText(z.name, z.records, nsAddress, serial), z.bogus ?? false),
    );
    delegations.push(
      `${z.name}. NS ns.${z.name}.`,
      `ns.${z.name}. A ${nsAddress}`,
      dsOf(dir, z.name),
    );
  }
  files.unshift(signZone(dir, '.', zoneText('.', delegations, nsAddress, serial), false));
  return files;
}

function knotConfig(dir: string, port: number, zones: ZoneSpec[]): string {
  return [
    'server:',
    `  rundir: "${dir}"`,
    `  listen: 127.0.0.1@${port}`,
    'control:',
    `  listen: "${join(dir, 'knot.sock')}"`,
    'database:',
    `  storage: "${dir}"`,
    'log:',
    '  - target: stderr',
    '    any: warning',
    'template:',
    '  - id: default',
    `    storage: "${dir}"`,
    '    zonefile-sync: -1',
    '    zonefile-load: whole',
    '    journal-content: none',
    'zone:',
    '  - domain: .',
    '    file: root.zone.signed',
    ...zones.flatMap((z) => [`  - domain: ${z.name}.`, `    file: ${z.name}.zone.signed`]),
    '',
  ].join('\n');
}

function unboundConfig(dir: string, port: number, knotPort: number, anchor: string): string {
  return [
    'server:',
    `  interface: 127.0.0.1@${port}`,
    `  port: ${port}`,
    '  do-daemonize: no',
    '  username: ""',
    '  chroot: ""',
    `  directory: "${dir}"`,
    `  pidfile: "${join(dir, 'unbound.pid')}"`,
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 0',
    '  do-ip6: no',
    '  do-not-query-localhost: no',
    '  module-config: "validator iterator"',
    `  trust-anchor: "${anchor}"`,
    // Debian's unbound answers test. locally (RFC 6761) unless told not to.
    '  local-zone: "test." nodefault',
    '  qname-minimisation: no',
    '  harden-referral-path: no',
    '  val-bogus-ttl: 1',
    'remote-control:',
    '  control-enable: yes',
    `  control-interface: "${join(dir, 'unbound.ctl')}"`,
    '  control-use-cert: no',
    'stub-zone:',
    '  name: "."',
    `  stub-addr: 127.0.0.1@${knotPort}`,
    '',
  ].join('\n');
}

function started(child: ChildProcess, name: string, log: string[]): () => string | undefined {
  child.stderr?.on('data', (c: Buffer) => log.push(c.toString()));
  child.stdout?.on('data', (c: Buffer) => log.push(c.toString()));
  return () =>
    child.exitCode !== null ? `${name} exited (${child.exitCode}): ${log.join('')}` : undefined;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(
    () => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'),
    3000,
  );
  await exited;
  clearTimeout(timer);
}

export async function startDnsWorld(initial: ZoneSpec[]): Promise<DnsWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'dns-world-'));
  const knotPort = await freePort('127.0.0.1');
  const unboundPort = await freePort('127.0.0.1');
  let zones = initial;
  let serial = 1;
  writeZones(dir, zones, '127.0.0.1', serial);
  const anchor = dsOf(dir, '.');
  writeFileSync(join(dir, 'knot.conf'), knotConfig(dir, knotPort, zones));
  writeFileSync(join(dir, 'unbound.conf'), unboundConfig(dir, unboundPort, knotPort, anchor));

  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const c of children.reverse()) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const knotLog: string[] = [];
    const knot = spawn('knotd', ['-c', join(dir, 'knot.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(knot);
    await waitForPort('127.0.0.1', knotPort, 10_000, started(knot, 'knotd', knotLog));
    const unboundLog: string[] = [];
    const unbound = spawn('unbound', ['-d', '-c', join(dir, 'unbound.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(unbound);
    await waitForPort('127.0.0.1', unboundPort, 10_000, started(unbound, 'unbound', unboundLog));
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    resolver: `127.0.0.1:${unboundPort}`,
    async setZones(next) {
      const names = (zs: ZoneSpec[]) => zs.map((z) => z.name).join(',');
      if (names(next) !== names(zones)) throw new Error('setZones keeps the same domains');
      zones = next;
      serial += 1;
      writeZones(dir, zones, '127.0.0.1', serial);
      run('knotc', ['-c', join(dir, 'knot.conf'), '-b', 'zone-reload'], dir);
      // The new serials are served; what unbound remembers of the old zones goes.
      for (const z of zones)
        run('unbound-control', ['-c', join(dir, 'unbound.conf'), 'flush_zone', z.name], dir);
      run('unbound-control', ['-c', join(dir, 'unbound.conf'), 'flush_bogus'], dir);
      run('unbound-control', ['-c', join(dir, 'unbound.conf'), 'flush_negative'], dir);
    },
    stop,
  };
}
