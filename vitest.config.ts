import { defineConfig } from 'vitest/config';

/**
 * Tests that compare timings taken in one run (tenant fairness: a small sync
 * alone, then beside a large one) run in a quiet group once the rest of the
 * suite has finished: another test file's load, heavier in one half of the
 * comparison than in the other, would measure the neighbour, not lakesync.
 */
const QUIET = ['test/e2e/fairness.test.ts'];

export default defineConfig({
  test: {
    // Temporal's native worker needs process isolation, not threads.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // Called once per project; the servers start once (test/support/global-setup.ts).
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 600_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: QUIET } },
      { extends: true, test: { name: 'quiet', include: QUIET, poolOptions: { forks: { singleFork: true } }, sequence: { groupOrder: 1 } } },
    ],
  },
});
