/**
 * The two bundles `npm run build` makes from tsc's output in dist/:
 *
 *   dist/client/codexd-client.js  the client hosts import: one minified file, nothing else loaded
 *   dist/codexd/codexd.js         the `codexd` command line and daemon, with chunks beside it
 *                                 for what only some commands load (the daemon, gRPC, service)
 *
 * The daemon runs from a bundle because a long-lived process pays in resident memory for every
 * module it loads, for as long as it lives: one file of only the code reached (packages' unused
 * parts left out) holds much less than hundreds of modules resolved and loaded one by one. Lines
 * and names are kept, so a stack trace in the daemon's log stays readable; the JSDoc comments go
 * and the text is ASCII (V8 keeps a script with one non-Latin-1 character at two bytes a
 * character, and keeps every script's text for as long as the process lives).
 */
import { builtinModules } from 'node:module';

import { defineConfig } from 'rolldown';

const BUILTINS = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);
/** `import a from`, `import * as a from`, `import { b, c as d } from`, `import a, { b } from`. */
const STATIC_IMPORT = /^import\s+(?:([\w$]+)|\*\s+as\s+([\w$]+)|(?:([\w$]+)\s*,\s*)?\{([^}]*)\})\s+from\s+"([^"]+)";$/gm;

/**
 * Node's builtins taken with `process.getBuiltinModule` rather than imported. An ESM import of a
 * builtin builds its namespace from every export, getters included: `import { readFileSync }
 * from 'node:fs'` loads fs/promises and readline with it, `node:http` loads fetch, TLS and
 * HTTP/2, `node:v8` its profilers. getBuiltinModule returns the module without touching them.
 */
const builtinsWithoutNamespaces = {
  name: 'builtins-without-namespaces',
  renderChunk(code) {
    return code.replace(STATIC_IMPORT, (whole, name, namespace, alongside, named, source) => {
      if (!BUILTINS.has(source)) return whole;
      const module = `process.getBuiltinModule(${JSON.stringify(source.startsWith('node:') ? source : `node:${source}`)})`;
      if (named === undefined) return `const ${name ?? namespace} = ${module};`;
      const bindings = named
        .split(',')
        .map((binding) => binding.trim())
        .filter((binding) => binding !== '');
      if (bindings.some((binding) => binding.startsWith('default'))) return whole;
      const destructured = `{ ${bindings.map((binding) => binding.replace(/\s+as\s+/, ': ')).join(', ')} }`;
      return alongside === undefined ? `const ${destructured} = ${module};` : `const ${alongside} = ${module};\nconst ${destructured} = ${alongside};`;
    });
  },
};

export default defineConfig([
  {
    input: 'dist/client/index.js',
    platform: 'node',
    logLevel: 'warn',
    // Every host compiles all of it before its first line runs: minified (names too; the client
    // never throws to its host), importing it takes about a millisecond less.
    output: { file: 'dist/client/codexd-client.js', format: 'esm', minify: true },
  },
  {
    input: { codexd: 'dist/cli/main.js' },
    platform: 'node',
    logLevel: 'warn',
    plugins: [builtinsWithoutNamespaces],
    output: {
      dir: 'dist/codexd',
      format: 'esm',
      entryFileNames: '[name].js',
      chunkFileNames: '[name]-[hash].js',
      minify: 'dce-only',
      keepNames: true,
      charset: 'ascii',
      comments: { legal: true, annotation: false, jsdoc: false },
      cleanDir: true,
    },
  },
]);
