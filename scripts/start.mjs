// `npm start`: installs what is missing, builds, and runs the demo (scripts/demo.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (text) => process.stdout.write(`start: ${text}\n`);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

const debs = ['thunderbird', 'dovecot-imapd', 'dovecot-lmtpd', 'gnupg', 'openssl'];
const missing = debs.filter(
  (deb) =>
    spawnSync('dpkg-query', ['-W', '-f=${Status}', deb], { encoding: 'utf8' }).stdout?.includes(
      'install ok installed',
    ) !== true,
);
if (missing.length) {
  const command = `apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() === 0) {
    say(`installing ${missing.join(', ')}`);
    run('sh', ['-c', `DEBIAN_FRONTEND=noninteractive ${command}`]);
  } else {
    say(
      `missing Debian packages: ${missing.join(', ')}. Install them with:\n\n  sudo sh -c '${command}'\n`,
    );
    process.exit(1);
  }
}
if (!existsSync(join(root, 'node_modules', '.bin', 'tsx'))) {
  say('installing npm packages (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}
say('building the add-on and the native host');
run('node', ['scripts/build.mjs']);
const demo = spawnSync(
  join(root, 'node_modules', '.bin', 'tsx'),
  ['scripts/demo.ts', ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
process.exit(demo.status ?? 1);
