import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Every file's logs, and its netlify dev's, are scanned for the suite's secrets.
    setupFiles: ['test/support/no-secrets-in-logs.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more workers only contend for them.
    maxWorkers: 2,
  },
});
