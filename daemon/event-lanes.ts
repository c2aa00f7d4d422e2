/**
 * The two lanes session events go out on: the log lane (a LoggerProvider, logger `codex`) and
 * the trace lane (a TracerProvider, tracer `codex`), each with a batch processor and an
 * exporter wrapped to keep exact books.
 *
 *   event-ingest --> emit() --> span: TracerProvider --> BatchSpanProcessor      --> accounted exporter
 *                           \-> log:  LoggerProvider --> BatchLogRecordProcessor --> accounted exporter
 *                                (in the span's context, so the two correlate)
 *
 * The batch processors drop silently when their queue is full. They never get the chance: a
 * lane refuses (and counts as `queue_full`) a record once {@link MAX_LANE_QUEUE} accepted
 * records, or {@link MAX_LANE_CHARS} characters of them, are still unexported, and each
 * processor's queue is sized above the first bound.
 */
import { type Attributes, type Context, createContextKey, type HrTime, ROOT_CONTEXT, SeverityNumber, SpanKind, trace, TraceFlags, type TraceState } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode, TraceState as W3CTraceState } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, type LogRecordExporter, LoggerProvider } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor, type Sampler, SamplingDecision, type SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';

import type { ExporterState, ExporterStatus, Signal, TraceParent } from '../protocol/index.js';
import { deadline } from './deadline.js';
import type { Delivering } from './delivery/queued-exporters.js';
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
  readonly resource: Resource;
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
}

/**
 * A lane entry as the journal keeps it: the span's attributes are mostly the log record's, so
 * only how they differ is written (keys the span leaves out, values it has of its own), which
 * about halves what the journal writes per event.
 */
export interface JournaledEntry extends Omit<LaneEntry, 'spanAttributes'> {
  /** Log attributes the span does not have. */
  readonly spanOmits?: readonly string[];
  /** Span attributes missing from the log record, or with another value there. */
  readonly spanOwn?: Attributes;
  /** An entry written whole (by an earlier version): taken as it is. */
  readonly spanAttributes?: Attributes;
}

export function journaledEntry(entry: LaneEntry): JournaledEntry {
  const { spanAttributes: span, logAttributes: log } = entry;
  const omits: string[] = [];
  let own: Attributes | undefined;
  for (const key in log) if (!(key in span)) omits.push(key);
  for (const key in span) {
    if (log[key] !== span[key]) (own ??= {})[key] = span[key];
  }
  const { spanAttributes: _, ...rest } = entry;
  return { ...rest, ...(omits.length === 0 ? {} : { spanOmits: omits }), ...(own === undefined ? {} : { spanOwn: own }) };
}

export function laneEntryOf(journaled: JournaledEntry): LaneEntry {
  const { spanOmits, spanOwn, spanAttributes, ...rest } = journaled;
  if (spanAttributes !== undefined) return { ...rest, spanAttributes };
  const span: Attributes = { ...journaled.logAttributes };
  for (const key of spanOmits ?? []) delete span[key];
  return { ...rest, spanAttributes: { ...span, ...spanOwn } };
}

export interface EventLanes {
  /**
   * Emits the event's span, then its log record in the span's context (or the parent's, when
   * no span was made), so a log and its span correlate. Each lane counts `accepted` or why it
   * refused; neither counts `received`.
   */
  emit(entry: LaneEntry, only?: LaneChoice): EmitOutcome;
  /** Exports what both lanes hold, waiting at most `timeoutMs`. */
  forceFlush(timeoutMs: number): Promise<FlushOutcome>;
  /** Exports what is left and stops, within the deadline; a second call returns the first call's promise. */
  shutdown(options: { timeoutMillis: number }): Promise<void>;
  exporterStatus(): ExporterStatus[];
}

interface Books {
  abandon(): void;
  health(): Pick<ExporterStatus, 'state' | 'exportsSucceeded' | 'exportsFailed' | 'lastSuccessAt' | 'lastError'>;
}

/** Characters held by a record's attributes: what its memory grows with. */
function weightOf(attributes: Attributes): number {
  let weight = 0;
  for (const key in attributes) {
    const value = attributes[key];
    weight += key.length + (typeof value === 'string' ? value.length : 8);
  }
  return weight;
}

/** What a lane holds unexported, in characters; the accounted exporter releases what it settles. */
interface Held {
  chars: number;
  /** Records taken and not yet handed over by an export (settled, or queued for delivery). */
  records: number;
}

/**
 * Wraps a lane's exporter so every record it is handed leaves the lane's books once: queued for
 * delivery (the export queue counts it when it is sent), or counted as failed. Its own timeout
 * settles an export that hangs before the processor's does; a late answer is then ignored.
 */
function accounted<T extends { readonly attributes: Attributes }>(
  signal: Signal,
  exporter: { export(items: T[], done: (result: ExportResult) => void): void },
  stats: SignalStats,
  held: Held,
  timeoutMs: number,
  onError: (message: string) => void,
): { export(items: T[], done: (result: ExportResult) => void): void } & Books {
  let succeeded = 0;
  let failedExports = 0;
  let lastSuccessAt: string | null = null;
  let lastError: { at: string; message: string } | null = null;
  let abandoned = false;
  return {
    export(items, done) {
      let settled = false;
      const settle = (result: ExportResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        for (const item of items) held.chars -= weightOf(item.attributes);
        held.records -= items.length;
        if (!abandoned) {
          if (result.code === ExportResultCode.SUCCESS) {
            // Queued for delivery, not sent: the queue counts the records when it sends them.
            succeeded++;
            lastSuccessAt = new Date().toISOString();
          } else {
            failedExports++;
            const message = result.error?.message ?? 'export failed';
            lastError = { at: new Date().toISOString(), message };
            stats.failed(items.length, 'export_failed');
            onError(`${signal} export failed, ${items.length} records lost: ${message}`);
          }
        }
        done(result);
      };
      const timer = setTimeout(() => settle({ code: ExportResultCode.FAILED, error: new Error(`export timed out after ${timeoutMs} ms`) }), timeoutMs);
      timer.unref();
      try {
        exporter.export(items, settle);
      } catch (error) {
        settle({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
      }
    },
    abandon() {
      abandoned = true;
    },
    health() {
      const state: ExporterState = lastError !== null && (lastSuccessAt === null || lastError.at > lastSuccessAt) ? 'failing' : lastSuccessAt !== null ? 'ok' : 'idle';
      return { state, exportsSucceeded: succeeded, exportsFailed: failedExports, lastSuccessAt, lastError };
    },
  };
}

const DISABLED_HEALTH = { state: 'disabled', exportsSucceeded: 0, exportsFailed: 0, lastSuccessAt: null, lastError: null } as const;

/**
 * Epoch milliseconds as OpenTelemetry's [seconds, nanoseconds]. A plain number would do only for
 * times after this process started: the SDK takes smaller numbers for `performance.now()`
 * readings, and a hand-off file or a slow client can carry earlier times.
 */
function hrTimeOf(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6));
  return [seconds, nanos];
}

/** Where the span's tracestate rides to the sampler, which is how a root span gets one. */
const TRACE_STATE_KEY = createContextKey('codexd.tracestate');

/** Samples every span, with the tracestate its context carries under {@link TRACE_STATE_KEY}. */
const SAMPLER: Sampler = {
  shouldSample(context) {
    const traceState = context.getValue(TRACE_STATE_KEY) as TraceState | undefined;
    return traceState === undefined ? { decision: SamplingDecision.RECORD_AND_SAMPLED } : { decision: SamplingDecision.RECORD_AND_SAMPLED, traceState };
  },
  toString: () => 'codexd(AlwaysOn, tracestate)',
};

function parentContext(parent: TraceParent | null, tracestate: string | null): Context {
  const traceState: TraceState | undefined = tracestate === null ? undefined : new W3CTraceState(tracestate);
  const root = traceState === undefined ? ROOT_CONTEXT : ROOT_CONTEXT.setValue(TRACE_STATE_KEY, traceState);
  if (parent === null) return root;
  return trace.setSpanContext(root, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
    ...(traceState === undefined ? {} : { traceState }),
  });
}

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
  const logHeld: Held = { chars: 0, records: 0 };
  const spanHeld: Held = { chars: 0, records: 0 };
  const logBooks = accounted('logs', options.logExporter, logStats, logHeld, options.exportTimeoutMs, options.onError);
  const spanBooks = accounted('traces', options.spanExporter, traceStats, spanHeld, options.exportTimeoutMs, options.onError);
  const { logExporter, spanExporter } = options;
  const logProvider = new LoggerProvider({
    resource: options.resource,
    processors: [new BatchLogRecordProcessor({ ...processorOptions, exporter: { ...logBooks, shutdown: () => logExporter.shutdown(), forceFlush: () => logExporter.forceFlush?.() ?? Promise.resolve() } })],
  });
  const traceProvider = new TracerProvider({
    resource: options.resource,
    // The caller's sampling decision is honoured before a span is made (not_sampled);
    // every span that gets this far is recorded.
    sampler: SAMPLER,
    spanProcessors: [new BatchSpanProcessor({ ...processorOptions, exporter: { ...spanBooks, shutdown: () => spanExporter.shutdown(), forceFlush: () => spanExporter.forceFlush?.() ?? Promise.resolve() } })],
  });
  const logger = logProvider.getLogger('codex');
  const tracer = traceProvider.getTracer('codex');
  let shutdownPromise: Promise<void> | null = null;

  /** Set by admit() when it refuses for want of room. */
  let refusedFull = false;

  /** Whether a lane may take one more record; counts the refusal when it may not. */
  function admit(stats: SignalStats, held: Held, attributes: Attributes, disabled: boolean): boolean {
    if (disabled) {
      stats.accepted(1);
      stats.failed(1, 'exporter_disabled');
      return false;
    }
    const weight = weightOf(attributes);
    // What the lane holds, not what an export queue behind it holds: that one spills to disk.
    if (held.records >= MAX_LANE_QUEUE || held.chars + weight > MAX_LANE_CHARS) {
      stats.dropped('queue_full', 1);
      refusedFull = true;
      return false;
    }
    stats.accepted(1);
    held.chars += weight;
    held.records++;
    return true;
  }

  return {
    emit(entry, only = { log: true, span: true }) {
      refusedFull = false;
      const parent = parentContext(entry.parent, entry.tracestate);
      let context = parent;
      let spanTaken = false;
      if (!only.span) {
        // A replay of an entry whose span was not taken the first time.
      } else if (entry.parent !== null && !entry.parent.sampled) traceStats.dropped('not_sampled', 1);
      else if (admit(traceStats, spanHeld, entry.spanAttributes, options.describe('traces').kind === 'none')) {
        const span = tracer.startSpan(entry.name, { kind: SpanKind.INTERNAL, startTime: hrTimeOf(entry.timeMs - entry.durationMs), attributes: entry.spanAttributes }, parent);
        span.end(hrTimeOf(entry.timeMs));
        context = trace.setSpan(parent, span);
        spanTaken = true;
      }
      const logTaken = only.log && admit(logStats, logHeld, entry.logAttributes, options.describe('logs').kind === 'none');
      if (spanTaken || logTaken) options.onAccepted?.(entry, { log: logTaken, span: spanTaken });
      const outcome = { full: refusedFull };
      if (!logTaken) return outcome;
      logger.emit({
        eventName: entry.name,
        timestamp: hrTimeOf(entry.timeMs),
        severityNumber: SeverityNumber.INFO,
        severityText: 'INFO',
        body: entry.name,
        attributes: entry.logAttributes,
        context,
      });
      return outcome;
    },
    async forceFlush(timeoutMs) {
      const failedBefore = logStats.snapshot().failed + traceStats.snapshot().failed;
      const outcome = await deadline(Promise.all([logProvider.forceFlush(), traceProvider.forceFlush()]), timeoutMs).catch((error: unknown) => {
        options.onError(`event flush: ${error instanceof Error ? error.message : String(error)}`);
        return 'failed' as const;
      });
      if (outcome === 'failed') return { complete: false, timedOut: false };
      if (outcome === 'timeout') return { complete: false, timedOut: true };
      return { complete: logStats.snapshot().failed + traceStats.snapshot().failed === failedBefore, timedOut: false };
    },
    shutdown({ timeoutMillis }) {
      shutdownPromise ??= (async () => {
        // Each provider's shutdown flushes its processor's queue through the exporter and then
        // shuts the exporter down. The deadline bounds both lanes together; what is still
        // unexported when it passes is counted as dropped here, once.
        const lanes: [LoggerProvider | TracerProvider, Books, SignalStats][] = [
          [logProvider, logBooks, logStats],
          [traceProvider, spanBooks, traceStats],
        ];
        await Promise.all(
          lanes.map(async ([provider, books, stats]) => {
            const outcome = await deadline(provider.shutdown(), timeoutMillis).catch((error: unknown) => {
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
      const status = (signal: 'logs' | 'traces', books: Books): ExporterStatus => {
        const { kind, endpoint } = options.describe(signal);
        return { signal, kind, endpoint, ...(kind === 'none' ? DISABLED_HEALTH : books.health()) };
      };
      return [status('logs', logBooks), status('traces', spanBooks)];
    },
  };
}

