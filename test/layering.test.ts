/**
 * The thin client and every command but `run` must never load OpenTelemetry or gRPC: their
 * start-up is the hot path of every short-lived host. This walks the static import graph of
 * the built files (dynamic `import()` is how `run` loads the SDK, and is not followed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ROOT } from './support/daemon.js';

const STATIC_IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g;

function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(file, 'utf8');
    for (const match of source.matchAll(STATIC_IMPORT)) {
      const specifier = (match[1] ?? match[2]) as string;
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier));
      else if (!specifier.startsWith('node:')) packages.add(specifier);
    }
  }
  return { files, packages };
}

describe('layering', () => {
  it('the published client is one file that imports nothing at all', () => {
    const bundle = readFileSync(join(ROOT, 'dist/client/codexd-client.js'), 'utf8');
    expect([...bundle.matchAll(STATIC_IMPORT)].map((match) => match[1] ?? match[2])).toEqual([]);
    expect(bundle).not.toMatch(/\bimport\(/);
    expect(bundle).toContain('function createClient(');
    // The catalog is daemon-side data; the client's bundle must not carry it.
    expect(bundle).not.toContain('codex.conversation_starts');
  });

  it('the client loads only protocol/ and Node built-ins', () => {
    const graph = staticGraph(join(ROOT, 'dist/client/index.js'));
    expect([...graph.packages]).toEqual([]);
    for (const file of graph.files) expect(file.startsWith(join(ROOT, 'dist/client')) || file.startsWith(join(ROOT, 'dist/protocol'))).toBe(true);
  });

  it('the command line statically loads no OpenTelemetry, gRPC or vscode-jsonrpc', () => {
    const graph = staticGraph(join(ROOT, 'dist/cli/main.js'));
    expect([...graph.packages].sort()).toEqual(['env-paths', 'smol-toml']);
    expect([...graph.files].some((file) => file.endsWith('run.js'))).toBe(false);
  });

  it('the daemon does not load the command line: cli/ is a client of it', () => {
    const graph = staticGraph(join(ROOT, 'dist/daemon/run.js'));
    expect([...graph.files].filter((file) => file.startsWith(join(ROOT, 'dist/cli')))).toEqual([]);
    // The former entry (named by service units installed before the move) only forwards.
    expect([...staticGraph(join(ROOT, 'dist/daemon/cli.js')).files]).toContain(join(ROOT, 'dist/cli/main.js'));
  });

  it('the daemon does not load the client: they meet only in protocol/', () => {
    const graph = staticGraph(join(ROOT, 'dist/daemon/run.js'));
    expect([...graph.files].filter((file) => file.startsWith(join(ROOT, 'dist/client')))).toEqual([]);
  });

  it('protocol/ imports nothing but itself and node:buffer/node:path', () => {
    const graph = staticGraph(join(ROOT, 'dist/protocol/index.js'));
    expect([...graph.packages]).toEqual([]);
    for (const file of graph.files) expect(file.startsWith(join(ROOT, 'dist/protocol'))).toBe(true);
    expect(existsSync(join(ROOT, 'dist/protocol/index.js'))).toBe(true);
  });
});
