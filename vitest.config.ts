import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'deploy/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Each file spawns its own gateway processes and private Redis/PostgreSQL servers;
    // two machine cores are shared, so keep concurrency modest.
    maxWorkers: 3,
    minWorkers: 1,
    globalSetup: ['test/helpers/globalSetup.ts'],
  },
});
