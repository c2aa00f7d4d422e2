/**
 * The thin client and every command but `run` must never load OpenTelemetry or gRPC: their
 * start-up is the hot path of every short-lived host. This walks the static import graph of
 * the built files (dynamic `import()` is how `run` loads the SDK, and is not followed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { describe, expect, it } from 'vitest';

import { PACKAGE_VERSION } from '../protocol/index.js';
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
    // Minified, names included: it exports createClient under its own name all the same.
    expect(bundle).toMatch(/export\s*\{[^}]*\bcreateClient\b[^}]*\}/);
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
  });

  it('the former entry, named by service units installed before the move, runs the command line', () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'dist/daemon/cli.js'), 'version'], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(PACKAGE_VERSION);
  });

  it('the command line\'s bundle statically loads only its own chunks, none with OpenTelemetry, gRPC or vscode-jsonrpc', () => {
    const graph = staticGraph(join(ROOT, 'dist/codexd/codexd.js'));
    expect([...graph.packages]).toEqual([]);
    expect([...graph.files].every((file) => file.startsWith(join(ROOT, 'dist/codexd')))).toBe(true);
    // The bundle marks each module it holds with its path.
    const packageModule = /^\/\/ node_modules\/(@opentelemetry|@grpc|vscode-jsonrpc)\//m;
    for (const file of graph.files) expect(readFileSync(file, 'utf8')).not.toMatch(packageModule);
    expect(readdirSync(join(ROOT, 'dist/codexd')).some((name) => packageModule.test(readFileSync(join(ROOT, 'dist/codexd', name), 'utf8')))).toBe(true);
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
