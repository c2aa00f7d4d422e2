/**
 * The daemon's log: pino, asynchronously to a file under the user's log folder, never to the
 * terminal of whoever started it. Callers take `logger.child({ component })`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import pino, { type Logger, type LoggerOptions } from 'pino';

export interface DaemonLogger {
  readonly logger: Logger;
  /** Writes out what is buffered; call before exit. */
  flushSync(): void;
  /** Changes the level of this logger and every child of it, made before or after (a reload). */
  setLevel(level: string): void;
}

/**
 * Options under which the level can change for every child at once: pino fixes a child's level
 * when it is made, so the loggers pass everything down to a hook that compares each call with
 * the level in force.
 */
function levelled(level: string): { options: LoggerOptions; setLevel: (level: string) => void } {
  let minimum = pino.levels.values[level] ?? pino.levels.values.info;
  return {
    options: {
      level: 'trace',
      base: { pid: process.pid },
      hooks: {
        logMethod(args, method, value) {
          if (value >= (minimum as number)) method.apply(this, args);
        },
      },
    },
    setLevel(next) {
      minimum = pino.levels.values[next] ?? minimum;
    },
  };
}

/** `file` null logs to standard error, which `codexd run` in a terminal or under a service manager wants. */
export function createDaemonLogger(file: string | null, level: string): DaemonLogger {
  const { options, setLevel } = levelled(level);
  if (file === null) {
    const logger = pino(options, pino.destination({ dest: 2, sync: true }));
    return { logger, flushSync: () => undefined, setLevel };
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const destination = pino.destination({ dest: file, sync: false, mkdir: true, mode: 0o600 });
  const logger = pino(options, destination);
  return {
    logger,
    setLevel,
    flushSync() {
      try {
        destination.flushSync();
      } catch {
        // Nothing was pending, or the file is gone; neither should stop an exit.
      }
    },
  };
}
