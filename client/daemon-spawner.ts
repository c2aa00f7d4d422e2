/**
 * Starts the daemon when a client finds nothing on the socket: detached, in its own session,
 * with no stdio tied to the host's terminal, on the same Node executable, from this package's
 * own daemon entry. Many clients starting at once start one daemon between them (an exclusive
 * marker file in the socket's folder, and the daemon's own lock behind it), and a daemon that
 * keeps failing to start is not started again and again (the crash-loop guard).
 */

import { DAEMON_NODE_FLAGS, RUNTIME_FILES, type runtimeFolder } from '../protocol/index.js';

/** How long a started daemon has to answer before its start counts as failed. */
export const SPAWN_DEADLINE_MS = 5000;
/** The crash-loop guard: this many failed starts within the window stop further starts. */
export const CRASH_LOOP_MAX_FAILURES = 3;
export const CRASH_LOOP_WINDOW_MS = 60_000;

export type SpawnOutcome =
  /** This client started a daemon. */
  | 'spawned'
  /** Another client is starting one. */
  | 'starting'
  /** Starting is turned off, or the crash-loop guard refuses. */
  | 'refused';

export interface DaemonSpawner {
  /** Nothing answered on the socket: start a daemon unless one is starting or starts keep failing. */
  start(): SpawnOutcome;
  /** The daemon this client started did not answer within {@link SPAWN_DEADLINE_MS}. */
  failed(): void;
}

export interface SpawnerOptions {
  readonly socketPath: string;
  /** Where the spawn marker and the record of failed starts live ({@link runtimeFolder}). */
  readonly runtimeDir: string;
  /** `[execPath, ...args]` of the daemon; defaults to this Node (with the daemon's flags) and the package's `codexd run --spawned`. */
  readonly command?: readonly string[];
  readonly report: (kind: string, message: string) => void;
}

/** This package's daemon entry: the `codexd` bundle, `dist/codexd/codexd.js` beside `dist/client/`. */
function defaultCommand(): string[] {
  const { fileURLToPath } = process.getBuiltinModule('node:url');
  const built = fileURLToPath(new URL('../codexd/codexd.js', import.meta.url));
  // Running from the TypeScript sources (tests), the built entry is under dist/.
  const entry = process.getBuiltinModule('node:fs').existsSync(built) ? built : fileURLToPath(new URL('../dist/codexd/codexd.js', import.meta.url));
  return [process.execPath, ...DAEMON_NODE_FLAGS, entry, 'run', '--spawned'];
}

function recentFailures(path: string, now: number): number {
  try {
    return process
      .getBuiltinModule('node:fs')
      .readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line !== '' && now - Date.parse(line) < CRASH_LOOP_WINDOW_MS).length;
  } catch {
    return 0;
  }
}

/** Takes the spawn marker, or says someone else holds a fresh one. */
function takeMarker(path: string): boolean {
  const { closeSync, openSync, statSync, unlinkSync, writeSync } = process.getBuiltinModule('node:fs');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    }
    try {
      if (Date.now() - statSync(path).mtimeMs < SPAWN_DEADLINE_MS) return false;
      unlinkSync(path); // Left by a start that never finished.
    } catch {
      // Removed meanwhile: try again.
    }
  }
  return false;
}

export function createDaemonSpawner(options: SpawnerOptions): DaemonSpawner {
  const { join } = process.getBuiltinModule('node:path');
  const dir = options.runtimeDir;
  const marker = join(dir, RUNTIME_FILES.spawnMarker);
  const failures = join(dir, RUNTIME_FILES.spawnFailures);
  return {
    start() {
      const { mkdirSync } = process.getBuiltinModule('node:fs');
      const { spawn } = process.getBuiltinModule('node:child_process');
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const failed = recentFailures(failures, Date.now());
        if (failed >= CRASH_LOOP_MAX_FAILURES) {
          options.report(
            'crash-loop',
            `codexd: the daemon failed to start ${failed} times in the last ${CRASH_LOOP_WINDOW_MS / 1000} s; not starting it again (see its log, or run "codexd run" to see why)`,
          );
          return 'refused';
        }
        if (!takeMarker(marker)) return 'starting';
        const [command, ...args] = options.command ?? defaultCommand();
        const child = spawn(command as string, args, {
          detached: true,
          stdio: 'ignore',
          windowsHide: true,
          cwd: dir,
          env: { ...process.env, CODEXD_SOCKET: options.socketPath },
        });
        child.on('error', (error) => options.report('spawn', `codexd: cannot start the daemon: ${error.message}`));
        child.unref();
        return 'spawned';
      } catch (error) {
        options.report('spawn', `codexd: cannot start the daemon: ${(error as Error).message}`);
        return 'refused';
      }
    },
    failed() {
      const { appendFileSync, unlinkSync } = process.getBuiltinModule('node:fs');
      try {
        appendFileSync(failures, `${new Date().toISOString()}\n`, { mode: 0o600 });
        unlinkSync(marker);
      } catch {
        // The folder is gone or not ours; the guard simply sees fewer failures.
      }
    },
  };
}
