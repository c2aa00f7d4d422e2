/**
 * The two lanes session events and host-made spans go out on: the log lane and the trace lane,
 * each a batch processor in front of an exporter wrapped to keep exact books. The lanes make
 * the records themselves (lane-records.ts), each under its host's resource.
 *
 *   event-ingest --> emit() --> span --> BatchSpanProcessor      --> accounted exporter
 *                           \-> log  --> BatchLogRecordProcessor --> accounted exporter
 *                                (in the span's context, so the two correlate)
 *   span-ingest  --> emitSpan() ------> BatchSpanProcessor (the same trace lane)
 *
 * The batch processors drop silently when their queue is full. They never get the chance: a
 * lane refuses (and counts as `queue_full`) a record once {@link MAX_LANE_QUEUE} accepted
 * records, or {@link MAX_LANE_CHARS} characters of them, are still unexported, and each
 * processor's queue is sized above the first bound.
 */
import type { Attributes, SpanContext } from '@opentelemetry/api';
import { BatchLogRecordProcessor, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';

import type { ExporterStatus, TraceParent } from '../protocol/index.js';
import { deadline } from './deadline.js';
import type { Delivering } from './delivery/queued-exporters.js';
import type { HostResource } from './host-resources.js';
import { DISABLED_HEALTH } from './export-accounting.js';
import { accountedExporter, type LaneBooks, type LaneHold } from './lane-books.js';
import { attributesWeight, type LogEntry, logWeight, newSpanId, newTraceId, readableHostLogRecord, readableLogRecord, readableSpan, type SpanEntry, spanWeight } from './lane-records.js';
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
  readonly logExporter: LogRecordExporter & Delivering;
  readonly spanExporter: SpanExporter & Delivering;
  /**
   * A lane's exporter as configured now, read per event and per status: while its kind is
   * `none`, events are still checked, then counted as dropped (`exporter_disabled`).
   */
  readonly describe: (signal: 'logs' | 'traces') => { readonly kind: ExporterStatus['kind']; readonly endpoint: string | null };
  readonly logStats: SignalStats;
  readonly traceStats: SignalStats;
  /** How long records wait in a batch processor before export. */
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

/** One session event, ready for the lanes. */
export interface LaneEntry {
  readonly name: string;
  /** When the event happened (its end, with a duration), in epoch milliseconds. */
  readonly timeMs: number;
  readonly durationMs: number;
  readonly logAttributes: Attributes;
  readonly spanAttributes: Attributes;
  /** The caller's span, from `traceparent`; the event's span goes under it. */
  readonly parent: TraceParent | null;
  readonly tracestate: string | null;
  /** The resource of the host that sent it. */
  readonly resource: HostResource;
  /**
   * The session's context, which the log attributes begin with, in its order (the same object
   * for every event of the session): the journal declares it once a file and writes the rest of
   * each entry.
   */
  readonly context?: Readonly<Record<string, string>> | undefined;
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
  /** Exports what both lanes hold, waiting at most `timeoutMs`. */
  forceFlush(timeoutMs: number): Promise<FlushOutcome>;
  /** Exports what is left and stops, within the deadline; a second call returns the first call's promise. */
  shutdown(options: { timeoutMillis: number }): Promise<void>;
  exporterStatus(): ExporterStatus[];
}

const NOT_FULL: EmitOutcome = Object.freeze({ full: false });
const FULL: EmitOutcome = Object.freeze({ full: true });

/** Creates both lanes; nothing is exported until a batch fills, its delay passes, or a flush. */
export function createEventLanes(options: LaneOptions): EventLanes {
  const { logStats, traceStats } = options;
  const processorOptions = {
    maxQueueSize: MAX_LANE_QUEUE + MAX_EXPORT_BATCH,
    maxExportBatchSize: MAX_EXPORT_BATCH,
    scheduledDelayMillis: options.scheduledDelayMs,
    // Above the accounted exporter's own timeout, so that one settles a hanging export first.
    exportTimeoutMillis: options.exportTimeoutMs + 1000,
  };
  const logHold: LaneHold = { chars: 0, records: 0 };
  const spanHold: LaneHold = { chars: 0, records: 0 };
  const books = { timeoutMs: options.exportTimeoutMs, onError: options.onError };
  const logBooks = accountedExporter<ReadableLogRecord>('logs', options.logExporter, { ...books, stats: logStats, hold: logHold, weigh: (record) => logWeight(record.attributes, record.body) });
  const spanBooks = accountedExporter<ReadableSpan>('traces', options.spanExporter, { ...books, stats: traceStats, hold: spanHold, weigh: spanWeight });
  const { logExporter, spanExporter } = options;
  const logProcessor = new BatchLogRecordProcessor({ ...processorOptions, exporter: { ...logBooks, shutdown: () => logExporter.shutdown(), forceFlush: () => logExporter.forceFlush?.() ?? Promise.resolve() } });
  const spanProcessor = new BatchSpanProcessor({ ...processorOptions, exporter: { ...spanBooks, shutdown: () => spanExporter.shutdown(), forceFlush: () => spanExporter.forceFlush?.() ?? Promise.resolve() } });
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
    emit(entry, only = { log: true, span: true }) {
      const { parent } = entry;
      let context: SpanContext | undefined =
        parent === null ? undefined : { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.sampled ? 1 : 0, isRemote: true };
      // An event is taken by both lanes or by neither: one refused for want of room is sent
      // again, and what one lane had taken of it would then be there twice.
      const spanWanted = only.span && (parent === null || parent.sampled);
      if (only.span && !spanWanted) traceStats.dropped('not_sampled', 1);
      const spanWeight = spanWanted ? attributesWeight(entry.spanAttributes) : 0;
      const logWeightOf = only.log ? logWeight(entry.logAttributes, entry.name) : 0;
      const logsDisabled = options.describe('logs').kind === 'none';
      const tracesDisabled = traceDisabled();
      if ((spanWanted && !tracesDisabled && !fits(spanHold, spanWeight)) || (only.log && !logsDisabled && !fits(logHold, logWeightOf))) {
        if (spanWanted) traceStats.dropped('queue_full', 1);
        if (only.log) logStats.dropped('queue_full', 1);
        return FULL;
      }
      let spanTaken = false;
      if (!spanWanted) {
        // A replay of an entry whose span was not taken the first time, or a span not sampled.
      } else if (admit(traceStats, spanHold, spanWeight, tracesDisabled)) {
        const span: SpanEntry = {
          traceId: parent?.traceId ?? newTraceId(),
          spanId: newSpanId(),
          ...(parent === null ? {} : { parentSpanId: parent.spanId, parentRemote: true }),
          name: entry.name,
          kind: 'internal',
          startMs: entry.timeMs - entry.durationMs,
          endMs: entry.timeMs,
          status: { code: 'unset' },
          attributes: entry.spanAttributes,
          events: [],
          links: [],
          ...(entry.tracestate === null ? {} : { tracestate: entry.tracestate }),
          flags: 1,
        };
        const made = readableSpan(span, entry.resource.resource);
        spanProcessor.onEnd(made);
        context = made.spanContext();
        spanTaken = true;
      }
      const logTaken = only.log && admit(logStats, logHold, logWeightOf, logsDisabled);
      if (spanTaken || logTaken) options.onAccepted?.(entry, { log: logTaken, span: spanTaken });
      // The processor types its input as the SDK's writable record; it only keeps it for export,
      // which reads what ReadableLogRecord declares.
      if (logTaken) logProcessor.onEmit(readableLogRecord(entry.name, entry.timeMs, entry.logAttributes, context, entry.resource.resource) as unknown as Parameters<BatchLogRecordProcessor['onEmit']>[0]);
      return NOT_FULL;
    },
    emitSpan(entry, resource) {
      refusedFull = false;
      if ((entry.flags & 1) === 0) traceStats.dropped('not_sampled', 1);
      else if (admit(traceStats, spanHold, spanWeight(entry), traceDisabled())) {
        options.onSpanAccepted?.(entry, resource);
        spanProcessor.onEnd(readableSpan(entry, resource.resource));
      }
      return refusedFull ? FULL : NOT_FULL;
    },
    emitLog(entry, resource) {
      refusedFull = false;
      if (admit(logStats, logHold, logWeight(entry.attributes, entry.body), options.describe('logs').kind === 'none')) {
        options.onLogAccepted?.(entry, resource);
        logProcessor.onEmit(readableHostLogRecord(entry, resource.resource) as unknown as Parameters<BatchLogRecordProcessor['onEmit']>[0]);
      }
      return refusedFull ? FULL : NOT_FULL;
    },
    async forceFlush(timeoutMs) {
      const failedBefore = logStats.snapshot().failed + traceStats.snapshot().failed;
      const outcome = await deadline(Promise.all([logProcessor.forceFlush(), spanProcessor.forceFlush()]), timeoutMs).catch((error: unknown) => {
        options.onError(`event flush: ${error instanceof Error ? error.message : String(error)}`);
        return 'failed' as const;
      });
      if (outcome === 'failed') return { complete: false, timedOut: false };
      if (outcome === 'timeout') return { complete: false, timedOut: true };
      return { complete: logStats.snapshot().failed + traceStats.snapshot().failed === failedBefore, timedOut: false };
    },
    shutdown({ timeoutMillis }) {
      shutdownPromise ??= (async () => {
        // Each processor's shutdown flushes its queue through the exporter and then shuts the
        // exporter down. The deadline bounds both lanes together; what is still unexported
        // when it passes is counted as dropped here, once.
        const lanes: [BatchLogRecordProcessor | BatchSpanProcessor, LaneBooks, SignalStats][] = [
          [logProcessor, logBooks, logStats],
          [spanProcessor, spanBooks, traceStats],
        ];
        await Promise.all(
          lanes.map(async ([processor, books, stats]) => {
            const outcome = await deadline(processor.shutdown(), timeoutMillis).catch((error: unknown) => {
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
    exporterStatus() {
      const status = (signal: 'logs' | 'traces', books: LaneBooks): ExporterStatus => {
        const { kind, endpoint } = options.describe(signal);
        return { signal, kind, endpoint, ...(kind === 'none' ? DISABLED_HEALTH : books.health()) };
      };
      return [status('logs', logBooks), status('traces', spanBooks)];
    },
  };
}
