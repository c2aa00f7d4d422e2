/**
 * The embedded default exporter: OTLP JSON lines, one export request per line (the format the
 * OpenTelemetry Collector's file exporter writes), one size-capped file series per signal in a
 * folder on this machine. Nothing leaves the machine until the user configures a network
 * exporter. Batches reach it through an export queue (delivery/queued-exporters.ts, serialised
 * as OTLP JSON), like every exporter's.
 */
import { writeSync, writevSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

import type { Signal } from '../../protocol/index.js';
import type { DiskConditions } from '../disk-conditions.js';
import { retryable, SENT, type Sender, type SendOutcome } from './sender.js';

/** node:fs/promises, taken at first use like every builtin the daemon may not need. */
const fsp = (): typeof import('node:fs/promises') => process.getBuiltinModule('node:fs/promises');

const NEWLINE = Buffer.from('\n');

export interface FileSenderOptions {
  readonly dir: string;
  /** The file is rotated before a write would take it past this size. */
  readonly maxFileBytes: number;
  /** Files kept per signal, the current one included; the oldest beyond this is deleted. */
  readonly maxFiles: number;
  /** Told of every write that fails, and of the first that succeeds after. */
  readonly disk?: DiskConditions;
}

/** `metrics.jsonl` is the file being written; `metrics.1.jsonl` is the one before it, and so on. */
export function signalFileName(signal: Signal, generation: number): string {
  return generation === 0 ? `${signal}.jsonl` : `${signal}.${generation}.jsonl`;
}

/** How long the file stays open after its last write: batches that follow one another share one open. */
const KEEP_OPEN_MS = 1000;

/**
 * The file as the sender behind an export queue: each batch, already serialised as one OTLP JSON
 * export request, becomes one line of the signal's rotating file. A write that fails (a full
 * disk) is retryable. Does not create the folder until the first line.
 *
 * The file is kept open while batches keep coming (one write per batch on the thread pool, not
 * an open, a write and a close: under load each of those waits for a turn of the event loop,
 * and the queue behind would fall behind and spill), and closed {@link KEEP_OPEN_MS} after the
 * last write, so that a file moved or removed meanwhile is created again.
 */
export function createFileSender(signal: Signal, options: FileSenderOptions): Sender {
  const current = join(options.dir, signalFileName(signal, 0));
  let size = -1;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  let file: FileHandle | null = null;
  let idle: NodeJS.Timeout | null = null;

  async function closeFile(): Promise<void> {
    const open = file;
    file = null;
    await open?.close().catch(() => undefined);
  }

  async function rotate(): Promise<void> {
    await closeFile();
    await fsp().rm(join(options.dir, signalFileName(signal, options.maxFiles - 1)), { force: true });
    for (let generation = options.maxFiles - 2; generation >= 0; generation--) {
      await fsp().rename(join(options.dir, signalFileName(signal, generation)), join(options.dir, signalFileName(signal, generation + 1))).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
    size = 0;
  }

  /**
   * Writes every byte of `line` and a newline, or throws (a short write is retried, which then
   * fails with the reason). Synchronous: a write to a file the daemon keeps open lands in the
   * page cache at memory speed, and the export queue then sends what it holds in one turn of the
   * event loop, not one batch per turn (which under load let it fall behind and spill).
   */
  function writeLine(fd: number, line: Uint8Array): void {
    const total = line.byteLength + 1;
    let done = writevSync(fd, [line, NEWLINE]);
    while (done < total) done += done < line.byteLength ? writeSync(fd, line, done, line.byteLength - done) : writeSync(fd, NEWLINE);
  }

  async function append(line: Uint8Array): Promise<void> {
    if (size < 0) {
      await fsp().mkdir(options.dir, { recursive: true, mode: 0o700 });
      size = await fsp().stat(current).then(
        (info) => info.size,
        () => 0,
      );
    }
    if (size > 0 && size + line.byteLength + 1 > options.maxFileBytes) {
      if (options.maxFiles > 1) await rotate();
      else {
        await closeFile();
        await fsp().rm(current, { force: true }).then(() => (size = 0));
      }
    }
    file ??= await fsp().open(current, 'a', 0o600);
    const handle = file;
    try {
      writeLine(handle.fd, line);
    } catch (error) {
      // A write cut short (a full disk) leaves part of a line: cut it off, so that the line
      // written again by the retry is whole and the file stays one request per line.
      await handle.truncate(size).catch(() => undefined);
      await closeFile();
      throw error;
    }
    size += line.byteLength + 1;
    if (idle === null) {
      idle = setTimeout(() => void (queue = queue.then(closeFile)), KEEP_OPEN_MS);
      idle.unref();
    } else idle.refresh();
  }

  return {
    // A send settles once its line is written (writeLine is synchronous) or has failed.
    releasesBytes: true,
    send(bytes) {
      if (closed) return Promise.resolve(retryable(`${signal} file exporter is shut down`));
      // Writes are chained so lines never interleave and rotation sees a settled size.
      const written = queue.then(() => append(bytes));
      queue = written.catch(() => undefined);
      return written.then(
        (): SendOutcome => {
          options.disk?.succeeded('file_exporter', options.dir);
          return SENT;
        },
        (error: unknown): SendOutcome => {
          options.disk?.failed('file_exporter', options.dir, error, `${signal} batches wait in the export queue (then its spool) and are written again`);
          return retryable(error instanceof Error ? error.message : `${signal} file write failed`);
        },
      );
    },
    close() {
      closed = true;
      if (idle !== null) clearTimeout(idle);
      queue = queue.then(closeFile);
    },
  };
}
