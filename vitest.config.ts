import { defineConfig } from 'vitest/config';

/**
 * The provider tests that run a second time against PostgreSQL (the `postgres` project):
 * the store's contract, accounts, API, sync, mail and the attacks on the provider's
 * database and logins. Everything else exercises the provider only as a peer and runs
 * against its default store, SQLite.
 */
const POSTGRES_FILES = [
  'test/provider/store.test.ts',
  'test/provider/accounts.test.ts',
  'test/provider/api.test.ts',
  'test/provider/mail.test.ts',
  'test/provider/password-kdf.test.ts',
  'test/provider/federation.test.ts',
  'test/provider/scale.test.ts',
  'test/provider/balancer.test.ts',
  'test/adversary/lockout.test.ts',
  'test/adversary/provider-database.test.ts',
  'test/smtp/outbox.test.ts',
];

// One run covers every suite: unit tests, integration tests against real servers on
// loopback, and end-to-end tests in a real (headless) Thunderbird. Two workers: the
// machines have two cores.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
          // Several provider processes on one shared database: PostgreSQL only.
          exclude: ['test/provider/scale.test.ts', 'test/provider/balancer.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: POSTGRES_FILES,
          env: { LEAPBIRD_TEST_STORE: 'postgres' },
          globalSetup: ['test/helpers/postgres-global.ts'],
        },
      },
    ],
  },
});
