import { describe, expect, it } from 'vitest';
import { runLegacySetup, runSetup } from '../../../extension/lib/setup.js';
import type { AccountSpec, SetupResult } from '../../../shared/src/rpc.js';

const account: AccountSpec = {
  email: 'lena@legacy.test',
  fullName: 'lena',
  username: 'lena@legacy.test',
  password: 'local',
  imap: { host: '127.0.0.1', port: 1143 },
  smtp: { host: '127.0.0.1', port: 1025 },
  certificate: 'MIIB',
};
const result = { account, ownKey: {} } as SetupResult;

describe('setup flows', () => {
  it('creates the Thunderbird account only after the host has set the account up', async () => {
    const calls: string[] = [];
    const done = await runLegacySetup(
      {
        hostSetup: async () => (calls.push('host'), result),
        ensureAccount: async (spec) => (
          calls.push(`tb:${spec.imap.port}`),
          { accountId: 'account7', created: true }
        ),
      },
      {
        email: 'lena@legacy.test',
        password: 'pw',
        imap: { host: 'imap.legacy.test', port: 993, security: 'tls' },
        smtp: { host: 'smtp.legacy.test', port: 465, security: 'tls' },
      },
    );
    expect(calls).toEqual(['host', 'tb:1143']);
    expect(done).toMatchObject({ accountId: 'account7', email: 'lena@legacy.test', created: true });
  });

  it('creates no Thunderbird account when the host refuses', async () => {
    const calls: string[] = [];
    await expect(
      runSetup(
        {
          hostSetup: async () => {
            throw new Error('The user name or password is wrong.');
          },
          ensureAccount: async () => (calls.push('tb'), { accountId: 'x', created: true }),
        },
        'logIn',
        { domain: 'alpha.test', username: 'alice', password: 'nope' },
      ),
    ).rejects.toThrow('wrong');
    expect(calls).toEqual([]);
  });
});
