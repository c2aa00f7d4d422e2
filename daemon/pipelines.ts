/**
 * The daemon's telemetry pipelines, assembled from the config:
 *
 *   metric/record, hand-off files --> MetricIngest --> MetricsPipeline --> metrics route
 *   session/event ------------------> EventIngest --+-> log lane -------> logs route
 *                                        |          \-> trace lane -----> traces route
 *                                        \-> derived records --> MetricIngest
 *   trace/span, OTLP spans ---------> SpanIngest ----> trace lane
 *   OTLP logs ----------------------> LogIngest -----> log lane
 *   feedback/submit ----------------> FeedbackService --> its outcome --> MetricIngest
 *
 * Each route is an export queue in front of a sender (destinations.ts). Whatever a pipeline
 * accepts is appended to the journal; whatever settles (exported, failed, spilled) is noted in it.
 */
import { PACKAGE_VERSION, SERVER_NAME, type Signal, SIGNALS } from '../protocol/index.js';
import type { DaemonConfig, ExporterConfig } from './config.js';
import { createDestinations, type Destinations } from './delivery/destinations.js';
import type { Journal } from './delivery/journal.js';
import { createQueuedLogExporter, createQueuedMetricExporter, createQueuedSpanExporter } from './delivery/queued-exporters.js';
import type { DiskConditions } from './disk-conditions.js';
import { createEventIngest, type EventIngest } from './event-ingest.js';
import type { EventPolicy } from './event-split.js';
import { createEventLanes, type EventLanes } from './event-lanes.js';
import { createFeedbackService, type FeedbackService, type FeedbackSettings, UPLOAD_TIMEOUT_MS } from './feedback/service.js';
import { createSessionLogs, type SessionLogs } from './feedback/session-logs.js';
import { openFeedbackSpool } from './feedback/spool.js';
import { describeTarget, uploadReport } from './feedback/upload.js';
import { createHostResources, type HostResources } from './host-resources.js';
import { describeExporter, type DescribedExporter } from './lifecycle/exporter-status.js';
import { createLogIngest, type LogIngest } from './log-ingest.js';
import type { DaemonLogger } from './logger.js';
import { createMetricIngest, type MetricIngest } from './metric-ingest.js';
import { createMetricsPipeline, type MetricsPipeline } from './metrics-pipeline.js';
import type { DaemonPaths } from './paths.js';
import { createSessionInsights, type SessionInsights } from './session-insights.js';
import { createSessionRegistry, type SessionRegistry } from './session-registry.js';
import { createSpanIngest, type SpanIngest } from './span-ingest.js';
import { createSignalStats, type SignalStats } from './stats.js';

/** The `[feedback]` settings the feedback service takes, at start and at each reload. */
export function feedbackSettings(config: DaemonConfig): FeedbackSettings {
  const { target } = config.feedback;
  return {
    target,
    targetDescription: target === null ? null : describeTarget(target),
    enabled: config.feedback.enabled,
    retry: { initialMs: config.feedback.retryInitialMs, maxMs: config.feedback.retryMaxMs },
  };
}

/** What the event ingest applies to each event, from the config. */
export function policyOf(config: DaemonConfig): EventPolicy {
  return { logUserPrompt: config.logUserPrompt, logToolContent: config.logToolContent, spanAttributes: config.spanAttributes, tracestate: config.tracestate };
}

/**
 * The journal as the pipelines see it. It opens after them (it replays an earlier daemon's
 * records into them first), so it is attached once open; nothing is accepted before that.
 */
export interface JournalHook {
  attach(journal: Journal): void;
  readonly journal: Journal | null;
  /** Makes what was taken in so far durable; true without a journal. */
  sync(): boolean;
}

function createJournalHook(): JournalHook {
  let journal: Journal | null = null;
  return {
    attach: (opened) => void (journal = opened),
    get journal() {
      return journal;
    },
    sync: () => journal?.sync() ?? true,
  };
}

export interface Pipelines {
  readonly stats: Readonly<Record<Signal, SignalStats>>;
  readonly destinations: Destinations;
  readonly resources: HostResources;
  readonly sessions: SessionRegistry;
  readonly insights: SessionInsights;
  readonly metrics: MetricsPipeline;
  readonly metricIngest: MetricIngest;
  readonly lanes: EventLanes;
  readonly events: EventIngest;
  readonly spans: SpanIngest;
  readonly logs: LogIngest;
  readonly feedback: FeedbackService;
  /** Each session's recent events as text, for feedback reports. */
  readonly sessionLogs: SessionLogs;
  readonly journal: JournalHook;
  /** Each signal's exporter as status shows it (credentials left out). */
  described(): Readonly<Record<Signal, DescribedExporter>>;
  /** A reload switched the signal's exporter: status shows the new one. */
  describeAs(signal: Signal, exporter: ExporterConfig): void;
  /** A reload's event policy (redaction, span attributes), in force from the next event. */
  setPolicy(config: DaemonConfig): void;
  /** Records accepted and not yet exported, all signals. */
  buffered(): number;
}

export interface PipelinesOptions {
  readonly config: DaemonConfig;
  readonly paths: DaemonPaths;
  readonly log: DaemonLogger;
  readonly disk: DiskConditions;
  /** Logs a repeated problem once per interval, counted. */
  readonly reportError: (message: string) => void;
}

export async function createPipelines(options: PipelinesOptions): Promise<Pipelines> {
  const { config, paths, log, reportError } = options;
  const logger = log.logger.child({ component: 'daemon' });
  const journal = createJournalHook();
  // Whatever settles is noted in the journal at once: a crash right after replays none of it.
  const noteSettled = (): void => journal.journal?.noteSettled();
  const stats: Record<Signal, SignalStats> = { metrics: createSignalStats(noteSettled), logs: createSignalStats(noteSettled), traces: createSignalStats(noteSettled) };
  // A session's log ring outlives it, for feedback sent after it; packed, it takes a few times less.
  const sessionLogs = createSessionLogs();
  const sessions = createSessionRegistry(config.sessionIdleTimeoutMs, undefined, sessionLogs.pack);
  const insights = createSessionInsights();
  // Every exporter is an export queue in front of a sender (gRPC, OTLP/HTTP or the file):
  // batches are serialised once, retried with backoff, spilled to disk when memory is short or
  // the daemon stops, and replayed from disk (an earlier daemon's first) in order. A reload
  // points a signal's route at another destination without losing what waits.
  const destinations = createDestinations({
    stateDir: paths.logDir,
    delivery: config.delivery,
    flushDeadlineMs: config.flushDeadlineMs,
    statsOf: (signal) => stats[signal],
    onError: reportError,
    disk: options.disk,
    onRetired: (signal, kind, spooled) => logger.info({ signal, kind, spooled }, 'the replaced exporter sent what it could; the rest waits in its spool'),
  });
  await Promise.all(SIGNALS.map((signal) => destinations.apply(signal, config[signal])));
  // Read per record and per event; recomputed when a reload changes an exporter.
  let described = { metrics: describeExporter(config.metrics), logs: describeExporter(config.logs), traces: describeExporter(config.traces) };
  let policy = policyOf(config);
  // Each host's telemetry goes out under its own resource; the daemon's own is for what no host sent.
  const resources = createHostResources({ environment: config.environment, env: process.env, onError: (message) => logger.warn(message) });
  const metrics = createMetricsPipeline({
    resource: resources.own.resource,
    exporter: createQueuedMetricExporter(destinations.route('metrics'), (id) => resources.byId(id)?.resource),
    describe: () => described.metrics,
    stats: stats.metrics,
    intervalMs: config.exportIntervalMs,
    exportTimeoutMs: config.flushDeadlineMs,
    onError: reportError,
    onAccepted: (records, resource) => journal.journal?.append({ m: records }, resource),
    onPassed: (scopes, resource) => journal.journal?.append({ p: scopes }, resource),
  });
  const metricIngest = createMetricIngest({ metrics, stats: stats.metrics, sessions, observe: insights.observe, ownResource: resources.own });
  const lanes = createEventLanes({
    logExporter: createQueuedLogExporter(destinations.route('logs')),
    spanExporter: createQueuedSpanExporter(destinations.route('traces')),
    describe: (signal) => described[signal],
    logStats: stats.logs,
    traceStats: stats.traces,
    scheduledDelayMs: config.exportIntervalMs,
    exportTimeoutMs: config.flushDeadlineMs,
    onError: reportError,
    // The entry is made into its journaled form only if its line is written (the journal's `writtenEntry`).
    onAccepted: (entry, taken) => journal.journal?.append({ e: [entry, taken] }, entry.resource, entry.context),
    onSpanAccepted: (entry, resource) => journal.journal?.append({ s: entry }, resource),
    onLogAccepted: (entry, resource) => journal.journal?.append({ l: entry }, resource),
  });
  const events = createEventIngest({
    lanes,
    logStats: stats.logs,
    traceStats: stats.traces,
    policy: () => policy,
    recordDerived: metricIngest.recordDerived,
    toolError: insights.toolError,
    logLine: sessionLogs.append,
  });
  const feedback = createFeedbackService({
    spool: openFeedbackSpool(paths.feedbackDir, config.feedback.maxSpoolBytes, reportError, options.disk),
    ...feedbackSettings(config),
    upload: (report, target, signal) => uploadReport(report, target, { timeoutMs: UPLOAD_TIMEOUT_MS, userAgent: `${SERVER_NAME}/${PACKAGE_VERSION}`, signal }),
    sessions,
    sessionLogs,
    recordOutcome: (category, includeLogs, success) =>
      metricIngest.recordOwn({ name: 'user.feedback.submitted', kind: 'counter', value: 1, tags: { category, include_logs: String(includeLogs), success: String(success) } }),
    logger: log.logger.child({ component: 'feedback' }),
  });
  return {
    stats,
    destinations,
    resources,
    sessions,
    insights,
    metrics,
    metricIngest,
    lanes,
    events,
    spans: createSpanIngest({ lanes, traceStats: stats.traces, policy: () => policy }),
    logs: createLogIngest({ lanes, logStats: stats.logs, policy: () => policy }),
    feedback,
    sessionLogs,
    journal,
    described: () => described,
    describeAs: (signal, exporter) => void (described = { ...described, [signal]: describeExporter(exporter) }),
    setPolicy: (next) => void (policy = policyOf(next)),
    buffered: () => stats.metrics.buffered() + stats.logs.buffered() + stats.traces.buffered(),
  };
}
