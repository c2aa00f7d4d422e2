/**
 * The two bundles `npm run build` makes from tsc's output in dist/:
 *
 *   dist/client/codexd-client.js  the client hosts import: one file, nothing else loaded
 *   dist/codexd/codexd.js         the `codexd` command line and daemon, with chunks beside it
 *                                 for what only some commands load (the daemon, gRPC, service)
 *
 * The daemon runs from a bundle because a long-lived process pays for every module it loads for
 * as long as it lives: one file of only the code reached (packages' unused parts left out) costs
 * its resident set ~15 MiB less than resolving and loading hundreds of modules one by one.
 * Names are kept and lines left as they are, so a stack trace in the daemon's log stays readable.
 */
import { defineConfig } from 'rolldown';

export default defineConfig([
  {
    input: 'dist/client/index.js',
    platform: 'node',
    logLevel: 'warn',
    output: { file: 'dist/client/codexd-client.js', format: 'esm' },
  },
  {
    input: { codexd: 'dist/cli/main.js' },
    platform: 'node',
    logLevel: 'warn',
    output: { dir: 'dist/codexd', format: 'esm', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js', minify: 'dce-only', keepNames: true, cleanDir: true },
  },
]);
