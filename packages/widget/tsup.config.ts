import { defineConfig } from 'tsup';

// Two builds from one array (run in parallel by tsup): the npm ESM entry with
// types, and the self-contained script-tag bundle.
export default defineConfig([
  {
    entry: ['src/index.ts'],
    format: ['esm'],
    // The script-tag bundle gets types too: importing it declares window.Airlock.
    dts: { entry: { index: 'src/index.ts', 'script-tag': 'src/script-tag.ts' } },
    // Spares the IIFE, which the other build may already have written.
    clean: ['!airlock.global.js'],
    target: 'es2022',
    platform: 'browser',
    outDir: 'dist',
  },
  {
    // tsup names an IIFE `<entry name>.global.js`, so this becomes dist/airlock.global.js.
    entry: { airlock: 'src/script-tag.ts' },
    format: ['iife'],
    minify: true,
    platform: 'browser',
    target: 'es2022',
    // The bundle is loaded by a bare <script>, so nothing can stay external.
    noExternal: ['@airlock/protocol', 'idb-keyval'],
    // Locales stay readable UTF-8 rather than `\uXXXX` escapes: half the size, and
    // the server sends the bundle as `charset=utf-8`.
    esbuildOptions(options) {
      options.charset = 'utf8';
    },
    outDir: 'dist',
  },
]);
