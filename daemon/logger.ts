/**
 * The daemon's log: pino, asynchronously to a file under the user's log folder, never to the
 * terminal of whoever started it, capped in size: past {@link MAX_LOG_FILE_BYTES} the file is
 * renamed `<file>.1` (replacing the one before) and a new one begun, so a daemon that runs for
 * months holds about twice the cap on disk (a file passes it by at most the lines that gathered
 * during one write, bounded by {@link MAX_PENDING_LOG_BYTES}). Callers take `logger.child({ component })`.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, renameSync, write, writeSync } from 'node:fs';
import { dirname } from 'node:path';

import pino, { type Logger, type LoggerOptions } from 'pino';

/** A log file that could not be written (a full disk): from then on its lines are dropped and counted. */
export interface LogFailure {
  readonly at: string;
  readonly error: string;
  readonly linesDropped: number;
}

export interface DaemonLogger {
  readonly logger: Logger;
  /** Writes out what is buffered; call before exit. Does nothing once the file has failed. */
  flushSync(): void;
  /** Null while the log is written; else when and why writing it failed, and the lines lost since. */
  failure(): LogFailure | null;
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

/** Largest the log file grows before it is rotated. */
export const MAX_LOG_FILE_BYTES = 8 * 1024 * 1024;

/**
 * `file` null logs to standard error, which `codexd run` in a terminal or under a service manager
 * wants. `maxFileBytes` is the rotation size ({@link MAX_LOG_FILE_BYTES}; smaller in tests).
 */
export function createDaemonLogger(file: string | null, level: string, maxFileBytes = MAX_LOG_FILE_BYTES): DaemonLogger {
  const { options, setLevel } = levelled(level);
  if (file === null) {
    const logger = pino(options, pino.destination({ dest: 2, sync: true }));
    return { logger, flushSync: () => undefined, failure: () => null, setLevel };
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const writer = createLogFileWriter(file, maxFileBytes);
  const logger = pino(options, writer);
  return { logger, setLevel, failure: writer.failure, flushSync: writer.flushSync };
}

/** Log text held in memory while a write is under way; past it, lines are dropped and counted. */
const MAX_PENDING_LOG_BYTES = 1024 * 1024;

/**
 * The log file, written asynchronously and never retried. Its first failed write (ENOSPC, EIO)
 * stops it for good: lines from then on are dropped and counted, and nothing else of the daemon
 * is held up. (pino's own file destination retries a failed write every 100 ms for ever when
 * it is flushed at exit, which hung a daemon on a full disk.)
 */
function createLogFileWriter(file: string, maxFileBytes: number): { write(line: string): void; flushSync(): void; failure(): LogFailure | null } {
  let fd: number | null = null;
  /** Bytes in the file now: what it held when opened, plus what was written since. */
  let size = 0;
  let failed: { at: string; error: string } | null = null;
  let linesDropped = 0;
  let pending: string[] = [];
  let pendingBytes = 0;
  let writing = false;

  function fail(error: unknown): void {
    if (failed !== null) return;
    failed = { at: new Date().toISOString(), error: (error as NodeJS.ErrnoException).code ?? String(error) };
    linesDropped += pending.length;
    pending = [];
    pendingBytes = 0;
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // Closed already.
      }
      fd = null;
    }
  }

  function open(): void {
    try {
      fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
      size = fstatSync(fd).size;
    } catch (error) {
      fail(error);
    }
  }
  open();

  /** Before a write that would take the file past the cap: the file becomes `<file>.1`, and a new one begins. */
  function rotateFor(bytes: number): void {
    if (fd === null || size === 0 || size + bytes <= maxFileBytes) return;
    try {
      closeSync(fd);
      fd = null;
      renameSync(file, `${file}.1`);
    } catch (error) {
      return fail(error);
    }
    open();
  }

  function writeNext(): void {
    if (writing || failed !== null || fd === null || pending.length === 0) return;
    const bytes = Buffer.from(pending.join(''), 'utf8');
    const lines = pending.length;
    pending = [];
    pendingBytes = 0;
    rotateFor(bytes.length);
    if (fd === null) {
      // The rotation failed: these lines go with the file, counted.
      linesDropped += lines;
      return;
    }
    writing = true;
    write(fd, bytes, (error, written) => {
      writing = false;
      if (error !== null) return fail(error);
      size += written;
      // A short write: what is left goes first.
      if (written < bytes.length) pending.unshift(bytes.subarray(written).toString('utf8'));
      writeNext();
    });
  }

  return {
    write(line) {
      if (failed !== null || pendingBytes + line.length > MAX_PENDING_LOG_BYTES) {
        linesDropped++;
        return;
      }
      pending.push(line);
      pendingBytes += line.length;
      writeNext();
    },
    flushSync() {
      // One synchronous attempt for what waits, never a retry: an exit is never held up.
      if (failed !== null || fd === null || pending.length === 0) return;
      const text = pending.join('');
      pending = [];
      pendingBytes = 0;
      try {
        rotateFor(Buffer.byteLength(text));
        if (fd !== null) size += writeSync(fd, text);
      } catch (error) {
        linesDropped++;
        fail(error);
      }
    },
    failure: () => (failed === null ? null : { ...failed, linesDropped }),
  };
}
