import { defineConfig } from 'vitest/config';

/**
 * One `vitest run` runs every suite. Projects keep their own timeouts: unit tests need nothing but
 * loopback servers; integration tests deploy the stack onto their own moto; contract tests talk to
 * the vendor sandbox; infra tests synthesize with esbuild; e2e tests run the whole local pipeline.
 */
export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    // Only e2e runs on vmForks; vitest sizes that pool from the root options, not the project's.
    poolOptions: { vmForks: { singleFork: true } },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: { name: 'sandbox', include: ['test/sandbox/**/*.test.ts'], testTimeout: 60_000 },
      },
      {
        extends: true,
        test: { name: 'contract', include: ['test/contract/**/*.test.ts'], testTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          maxConcurrency: 1,
          // Each e2e file starts its own moto, sandbox and function sandboxes: one file at a time keeps
          // a 2-core machine from timing out vendor calls. Its own pool (vmForks), because vitest runs
          // pools side by side but a forks pool's single-fork group only after its other files: on the
          // forks pool with the rest, e2e started 199 s into a 642 s run; beside it, the rest overlaps.
          pool: 'vmForks',
        },
      },
    ],
  },
});
