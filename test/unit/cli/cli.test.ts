/** The terminal commands' pure parts: reading an address, a piped password, and what is printed. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../../native-host/src/cli/address.js';
import { formatCredentials, formatStatus } from '../../../native-host/src/cli/format.js';
import { readPasswordFromStream } from '../../../native-host/src/cli/password.js';

describe('parseAddress', () => {
  it('splits an address into login and provider, in lower case', () => {
    expect(parseAddress(' Alice@Example.ORG ')).toEqual({
      ok: true,
      login: 'alice',
      domain: 'example.org',
    });
  });
  it.each([
    'alice',
    '@example.org',
    'alice@',
    'alice@localhost',
    'a b@example.org',
    'a@ex ample.org',
  ])('refuses %j in a sentence', (text) => {
    const parsed = parseAddress(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(/is not an address; give it as name@provider/);
  });
});

describe('readPasswordFromStream', () => {
  it('takes the first line, without its line end', async () => {
    expect(await readPasswordFromStream(Readable.from(['pass wo', 'rd\r\nnext line\n']))).toBe(
      'pass word',
    );
    expect(await readPasswordFromStream(Readable.from(['no newline at all']))).toBe(
      'no newline at all',
    );
  });
  it('refuses an empty one', async () => {
    await expect(readPasswordFromStream(Readable.from(['\n']))).rejects.toThrow(
      'No password was given on stdin.',
    );
  });
});

describe('what is printed', () => {
  const account = {
    email: 'alice@example.org',
    kind: 'leap' as const,
    imap: { host: '127.0.0.1', port: 40001 },
    smtp: { host: '127.0.0.1', port: 40002 },
  };
  it('status: each account with its state, servers, sync and why it waits', () => {
    const text = formatStatus({
      pid: 7,
      dataDir: '/d',
      log: '/d/logs/host.log',
      addons: 0,
      accounts: [
        {
          ...account,
          state: 'connected',
          message: null,
          sync: { folders: 5, done: 12, total: 12, synced: true },
        },
        {
          ...account,
          email: 'bob@example.org',
          state: 'needs_login',
          message: 'Locked: unlock it with "leapbird-host login bob@example.org".',
          sync: { folders: 0, done: 0, total: 0, synced: false },
        },
      ],
    });
    expect(text).toBe(
      [
        'LeapBird host running (process 7), data /d',
        '  log /d/logs/host.log; Thunderbird connected: no',
        'alice@example.org: connected',
        '  IMAP 127.0.0.1:40001 (TLS), SMTP 127.0.0.1:40002 (TLS)',
        '  sync: 12 of 12 messages in 5 folders, up to date',
        'bob@example.org: needs_login',
        '  IMAP 127.0.0.1:40001 (TLS), SMTP 127.0.0.1:40002 (TLS)',
        '  Locked: unlock it with "leapbird-host login bob@example.org".',
        '',
      ].join('\n'),
    );
  });
  it('credentials: everything a client needs, the certificate by fingerprint and file', () => {
    const text = formatCredentials(
      {
        email: 'alice@example.org',
        username: 'alice@example.org',
        password: 'pw',
        imap: { ...account.imap, security: 'tls' },
        smtp: { ...account.smtp, security: 'tls' },
        certificateFingerprint: 'AB:CD',
        certificatePem: '',
      },
      '/d/tls/local.crt',
    );
    expect(text).toContain('IMAP         host 127.0.0.1, port 40001, TLS from the start (imaps)');
    expect(text).toContain('SMTP         host 127.0.0.1, port 40002, TLS from the start (smtps)');
    expect(text).toContain('user         alice@example.org\npassword     pw\n');
    expect(text).toContain('certificate  SHA-256 AB:CD\n             file /d/tls/local.crt');
  });
});
