import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package version, read from codexd's own package.json. The module runs both from its
 * source folder (tests) and from `dist/`, so the file is found by walking up.
 */
function readPackageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'codexd' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No package.json at this level; keep walking up.
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

export const DAEMON_VERSION = readPackageVersion();
