/**
 * docs/architecture.md stays true: every path it names exists, every folder of the source is
 * in its table of parts, and every test it cites as the proof of a guarantee exists under
 * that name in that file.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ROOT } from './support/daemon.js';

const DOC = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
const SOURCE_ROOTS = ['protocol', 'client', 'cli', 'daemon', 'bench'];

/** Backticked repository paths: `daemon/run.ts`, `daemon/handlers/`. */
function namedPaths(text: string): string[] {
  const paths = [...text.matchAll(/`((?:protocol|client|cli|daemon|bench|test|docs)\/[\w./-]*)`/g)].map((match) => match[1] as string);
  return [...new Set(paths)];
}

/** Test sources as written, with escaped quotes read as quotes. */
const testSource = (file: string): string => readFileSync(join(ROOT, file), 'utf8').replace(/\\(['"`])/g, '$1');

describe('docs/architecture.md', () => {
  it('names only paths that exist', () => {
    const missing = namedPaths(DOC).filter((path) => !existsSync(join(ROOT, path)));
    expect(missing).toEqual([]);
    expect(namedPaths(DOC).length).toBeGreaterThan(20);
  });

  it('lists every folder of the source among its parts', () => {
    const folders = SOURCE_ROOTS.flatMap((root) => [
      root,
      ...readdirSync(join(ROOT, root))
        .filter((name) => statSync(join(ROOT, root, name)).isDirectory() && name !== 'fixtures')
        .map((name) => `${root}/${name}`),
    ]);
    const parts = DOC.slice(DOC.indexOf('## The parts'), DOC.indexOf('## One record'));
    const unlisted = folders.filter((folder) => !parts.includes(`\`${folder}/`) && !parts.includes(`\`${folder}\``));
    expect(unlisted).toEqual([]);
  });

  it('cites, for each guarantee, a test that exists under that name', () => {
    const table = DOC.slice(DOC.indexOf('## Where each guarantee is proven'));
    const cited = [...table.matchAll(/`(test\/[\w.-]+\.test\.ts)`: "([^"]+)"/g)].map((match) => ({ file: match[1] as string, name: match[2] as string }));
    expect(cited.length).toBeGreaterThanOrEqual(10);
    const missing = cited.filter(({ file, name }) => !existsSync(join(ROOT, file)) || !testSource(file).includes(name));
    expect(missing).toEqual([]);
  });
});
