import { defineConfig } from 'vitest/config';
import shared from '../../vitest.config.js';

// Vitest finds this file when it runs from packages/server (`npx vitest run test/stores`), where
// the repository's include patterns, relative to the root, match nothing. Everything else is the
// repository's configuration; a run from the root does not read this file.
export default defineConfig({ ...shared, test: { ...shared.test, include: ['test/**/*.test.ts'] } });
