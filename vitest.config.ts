import { defineConfig } from 'vitest/config';

// One run over every package. Tests resolve workspace packages to their
// TypeScript sources (the `airlock-source` export condition) unless a test
// deliberately loads a built file from `dist/`.
export default defineConfig({
  resolve: { conditions: ['airlock-source'] },
  ssr: { resolve: { conditions: ['airlock-source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
