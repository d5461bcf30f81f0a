import { defineConfig } from 'vitest/config';

// One run covers every suite: unit tests, integration tests against real servers on
// loopback, and end-to-end tests in a real (headless) Thunderbird. Two workers: the
// machines have two cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
