/**
 * The client's intake: what the host records (metric values, timers, session events) is checked
 * here and put in its buffer, and the frame queue is told. What fails a check or finds its
 * buffer full is dropped and counted in the ledger, and reported once per kind of problem.
 *
 * `record()` is the hot path (STYLE.md point 12): a counter increment or histogram value for a
 * name and tags already buffered is added in place before anything else is looked at.
 */
import { type MetricKind, metricNameProblem, type RejectionCode, type SessionEvent, sessionEventProblem, tagsProblem } from '../protocol/index.js';
import { monotonicMs } from './clock.js';
import type { DropLedger } from './drop-ledger.js';
import { type EventBuffer, withValuesCut } from './event-buffer.js';
import type { FrameQueue } from './frame-queue.js';
import type { RecordBuffer } from './record-buffer.js';
import type { EventFields, Tags, Timer } from './session-handle.js';

export interface IntakeOptions {
  readonly records: RecordBuffer;
  readonly events: EventBuffer;
  readonly queue: Pick<FrameQueue, 'added'>;
  readonly drops: DropLedger;
  /** The buffers' bounds, named in the messages of a full buffer. */
  readonly maxBufferedRecords: number;
  readonly maxBufferedEvents: number;
}

export interface Intake {
  /** Checks and buffers one measurement. Never throws. */
  record(kind: MetricKind, name: string, value: number, tags: Tags | undefined, sessionId?: string): void;
  /** Starts a timer whose `stop()` records the elapsed milliseconds as a histogram, once. */
  timer(name: string, tags: Tags | undefined, sessionId: string | undefined): Timer;
  /** Checks and queues one event of a session. Never throws. */
  sendEvent(sessionId: string, name: string, fields: EventFields | undefined): void;
}

export function createIntake(options: IntakeOptions): Intake {
  const { records, events, queue, drops } = options;

  const drop = (reason: string, count: number, message: string): void => drops.drop('records', reason, count, message);

  function record(kind: MetricKind, name: string, value: number, tags: Tags | undefined, sessionId?: string): void {
    // The hot path: a counter increment or histogram value for a name and tags already buffered.
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && (kind === 'histogram' || kind === 'counter') && records.addToExisting(kind, name, value, tags, sessionId)) return;
    // metricNameProblem remembers names it found valid, so this is a Set lookup after the first call.
    const nameProblem = metricNameProblem(name);
    if (nameProblem !== null) {
      drop('invalid_name', 1, `codexd: metric name ${JSON.stringify(String(name)).slice(0, 80)} ${nameProblem}; dropping such records`);
      return;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || (kind !== 'gauge' && value < 0)) {
      const code: RejectionCode = kind === 'counter' && value < 0 ? 'negative_counter' : 'invalid_value';
      drop(code, 1, `codexd: ${name}: value ${String(value)} is not valid for a ${kind}; dropping such records`);
      return;
    }
    if (tags !== undefined) {
      const problem = tagsProblem(tags);
      if (problem !== null) {
        drop(problem.code, 1, `codexd: ${name}: ${problem.field} ${problem.message}; dropping such records`);
        return;
      }
    }
    if (records.add(kind, name, value, tags, sessionId)) queue.added('records');
    else drop('client_buffer_full', 1, `codexd: client buffer full (${options.maxBufferedRecords} records); dropping new records until the daemon catches up`);
  }

  return {
    record,
    timer(name, tags, sessionId) {
      const started = monotonicMs();
      let stopped = false;
      return {
        stop(extraTags) {
          // Codex's Timer records again when dropped after an explicit stop; this one records once.
          if (stopped) return undefined;
          stopped = true;
          const elapsed = monotonicMs() - started;
          record('histogram', name, elapsed, extraTags === undefined ? tags : { ...tags, ...extraTags }, sessionId);
          return elapsed;
        },
      };
    },
    sendEvent(sessionId, name, fields) {
      const raw: SessionEvent = { ...fields, sessionId, name, time: fields?.time ?? Date.now() };
      const event = withValuesCut(raw);
      const problem = sessionEventProblem(event, 0);
      if (problem !== null) {
        const message = `codexd: event ${JSON.stringify(String(name)).slice(0, 80)}: ${problem.message.replace(/^events\[0\]\./, '')}; dropping such events`;
        drops.drop('events', problem.code, 1, message);
        return;
      }
      if (events.add(event)) queue.added('events');
      else drops.drop('events', 'client_buffer_full', 1, `codexd: client event buffer full (${options.maxBufferedEvents} events); dropping new events until the daemon catches up`);
    },
  };
}
