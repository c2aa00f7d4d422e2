/**
 * The journal's lines between their append and their write (journal.ts writes them): grouped,
 * placed in each signal's count of accepted records, held for their records to settle, and
 * dropped when they all do, since the journal is for what the daemon's death would lose.
 *
 *   append(line) --> pending: a group of event, span or log lines as objects, or a metric
 *   line's text --(all its records settled)--> dropped
 *                --(held long enough, or the journal's next write)--> made(line, text)
 *
 * Under a load the exporters keep up with, the lanes export full batches within milliseconds,
 * so an event line is held as objects for up to {@link HOLD_MS} and most are dropped unwritten:
 * making their text was most of what the journal cost per event. While records wait longer (a
 * lane's backlog past {@link HOLD_BACKLOG}, as behind a slow collector), a line's text is made
 * when the next line comes: held, its objects would outlive the lanes' and be collected in V8's
 * old generation, at a higher cost than its text.
 */
import { measurementsOf, type Signal, SIGNALS } from '../../protocol/index.js';
import { createByteBuffer } from './byte-buffer.js';
import { type GroupKind, type GroupLine, type JournaledScope, type JournalLine, MAX_GROUPED_LINES, pointsIn } from './journal-read.js';

/**
 * Longest an event, span or log line is held as objects for its records to settle first (then
 * it is never written); past it, its text is made and its objects let go. A lane's batch of 512
 * fills in 10-40 ms under a load that fills them.
 */
export const HOLD_MS = 100;
/**
 * Records of the log or the trace lane unsettled at most for a new line to be held: four of a
 * lane's batches. Past it records wait for the ones ahead of them, longer than {@link HOLD_MS}.
 */
export const HOLD_BACKLOG = 2048;

/** A resource a line is appended with. */
export interface JournaledResource {
  readonly id: number;
  readonly attributes: Readonly<Record<string, unknown>>;
}

export interface JournalCounts {
  /** Records each signal has accepted so far. */
  accepted(signal: Signal): number;
  /** Records each signal has exported, failed, or spilled to disk so far. */
  settled(signal: Signal): number;
}

/**
 * A line appended and not yet written. `start` is where each signal's count of accepted records
 * stood before its first record, `end` after its last: a line whose records do not follow on
 * from the line written before it needs a base line in front.
 */
export interface PendingLine {
  readonly kind: GroupKind | 'm' | 'p';
  readonly resource: JournaledResource | undefined;
  readonly context: Readonly<Record<string, string>> | undefined;
  readonly start: Readonly<Record<Signal, number>>;
  readonly end: Readonly<Record<Signal, number>>;
}

export interface PendingLines {
  /** A line whose records are counted as accepted already. */
  append(line: JournalLine, resource: JournaledResource | undefined, context: Readonly<Record<string, string>> | undefined): void;
  /**
   * Drops the lines whose records have all settled, and makes the text of the oldest others, in
   * order, as far as those appended at `madeBy` or before go (`Infinity`: all of them).
   */
  settle(madeBy: number): void;
  readonly length: number;
}

export interface PendingLinesOptions {
  readonly counts: JournalCounts;
  readonly onError: (message: string) => void;
  /** Makes an event line's entry as it is written from the one appended (journaled-entry.ts). */
  readonly writtenEntry?: ((entry: unknown) => unknown) | undefined;
  /**
   * Takes a line's text, in the order the lines were appended: the JSON of one object, without
   * its resource's or context's id and without a newline.
   */
  readonly made: (line: PendingLine, json: string | Uint8Array) => void;
}

interface Pending extends PendingLine {
  /** A group's lines, as appended; none for a metric line. */
  readonly values: unknown[];
  /** A metric line's text: its start and end in the staging buffer. */
  readonly text: readonly [number, number] | null;
  readonly end: Record<Signal, number>;
  /** Until when it is held as objects (epoch ms). */
  readonly holdUntil: number;
}

const NO_VALUES: unknown[] = [];
const NO_RECORDS: Readonly<Record<Signal, number>> = Object.freeze({ metrics: 0, logs: 0, traces: 0 });
const ONE_LOG: Readonly<Record<Signal, number>> = Object.freeze({ metrics: 0, logs: 1, traces: 0 });
const ONE_SPAN: Readonly<Record<Signal, number>> = Object.freeze({ metrics: 0, logs: 0, traces: 1 });
const LOG_AND_SPAN: Readonly<Record<Signal, number>> = Object.freeze({ metrics: 0, logs: 1, traces: 1 });

/** Whether every record of a line has settled (exported, failed or spilled): then it need never be written. */
function isSettled(line: Pending, settled: Readonly<Record<Signal, number>>): boolean {
  for (const signal of SIGNALS) if (line.end[signal] > line.start[signal] && line.end[signal] > settled[signal]) return false;
  return true;
}

export function createPendingLines(options: PendingLinesOptions): PendingLines {
  const { counts } = options;
  /**
   * The text of the metric lines appended since the journal last wrote everything, made as they
   * are appended: a batch's records are garbage at once, instead of living until the write (long
   * enough, under load, to be moved to V8's old generation and collected there at a much higher
   * cost). Metric records settle only when collected, so their lines are nearly always written.
   */
  const staged = createByteBuffer(64 * 1024, 8 * 1024 * 1024);
  /** In order; a line whose records all settle is dropped from it. */
  const pending: Pending[] = [];
  /** The last pending line while lines of its kind may still join it ({@link GroupLine}). */
  let group: Pending | null = null;

  const settledNow = (): Record<Signal, number> => ({ metrics: counts.settled('metrics'), logs: counts.settled('logs'), traces: counts.settled('traces') });

  /** A group of event, span or log lines as one line, each event's entry made as it is written. */
  function groupLineOf({ kind, values }: Pending): GroupLine {
    if (kind === 's') return { S: values };
    if (kind === 'l') return { L: values };
    const writtenEntry = options.writtenEntry;
    if (writtenEntry === undefined) return { E: values as (readonly unknown[])[] };
    return { E: values.map((value) => [writtenEntry((value as readonly unknown[])[0]), (value as readonly unknown[])[1]]) };
  }

  /**
   * A line's JSON, or null when it cannot be made: the line is then reported and left out, as
   * one whose records settled (the line after it gets a base line).
   */
  function jsonOf(kind: Pending['kind'], value: object): string | null {
    try {
      return JSON.stringify(value);
    } catch (error) {
      options.onError(`journal: a ${kind} line left out: ${(error as Error).message}`);
      return null;
    }
  }

  /** Hands a line's text on. */
  function make(line: Pending): void {
    if (line.text !== null) return options.made(line, staged.view(line.text[0]).subarray(0, line.text[1] - line.text[0]));
    const json = jsonOf(line.kind, groupLineOf(line));
    if (json !== null) options.made(line, json);
  }

  function settle(madeBy: number): void {
    if (pending.length === 0) return;
    const settled = settledNow();
    let kept = 0;
    for (const line of pending) {
      if (isSettled(line, settled)) {
        if (line === group) group = null;
      } else if (kept === 0 && line.holdUntil <= madeBy) {
        make(line);
        if (line === group) group = null;
      } else pending[kept++] = line;
    }
    pending.length = kept;
    if (kept === 0) staged.reset();
  }

  /**
   * Appends a line to the pending ones: to the group of the last one when it is of the same
   * kind, resource and context and its records follow on from the group's; `size` is how many
   * records of each signal it holds.
   */
  function appendPending(kind: Pending['kind'], value: unknown, resource: JournaledResource | undefined, context: Readonly<Record<string, string>> | undefined, size: Readonly<Record<Signal, number>>): void {
    const metrics = counts.accepted('metrics');
    const logs = counts.accepted('logs');
    const traces = counts.accepted('traces');
    const last = group;
    if (kind !== 'm' && kind !== 'p' && last !== null && last.kind === kind && last.resource === resource && last.context === context && last.values.length < MAX_GROUPED_LINES) {
      const { end } = last;
      if (end.metrics === metrics - size.metrics && end.logs === logs - size.logs && end.traces === traces - size.traces) {
        last.values.push(value);
        end.metrics = metrics;
        end.logs = logs;
        end.traces = traces;
        return;
      }
    }
    // A new line: first the oldest lines that have waited long enough are made into text.
    const now = Date.now();
    settle(now);
    const start = { metrics: metrics - size.metrics, logs: logs - size.logs, traces: traces - size.traces };
    const end = { metrics, logs, traces };
    if (kind === 'm' || kind === 'p') {
      // Its text now, into the staging buffer.
      group = null;
      const json = jsonOf(kind, kind === 'm' ? { m: value as readonly unknown[] } : { p: value as readonly JournaledScope[] });
      if (json === null) return;
      const at = staged.length;
      staged.write(json, 'utf8');
      pending.push({ kind, values: NO_VALUES, text: [at, staged.length], resource, context: undefined, start, end, holdUntil: now });
      return;
    }
    // Held while the lanes keep up (their records then settle within a batch or two).
    const keepingUp = logs - counts.settled('logs') <= HOLD_BACKLOG && traces - counts.settled('traces') <= HOLD_BACKLOG;
    group = { kind, values: [value], text: null, resource, context, start, end, holdUntil: keepingUp ? now + HOLD_MS : now };
    pending.push(group);
  }

  return {
    append(line, resource, context) {
      if ('e' in line) {
        const taken = line.e[1] as { log?: boolean; span?: boolean } | undefined;
        return appendPending('e', line.e, resource, context, taken?.log === true ? (taken.span === true ? LOG_AND_SPAN : ONE_LOG) : taken?.span === true ? ONE_SPAN : NO_RECORDS);
      }
      if ('s' in line) return appendPending('s', line.s, resource, undefined, ONE_SPAN);
      if ('l' in line) return appendPending('l', line.l, resource, undefined, ONE_LOG);
      if ('m' in line) {
        let measurements = 0;
        for (const record of line.m) measurements += measurementsOf(record);
        return appendPending('m', line.m, resource, undefined, { metrics: measurements, logs: 0, traces: 0 });
      }
      appendPending('p', line.p, resource, undefined, { metrics: pointsIn(line.p), logs: 0, traces: 0 });
    },
    settle,
    get length() {
      return pending.length;
    },
  };
}
