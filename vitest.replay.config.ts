import { defineConfig } from 'vitest/config';

/** `npm run replay:record`: drives the workflows and writes test/replay/histories/ (not part of `npm test`). */
export default defineConfig({
  test: {
    include: ['test/replay/**/*.replay.ts'],
    // Temporal's native worker needs process isolation, not threads.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 600_000,
    teardownTimeout: 60_000,
  },
});
