/**
 * The journal of accepted records: what the daemon took in and has not yet exported or spilled,
 * on disk, so that a daemon killed with SIGKILL loses (almost) nothing. The next daemon replays
 * it before it takes anything new.
 *
 *   accepted metric records / event lane entries --> pending lines --(settled first: dropped)
 *   --(every 200 ms, or before a request is answered)--> <dir>/<seq>.jnz (JSON lines in frames,
 *   small ones compressed: journal-frames.ts) --(before a request is answered, or
 *   once a line has waited {@link SYNC_UNSETTLED_AFTER_MS} unsettled)--> fdatasync
 *
 * Records leave (exported, failed or spilled) in the order they came in, so counts are enough to
 * know what is settled. Each line is placed by base lines: what each signal had accepted before
 * the line after them (a file's first line is one, and one stands wherever lines were left
 * out); `settled.json` holds how many have settled, rewritten as they settle. The journal
 * rotates every {@link ROTATE_MS}, and a closed file whose every record has settled is deleted.
 * A replay (journal-read.ts) skips what `settled.json` says is settled. Bounded: past
 * `maxBytes`, `onPressure` is asked to spill the export queues to disk, which settles what they
 * hold.
 *
 * A line whose records all settle before it is written is never written: the journal is for
 * what the daemon's death would lose. Lines wait for the next write, and may be held for their
 * records to settle, in journal-lines.ts; every line not dropped goes in the next write.
 *
 * The guarantee this gives: a record in a batch answered as a request is synced to disk before
 * the answer; one sent as a notification is lost only if the daemon dies within
 * {@link SYNC_INTERVAL_MS} of taking it in (a written line survives the process: the kernel
 * holds it), or if the machine loses power before the record is exported and within
 * {@link SYNC_UNSETTLED_AFTER_MS} of taking it in. A record can be exported twice only if the
 * daemon dies after its export and before the next trim ({@link SYNC_INTERVAL_MS} later at most).
 *
 * Why notifications are not synced every tick: with the collector up, a record settles within
 * an export interval and its file is deleted seconds later. Lines written and never synced are
 * then mostly still in the page cache when the file goes, and never reach the disk (the kernel
 * writes dirty pages back after about 30 s); a sync per tick instead wrote a whole page (4 KiB)
 * for every 200 ms that had a line, several times the records' own size at a Codex session's
 * rate (docs/benchmarks.md, row 13).
 */
import { closeSync, constants, fdatasyncSync, mkdirSync, openSync, rmSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';

import { type Signal, SIGNALS } from '../../protocol/index.js';
import { createByteBuffer } from './byte-buffer.js';
import { encodeJournalFrame, nextDictionary } from './journal-frames.js';
import { createPendingLines, type JournalCounts, type JournaledResource, type PendingLine } from './journal-lines.js';
import { type JournalLine, SETTLED, SETTLED_WIDTH } from './journal-read.js';

/** Longest a notification's records wait in memory before they are on disk. */
export const SYNC_INTERVAL_MS = 200;
/** How often the journal starts a new file (files are deleted whole). */
export const ROTATE_MS = 2000;
/**
 * Longest a journaled line waits unsynced while a record in its file is not settled: past it,
 * the file is fdatasync'd (group commit). Longer than the default export interval (5 s) and a
 * send, so that with the collector up records settle first and nothing is synced for them.
 */
export const SYNC_UNSETTLED_AFTER_MS = 10_000;
/** Ids of session contexts, by the context object (one per session start), for as long as it lives. */
const contextIds = new WeakMap<object, number>();
let nextContextId = 1;
export type { JournalCounts, JournaledResource } from './journal-lines.js';

export interface Journal {
  /**
   * Buffers one line; it is on disk within {@link SYNC_INTERVAL_MS}, unless its records all
   * settle first (then it is never written). With a resource other
   * than the daemon's own (id 0), the line names it by id, declared in the same file; with a
   * session context (an event line written against it), the same.
   */
  append(line: JournalLine, resource?: JournaledResource, context?: Readonly<Record<string, string>>): void;
  /**
   * Writes and syncs what is buffered, now (before a request's answer). False when it could not
   * (a full disk): what was buffered is not durable. Syncs every file with unsynced lines (a
   * tick may have written a request's lines already, and closed their file).
   */
  sync(): boolean;
  /** What it wrote and synced since it opened. */
  counts(): JournalWrites;
  /** Null while writes succeed; else when the last failure began and its error code. */
  failure(): { readonly at: string; readonly error: string } | null;
  /** Records have settled: notes it on disk at once, so a crash right after replays none of them. */
  noteSettled(): void;
  /** Bytes of journal on disk. */
  bytes(): number;
  /** Writes what is buffered and stops the timer (at a clean stop every record is settled). */
  close(): void;
  /**
   * Starts noting what settles. Until then nothing is noted: the journal of an earlier daemon
   * is being replayed into this one, and its own note must not be overwritten before its files
   * are gone.
   */
  start(): void;
}

/** What a journal wrote since it opened: its write calls, their bytes, and its fdatasync calls. */
export interface JournalWrites {
  readonly writes: number;
  readonly bytes: number;
  readonly syncs: number;
}

export interface JournalOptions {
  readonly dir: string;
  readonly counts: JournalCounts;
  /** {@link SYNC_UNSETTLED_AFTER_MS} unless given (tests). */
  readonly syncUnsettledAfterMs?: number;
  /** Past this many bytes on disk, `onPressure` is called (at most once per rotation). */
  readonly maxBytes: number;
  readonly onPressure: () => void;
  readonly onError: (message: string) => void;
  /**
   * Makes an event line's entry as it is written (journaled-entry.ts) from the one `append` was
   * given, when the line is written: a line whose records settle first is never made.
   */
  readonly writtenEntry?: (entry: unknown) => unknown;
}

let sequence = 0;
const NEWLINE = 0x0a;

/**
 * A file of the journal. Its descriptor stays open until its lines are synced or it is deleted,
 * so that a file closed for writing can still be synced once its lines are overdue.
 */
interface JournalFile {
  readonly path: string;
  fd: number | null;
  readonly openedAt: number;
  size: number;
  /**
   * What each signal had accepted through this file's lines (for a closed file, through its
   * close): once every signal has settled that many, nothing in the file is needed.
   */
  marks: Record<Signal, number>;
  /** When a line first went unsynced since the last sync; null while the file is synced. */
  unsyncedSince: number | null;
  /** The file's last lines, which its next frame is compressed against. */
  dictionary: Buffer;
}

export function openJournal(options: JournalOptions): Journal {
  const { dir, counts } = options;
  const syncUnsettledAfterMs = options.syncUnsettledAfterMs ?? SYNC_UNSETTLED_AFTER_MS;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  /** What one write puts in a file, made at the write from the lines appended since the last. */
  const buffer = createByteBuffer(1024 * 1024, 8 * 1024 * 1024);
  let current: JournalFile | null = null;
  /** Closed files, oldest first. */
  const closed: JournalFile[] = [];
  let closedBytes = 0;
  let pressured = false;
  /** Resources declared in the file being written (or the next one, while none is open). */
  const declared = new Set<number>();
  /** Session contexts declared in the file being written (or the next one). */
  const declaredContexts = new Set<number>();
  const written = { writes: 0, bytes: 0, syncs: 0 };
  /** Lines appended and not yet written: each one's text comes to {@link bufferLine}, or it is dropped. */
  const lines = createPendingLines({ counts, onError: options.onError, writtenEntry: options.writtenEntry, made: (line, json) => bufferLine(line, json) });
  /**
   * Where each signal's count stands after the last line written to the open file; null before
   * its first. A line written elsewhere is preceded by a base line saying where it starts.
   */
  let next: Readonly<Record<Signal, number>> | null = null;

  const acceptedNow = (): Record<Signal, number> => Object.fromEntries(SIGNALS.map((signal) => [signal, counts.accepted(signal)])) as Record<Signal, number>;
  const allSettled = (marks: Record<Signal, number>): boolean => SIGNALS.every((signal) => counts.settled(signal) >= marks[signal]);

  function open(): JournalFile {
    const path = join(dir, `${String(Date.now()).padStart(15, '0')}-${String(sequence++ % 1e6).padStart(6, '0')}.jnz`);
    return { path, fd: openSync(path, 'a', 0o600), openedAt: Date.now(), size: 0, marks: { metrics: 0, logs: 0, traces: 0 }, unsyncedSince: null, dictionary: Buffer.alloc(0) };
  }

  let lastSettled = '';
  let started = false;
  let settledFd: number | null = null;
  let settledClosed = false;
  /**
   * Rewrites `settled.json` when it changed: one write of {@link SETTLED_WIDTH} bytes in place,
   * which a killed process either made or did not (a stale note only means more replayed). It
   * runs each time records settle, so it must cost little.
   */
  function writeSettled(): void {
    if (!started || settledClosed) return;
    const text = JSON.stringify(Object.fromEntries(SIGNALS.map((signal) => [signal, counts.settled(signal)])));
    if (text === lastSettled) return;
    // Opened without truncating: until the first write, the earlier note stays readable.
    settledFd ??= openSync(join(dir, SETTLED), constants.O_RDWR | constants.O_CREAT, 0o600);
    writeSync(settledFd, text.padEnd(SETTLED_WIDTH), 0, 'utf8');
    lastSettled = text;
  }

  let failure: { at: string; error: string } | null = null;
  function failed(error: unknown): void {
    failure ??= { at: new Date().toISOString(), error: (error as NodeJS.ErrnoException).code ?? (error as Error).message };
  }

  /** Syncs a file's unsynced lines; a closed file's descriptor goes with it. */
  function syncFile(file: JournalFile): void {
    if (file.fd === null) return;
    if (file.unsyncedSince !== null) {
      try {
        fdatasyncSync(file.fd);
      } catch (error) {
        failed(error);
        throw error;
      }
      written.syncs++;
      file.unsyncedSince = null;
    }
    if (file !== current) {
      closeSync(file.fd);
      file.fd = null;
    }
  }

  /**
   * Makes the text of the pending lines whose records have not all settled, and writes it to
   * the open file (a new one if none is); syncs it when `durable`.
   */
  function write(durable: boolean): void {
    lines.settle(Infinity);
    if (buffer.length > 0) {
      try {
        current ??= open();
        // Compressing and the next dictionary copy the text: the buffer is free to take more.
        const text = buffer.view();
        const [header, payload] = encodeJournalFrame(text, current.dictionary);
        const length = header.length + payload.length;
        // A short write (a file size limit, a disk filling up) is not an error by itself: write
        // the rest, which then fails with the reason.
        let at = writevSync(current.fd as number, [header, payload]);
        for (written.writes++; at < length; written.writes++) {
          const [part, offset] = at < header.length ? [header, at] : [payload, at - header.length];
          at += writeSync(current.fd as number, part, offset, part.length - offset);
        }
        current.dictionary = nextDictionary(current.dictionary, text);
        buffer.reset();
        written.bytes += length;
        current.size += length;
        current.unsyncedSince ??= Date.now();
        // Every accepted record was appended as it was accepted: all of them are in a file now,
        // or settled.
        current.marks = acceptedNow();
        failure = null;
      } catch (error) {
        // These lines are not on disk, and the file may end in part of one (a replay skips it as
        // torn). The next write starts a new file, whose first line says again where the counts
        // stand, so they stay aligned for what is journaled after.
        buffer.reset();
        failed(error);
        try {
          rotate();
        } catch {
          current = null;
        }
        next = null;
        throw error;
      }
    }
    // Every file with unsynced lines, not only the open one: a tick may have written the lines
    // a request carried, and rotated their file, before the request's sync.
    if (durable) for (const file of current === null ? closed : [...closed, current]) if (file.unsyncedSince !== null) syncFile(file);
  }

  /**
   * Puts a line's text in the buffer after a base line where the counts do not follow on from
   * the line before (a file's first line, or one after lines that were not written: a replay
   * counts from it), and after the declarations of its resource and session context, whose ids
   * it then ends with (`r`, `c`).
   */
  function bufferLine(line: PendingLine, json: string | Uint8Array): void {
    if (next === null || next.metrics !== line.start.metrics || next.logs !== line.start.logs || next.traces !== line.start.traces) {
      buffer.write(JSON.stringify({ b: line.start }), 'latin1');
      buffer.byte(NEWLINE);
    }
    next = line.end;
    const resourceId = declareResource(line.resource);
    const contextId = declareContext(line.context);
    // V8's JSON.stringify, then one copy into the buffer: writing an event's line byte by byte
    // in JavaScript (json-wire.ts's writers, straight from the lane entry, without the
    // journaled entry's objects) measured slower, 3.4-3.7 us a line against 2.2-2.5.
    if (typeof json === 'string') buffer.write(json, 'utf8');
    else buffer.copy(json);
    if (resourceId !== 0 || contextId !== 0) {
      // The ids go in by text: the line is an object, so its JSON ends with its closing brace.
      buffer.truncate(buffer.length - 1);
      buffer.write(`${resourceId === 0 ? '' : `,"r":${resourceId}`}${contextId === 0 ? '' : `,"c":${contextId}`}}`, 'latin1');
    }
    buffer.byte(NEWLINE);
  }

  /** The id a line names its resource by (0: the daemon's own), declared in the file being written. */
  function declareResource(resource: JournaledResource | undefined): number {
    if (resource === undefined || resource.id === 0) return 0;
    declare(declared, 'd', resource.id, resource.attributes);
    return resource.id;
  }

  /** The id a line names its session context by (0: none), declared in the file being written. */
  function declareContext(context: Readonly<Record<string, string>> | undefined): number {
    if (context === undefined) return 0;
    let contextId = contextIds.get(context) ?? 0;
    if (contextId === 0) contextIds.set(context, (contextId = nextContextId++));
    declare(declaredContexts, 'cd', contextId, context);
    return contextId;
  }

  function rotate(): void {
    if (current === null) return;
    const file = current;
    current = null;
    file.marks = acceptedNow();
    // Nothing more is written to it: its dictionary is not needed any more.
    file.dictionary = Buffer.alloc(0);
    if (file.unsyncedSince === null && file.fd !== null) {
      closeSync(file.fd);
      file.fd = null;
    }
    closed.push(file);
    closedBytes += file.size;
    pressured = false;
    // The next file declares again what its lines use.
    declared.clear();
    declaredContexts.clear();
    next = null;
  }

  /** Writes `{"<key>":[id,{attributes}]}` unless the file has it already. */
  function declare(ids: Set<number>, key: 'd' | 'cd', id: number, attributes: Readonly<Record<string, unknown>>): void {
    if (ids.has(id)) return;
    ids.add(id);
    buffer.write(JSON.stringify({ [key]: [id, attributes] }), 'utf8');
    buffer.byte(NEWLINE);
  }

  /** Deletes closed files whose every record has settled, oldest first. */
  function trim(): void {
    while (closed.length > 0) {
      const oldest = closed[0] as JournalFile;
      if (!allSettled(oldest.marks)) break;
      // Deleted unsynced: the lines it held never need the disk (the kernel drops its dirty pages).
      if (oldest.fd !== null) closeSync(oldest.fd);
      rmSync(oldest.path, { force: true });
      closedBytes -= oldest.size;
      closed.shift();
    }
  }

  /** Syncs every file whose oldest unsynced line has waited too long for its records to settle. */
  function syncOverdue(now: number): void {
    for (const file of current === null ? closed : [...closed, current]) {
      if (file.unsyncedSince !== null && now - file.unsyncedSince >= syncUnsettledAfterMs && !allSettled(file.marks)) syncFile(file);
    }
  }

  /**
   * The tick runs only while the journal has work: lines to write, a file open (to rotate) or
   * closed files to trim. An idle daemon's journal sets no timer.
   */
  let timer: NodeJS.Timeout | null = null;
  let closing = false;
  function arm(): void {
    if (timer !== null || closing) return;
    timer = setInterval(tick, SYNC_INTERVAL_MS);
    timer.unref();
  }

  function tick(): void {
    try {
      write(false);
      writeSettled();
      if (current !== null && Date.now() - current.openedAt >= ROTATE_MS) rotate();
      trim();
      syncOverdue(Date.now());
      if (!pressured && closedBytes + (current?.size ?? 0) > options.maxBytes) {
        pressured = true;
        options.onPressure();
        trim();
      }
    } catch (error) {
      options.onError(`journal: ${(error as Error).message}`);
    }
    if (timer !== null && lines.length === 0 && current === null && closed.length === 0) {
      clearInterval(timer);
      timer = null;
    }
  }

  return {
    append(line, resource, context) {
      arm();
      lines.append(line, resource, context);
    },
    sync() {
      try {
        write(true);
        return true;
      } catch (error) {
        options.onError(`journal: ${(error as Error).message}`);
        return false;
      }
    },
    counts: () => ({ ...written }),
    failure: () => failure,
    noteSettled() {
      lines.settle(-Infinity);
      try {
        writeSettled();
      } catch (error) {
        options.onError(`journal: ${(error as Error).message}`);
      }
    },
    bytes: () => closedBytes + (current?.size ?? 0),
    start() {
      started = true;
      writeSettled();
    },
    close() {
      closing = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      tick();
      rotate();
      trim();
      // What a stop leaves unsettled is for the next daemon: on disk before this one goes.
      try {
        for (const file of closed) syncFile(file);
      } catch (error) {
        options.onError(`journal: ${(error as Error).message}`);
      }
      if (settledFd !== null) closeSync(settledFd);
      settledFd = null;
      settledClosed = true;
      // A clean stop settles everything: nothing is left to replay.
      if (closed.length === 0) rmSync(dir, { recursive: true, force: true });
    },
  };
}
