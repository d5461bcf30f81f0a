import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotInstance } from '../../provider/src/dovecot/index.js';

describe('private Dovecot with a passwd-file', () => {
  let dir: string;
  let dovecot: DovecotInstance;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dovecot-test-'));
    dovecot = await startDovecot({
      dataDir: dir,
      auth: {
        kind: 'passwd-file',
        users: [{ user: 'alice@alpha.test', password: 'correct horse' }],
      },
    });
  });

  afterAll(async () => {
    await dovecot?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function client(pass: string): ImapFlow {
    return new ImapFlow({
      host: dovecot.host,
      port: dovecot.imapPort,
      secure: false,
      auth: { user: 'alice@alpha.test', pass },
      logger: false,
    });
  }

  it('logs a user in with the right password and logs the login', async () => {
    const imap = client('correct horse');
    await imap.connect();
    const status = await imap.status('INBOX', { messages: true });
    expect(status && status.messages).toBe(0);
    await imap.logout();
    expect(readFileSync(dovecot.logPath, 'utf8')).toContain('Login: user=<alice@alpha.test>');
  });

  it('refuses a wrong password', async () => {
    await expect(client('wrong').connect()).rejects.toThrow();
  });

  it('stops the process on stop()', async () => {
    const pid = dovecot.pid;
    await dovecot.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
