/**
 * The daemon's log: pino, asynchronously to a file under the user's log folder, never to the
 * terminal of whoever started it. Callers take `logger.child({ component })`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import pino, { type Logger } from 'pino';

export interface DaemonLogger {
  readonly logger: Logger;
  /** Writes out what is buffered; call before exit. */
  flushSync(): void;
}

/** `file` null logs to standard error, which `codexd run` in a terminal or under a service manager wants. */
export function createDaemonLogger(file: string | null, level: string): DaemonLogger {
  if (file === null) {
    const logger = pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
    return { logger, flushSync: () => undefined };
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const destination = pino.destination({ dest: file, sync: false, mkdir: true, mode: 0o600 });
  const logger = pino({ level, base: { pid: process.pid } }, destination);
  return {
    logger,
    flushSync() {
      try {
        destination.flushSync();
      } catch {
        // Nothing was pending, or the file is gone; neither should stop an exit.
      }
    },
  };
}
