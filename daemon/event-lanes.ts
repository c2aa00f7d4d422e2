/**
 * The two lanes session events and host-made spans go out on: the log lane and the trace lane,
 * each a batcher in front of an exporter wrapped to keep exact books. The lanes hold plain
 * records (lane-records.ts), each under its host's resource, until the exporter writes a batch
 * of them as OTLP.
 *
 *   event-ingest --> emit() --> span --> span batcher --> accounted exporter
 *                           \-> log  --> log batcher  --> accounted exporter
 *                                (in the span's context, so the two correlate)
 *   span-ingest  --> emitSpan() ------> span batcher (the same trace lane)
 *   log-ingest   --> emitLog() -------> log batcher (the same log lane)
 *
 * A lane refuses (and counts as `queue_full`) a record once {@link MAX_LANE_QUEUE} accepted
 * records, or {@link MAX_LANE_CHARS} characters of them, are still unexported.
 */
import type { Attributes } from '@opentelemetry/api';

import type { ExporterStatus, TraceParent } from '../protocol/index.js';
import { deadline } from './deadline.js';
import type { LaneExporter } from './delivery/queued-exporters.js';
import type { HostResource } from './host-resources.js';
import { DISABLED_HEALTH } from './export-accounting.js';
import { accountedExporter, type LaneBooks, type LaneHold } from './lane-books.js';
import { createLaneBatcher, type LaneBatcher } from './lane-batcher.js';
import { attributesWeight, eventLogEntry, type LaneItem, leadWeight, type LogEntry, logWeight, newSpanId, newTraceId, type SpanEntry, spanWeight } from './lane-records.js';
import type { FlushOutcome } from './metrics-pipeline.js';
import type { SignalStats } from './stats.js';

/** Accepted records a lane holds unexported at most; beyond it new ones are dropped and counted. */
export const MAX_LANE_QUEUE = 20_000;
/**
 * Characters (attribute keys and string values) a lane holds unexported at most: with tool
 * output allowed on the log lane, 20,000 records of 64 KiB values would be over a gigabyte.
 */
export const MAX_LANE_CHARS = 32 * 1024 * 1024;
/** Records per export request. */
const MAX_EXPORT_BATCH = 512;

export interface LaneOptions {
  /** Each queues its batches for delivery (delivery/queued-exporters.ts); the queue counts what it sends. */
  readonly logExporter: LaneExporter<LaneItem<LogEntry>>;
  readonly spanExporter: LaneExporter<LaneItem<SpanEntry>>;
  /**
   * A lane's exporter as configured now, read per event and per status: while its kind is
   * `none`, events are still checked, then counted as dropped (`exporter_disabled`).
   */
  readonly describe: (signal: 'logs' | 'traces') => { readonly kind: ExporterStatus['kind']; readonly endpoint: string | null };
  readonly logStats: SignalStats;
  readonly traceStats: SignalStats;
  /** How long records wait in a lane before export. */
  readonly scheduledDelayMs: number;
  readonly exportTimeoutMs: number;
  readonly onError: (message: string) => void;
  /** Sees every entry a lane took, with the lanes that took it, for the journal. */
  readonly onAccepted?: (entry: LaneEntry, lanes: LaneChoice) => void;
  /** Sees every log record a sender's OTLP export put on the log lane, for the journal. */
  readonly onLogAccepted?: (entry: LogEntry, resource: HostResource) => void;
  /** Sees every host-made span the trace lane took, for the journal. */
  readonly onSpanAccepted?: (entry: SpanEntry, resource: HostResource) => void;
}

/** What became of an entry: whether a lane refused it for want of room (counted as `queue_full`). */
export interface EmitOutcome {
  readonly full: boolean;
}

/** Which lanes an entry goes to (a replay sends it only where it was taken the first time). */
export interface LaneChoice {
  readonly log: boolean;
  readonly span: boolean;
}

/**
 * One session event, ready for the lanes. Each lane's attributes are its lead's (the session's
 * context as that lane has it, held by reference: the same object for every event of the
 * session), then its own attributes, none of which is under one of the lead's keys; without a
 * lead, its own attributes are all of them.
 */
export interface LaneEntry {
  readonly name: string;
  /** When the event happened (its end, with a duration), in epoch milliseconds. */
  readonly timeMs: number;
  readonly durationMs: number;
  /** The log record's attributes after {@link context}. */
  readonly logAttributes: Attributes;
  /** The span's attributes after {@link spanContext}. */
  readonly spanAttributes: Attributes;
  /** The caller's span, from `traceparent`; the event's span goes under it. */
  readonly parent: TraceParent | null;
  readonly tracestate: string | null;
  /** The resource of the host that sent it. */
  readonly resource: HostResource;
  /**
   * What the log record's attributes begin with: the session's context, in its order. The
   * journal declares it once a file and writes the rest of each entry.
   */
  readonly context?: Readonly<Record<string, string>> | undefined;
  /** What the span's attributes begin with: the session's context as the trace lane has it. */
  readonly spanContext?: Readonly<Record<string, string>> | undefined;
}

export interface EventLanes {
  /**
   * Emits the event's span, then its log record in the span's context (or the parent's, when
   * no span was made), so a log and its span correlate. Both lanes take the event or neither
   * does: when either lacks room, each lane it was meant for counts `queue_full`. Each lane
   * counts `accepted` or why it refused; neither counts `received`.
   */
  emit(entry: LaneEntry, only?: LaneChoice): EmitOutcome;
  /**
   * Puts a host-made span on the trace lane under its own ids. Counts `accepted`, or why it was
   * not taken (`not_sampled`, `exporter_disabled`, `queue_full`); does not count `received`.
   */
  emitSpan(entry: SpanEntry, resource: HostResource): EmitOutcome;
  /**
   * Puts a log record a sender exported over OTLP on the log lane, under its resource and scope.
   * Counts `accepted`, or why it was not taken (`exporter_disabled`, `queue_full`); does not
   * count `received`.
   */
  emitLog(entry: LogEntry, resource: HostResource): EmitOutcome;
  /**
   * Whether either lane holds more than half of what it may ({@link MAX_LANE_QUEUE} records or
   * {@link MAX_LANE_CHARS} characters): a caller putting many records on them at once (a
   * journal's replay) lets them hand batches on before it goes on, rather than have them refused.
   */
  crowded(): boolean;
  /** Exports what both lanes hold, waiting at most `timeoutMs`. */
  forceFlush(timeoutMs: number): Promise<FlushOutcome>;
  /** Exports what is left and stops, within the deadline; a second call returns the first call's promise. */
  shutdown(options: { timeoutMillis: number }): Promise<void>;
  exporterStatus(): ExporterStatus[];
}

const NOT_FULL: EmitOutcome = Object.freeze({ full: false });
const BOTH: LaneChoice = Object.freeze({ log: true, span: true });
const LOG_ONLY: LaneChoice = Object.freeze({ log: true, span: false });
const SPAN_ONLY: LaneChoice = Object.freeze({ log: false, span: true });
const FULL: EmitOutcome = Object.freeze({ full: true });
const UNSET: SpanEntry['status'] = Object.freeze({ code: 'unset' });
const NONE: readonly never[] = Object.freeze([]);

/** A record a lane holds, with the weight it was admitted with (released when it settles). */
interface Held<E> extends LaneItem<E> {
  readonly weight: number;
}

/** The span of a session event: under its caller's span, when it has one (from another process). */
function eventSpanEntry(entry: LaneEntry, traceId: string, spanId: string): SpanEntry {
  const { parent } = entry;
  return {
    traceId,
    spanId,
    parentSpanId: parent?.spanId,
    parentRemote: parent === null ? undefined : true,
    name: entry.name,
    kind: 'internal',
    startMs: entry.timeMs - entry.durationMs,
    endMs: entry.timeMs,
    status: UNSET,
    attributes: entry.spanAttributes,
    lead: entry.spanContext,
    events: NONE,
    links: NONE,
    tracestate: entry.tracestate ?? undefined,
    flags: 1,
    scope: undefined,
  };
}

/** Creates both lanes; nothing is exported until a batch fills, its delay passes, or a flush. */
export function createEventLanes(options: LaneOptions): EventLanes {
  const { logStats, traceStats } = options;
  const logHold: LaneHold = { chars: 0, records: 0 };
  const spanHold: LaneHold = { chars: 0, records: 0 };
  const books = { timeoutMs: options.exportTimeoutMs, onError: options.onError, weigh: (item: Held<unknown>) => item.weight };
  const logBooks = accountedExporter<Held<LogEntry>>('logs', options.logExporter, { ...books, stats: logStats, hold: logHold });
  const spanBooks = accountedExporter<Held<SpanEntry>>('traces', options.spanExporter, { ...books, stats: traceStats, hold: spanHold });
  const batcher = <T>(exporter: { export(items: T[], done: () => void): void }): LaneBatcher<T> =>
    createLaneBatcher<T>({ maxBatch: MAX_EXPORT_BATCH, delayMs: options.scheduledDelayMs, export: (batch, done) => exporter.export(batch, () => done()) });
  const logBatcher = batcher(logBooks);
  const spanBatcher = batcher(spanBooks);
  let shutdownPromise: Promise<void> | null = null;

  /** Set by admit() when it refuses for want of room. */
  let refusedFull = false;

  /** Whether a lane has room for one more record of `weight`: what it holds, not what an export queue behind it holds (that one spills to disk). */
  const fits = (hold: LaneHold, weight: number): boolean => hold.records < MAX_LANE_QUEUE && hold.chars + weight <= MAX_LANE_CHARS;

  /** Whether a lane may take one more record of `weight`; counts the refusal when it may not. */
  function admit(stats: SignalStats, hold: LaneHold, weight: number, disabled: boolean): boolean {
    if (disabled) {
      stats.accepted(1);
      stats.failed(1, 'exporter_disabled');
      return false;
    }
    if (!fits(hold, weight)) {
      stats.dropped('queue_full', 1);
      refusedFull = true;
      return false;
    }
    stats.accepted(1);
    hold.chars += weight;
    hold.records++;
    return true;
  }

  const traceDisabled = (): boolean => options.describe('traces').kind === 'none';

  return {
    emit(entry, only = BOTH) {
      const { parent } = entry;
      // An event is taken by both lanes or by neither: one refused for want of room is sent
      // again, and what one lane had taken of it would then be there twice.
      const spanWanted = only.span && (parent === null || parent.sampled);
      if (only.span && !spanWanted) traceStats.dropped('not_sampled', 1);
      const spanWeightOf = spanWanted ? leadWeight(entry.spanContext) + attributesWeight(entry.spanAttributes) : 0;
      const logWeightOf = only.log ? leadWeight(entry.context) + logWeight(entry.logAttributes, entry.name) : 0;
      const logsDisabled = options.describe('logs').kind === 'none';
      const tracesDisabled = traceDisabled();
      if ((spanWanted && !tracesDisabled && !fits(spanHold, spanWeightOf)) || (only.log && !logsDisabled && !fits(logHold, logWeightOf))) {
        if (spanWanted) traceStats.dropped('queue_full', 1);
        if (only.log) logStats.dropped('queue_full', 1);
        return FULL;
      }
      // The log record goes in the event's span, or in its caller's when no span is made.
      let traceId = parent?.traceId;
      let spanId = parent?.spanId;
      let flags = parent === null ? undefined : parent.sampled ? 1 : 0;
      let spanTaken = false;
      if (!spanWanted) {
        // A replay of an entry whose span was not taken the first time, or a span not sampled.
      } else if (admit(traceStats, spanHold, spanWeightOf, tracesDisabled)) {
        traceId ??= newTraceId();
        spanId = newSpanId();
        flags = 1;
        spanBatcher.add({ entry: eventSpanEntry(entry, traceId, spanId), resource: entry.resource.resource, weight: spanWeightOf });
        spanTaken = true;
      }
      const logTaken = only.log && admit(logStats, logHold, logWeightOf, logsDisabled);
      if (spanTaken || logTaken) options.onAccepted?.(entry, logTaken ? (spanTaken ? BOTH : LOG_ONLY) : SPAN_ONLY);
      if (logTaken) logBatcher.add({ entry: eventLogEntry(entry.name, entry.timeMs, entry.logAttributes, entry.context, traceId, spanId, flags), resource: entry.resource.resource, weight: logWeightOf });
      return NOT_FULL;
    },
    emitSpan(entry, resource) {
      refusedFull = false;
      if ((entry.flags & 1) === 0) traceStats.dropped('not_sampled', 1);
      else {
        const weight = spanWeight(entry);
        if (admit(traceStats, spanHold, weight, traceDisabled())) {
          options.onSpanAccepted?.(entry, resource);
          spanBatcher.add({ entry, resource: resource.resource, weight });
        }
      }
      return refusedFull ? FULL : NOT_FULL;
    },
    emitLog(entry, resource) {
      refusedFull = false;
      const weight = logWeight(entry.attributes, entry.body);
      if (admit(logStats, logHold, weight, options.describe('logs').kind === 'none')) {
        options.onLogAccepted?.(entry, resource);
        logBatcher.add({ entry, resource: resource.resource, weight });
      }
      return refusedFull ? FULL : NOT_FULL;
    },
    async forceFlush(timeoutMs) {
      const failedBefore = logStats.snapshot().failed + traceStats.snapshot().failed;
      const outcome = await deadline(Promise.all([logBatcher.forceFlush(), spanBatcher.forceFlush()]), timeoutMs).catch((error: unknown) => {
        options.onError(`event flush: ${error instanceof Error ? error.message : String(error)}`);
        return 'failed' as const;
      });
      if (outcome === 'failed') return { complete: false, timedOut: false };
      if (outcome === 'timeout') return { complete: false, timedOut: true };
      return { complete: logStats.snapshot().failed + traceStats.snapshot().failed === failedBefore, timedOut: false };
    },
    shutdown({ timeoutMillis }) {
      shutdownPromise ??= (async () => {
        // Each batcher's shutdown exports what it holds. The deadline bounds both lanes
        // together; what is still unexported when it passes is counted as dropped here, once.
        const lanes: [LaneBatcher<never>, LaneBooks, SignalStats][] = [
          [logBatcher, logBooks, logStats],
          [spanBatcher, spanBooks, traceStats],
        ];
        await Promise.all(
          lanes.map(async ([batcher, books, stats]) => {
            const outcome = await deadline(batcher.shutdown(), timeoutMillis).catch((error: unknown) => {
              options.onError(`event lane shutdown: ${error instanceof Error ? error.message : String(error)}`);
              return 'failed' as const;
            });
            if (outcome !== 'timeout') return;
            books.abandon();
            const left = stats.buffered();
            if (left > 0) stats.failed(left, 'shutdown_deadline');
          }),
        );
      })();
      return shutdownPromise;
    },
    crowded: () => [logHold, spanHold].some((hold) => hold.records > MAX_LANE_QUEUE / 2 || hold.chars > MAX_LANE_CHARS / 2),
    exporterStatus() {
      const status = (signal: 'logs' | 'traces', books: LaneBooks): ExporterStatus => {
        const { kind, endpoint } = options.describe(signal);
        return { signal, kind, endpoint, ...(kind === 'none' ? DISABLED_HEALTH : books.health()) };
      };
      return [status('logs', logBooks), status('traces', spanBooks)];
    },
  };
}
