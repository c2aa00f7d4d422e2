/**
 * `codexd run`: the daemon in the foreground.
 *
 *   socket --> connection (initialize: clientInfo, the host's resource) --> checks (protocol/)
 *          --> metric/record  --> MetricsPipeline (MeterProvider) --> AccountedReader --> exporter
 *          --> session/event  --> EventIngest --> log lane (BatchLogRecordProcessor) --> exporter
 *          |                           |      \-> trace lane (BatchSpanProcessor) ----> exporter
 *          |                           \-> derived metrics --> MetricsPipeline
 *          --> trace/span     --> SpanIngest ---> trace lane
 *              (everything under its host's resource; each exporter: file | otlp-grpc | otlp-http | none)
 *
 * This is the only module of the command line that loads OpenTelemetry.
 */
import { tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { existsSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

import { encodeFrame, ErrorCodes, type DaemonFlush, type DaemonReload, type DaemonStatus, type ExporterStatus, measurementsIn, type MetricRecord, type Signal, SIGNALS, RUNTIME_FILES, runtimeFolder, type StartedBy, isNamedPipe, PACKAGE_VERSION, PROTOCOL_VERSION, SERVER_NAME } from '../protocol/index.js';
import { ConfigError, type DaemonConfig, type ExporterConfig, loadConfig, ReloadError } from './config.js';
import { type ClientConnection, type DaemonServices, serveConnection } from './connection.js';
import { createEventIngest, type EventPolicy, type EventSource } from './event-ingest.js';
import { createEventLanes, type JournaledEntry, journaledEntry, type LaneChoice, laneEntryOf } from './event-lanes.js';
import { createHostResources, type HostResource } from './host-resources.js';
import type { LogEntry, SpanEntry } from './lane-records.js';
import { createFeedbackService, type FeedbackSettings, UPLOAD_TIMEOUT_MS } from './feedback/service.js';
import { createSessionLogs } from './feedback/session-logs.js';
import { openFeedbackSpool } from './feedback/spool.js';
import { describeTarget, uploadReport } from './feedback/upload.js';
import { type HandoffIngest, startHandoffIngest } from './handoff-ingest.js';
import { createDiskConditions } from './disk-conditions.js';
import { createLogIngest } from './log-ingest.js';
import { createMemoryLimiter } from './memory-limiter.js';
import { journaledMetrics } from './otlp/decode-metrics.js';
import { type OtlpReceivers, startOtlpReceivers } from './otlp/receivers.js';
import { ingestMetricBatch } from './metric-ingest.js';
import { createDestinations } from './delivery/destinations.js';
import { createQueuedLogExporter, createQueuedMetricExporter, createQueuedSpanExporter } from './delivery/queued-exporters.js';
import { type Journal, type JournalLine, openJournal, orphanedJournals, readJournal, removeJournal } from './delivery/journal.js';
import { createDaemonLogger } from './logger.js';
import { createMetricsPipeline } from './metrics-pipeline.js';
import { type DaemonPaths, resolvePaths, socketPathFor, userName } from './paths.js';
import { type Listening, listenOnInheritedSocket, listenOnSocket } from './socket-listener.js';
import { createSessionInsights } from './session-insights.js';
import { createSessionRegistry } from './session-registry.js';
import { createSpanIngest } from './span-ingest.js';
import { createSignalStats } from './stats.js';

/** Open connections the daemon serves at once; beyond, a new one is told why and closed. */
export const MAX_CONNECTIONS = 1024;
/** Extra time past the flush deadline before a stop gives up waiting and exits anyway. */
const EXIT_MARGIN_MS = 1000;
/**
 * Before a stop or a flush, a connection counts as drained once it has been silent this long
 * with nothing left unhandled: records a client wrote just before are still taken in.
 */
const DRAIN_QUIET_MS = 50;
/** Longest that drain may take, whatever the clients do. */
const MAX_DRAIN_MS = 500;

export interface RunOptions {
  /** Overrides the socket path from the environment and config. */
  readonly socketPath?: string;
  /** Log to standard error instead of the log file. */
  readonly logToStderr?: boolean;
  /** How this process was started; decides whether it exits when idle. Default `foreground`. */
  readonly startedBy?: StartedBy;
  /** A listening socket handed over by a service manager (systemd: fd 3). */
  readonly inheritedFd?: number;
}

/** Only a daemon nobody asked to keep running exits when idle: systemd restarts a socket-activated one on demand. */
function exitsWhenIdle(startedBy: StartedBy): boolean {
  return startedBy === 'auto-spawn' || startedBy === 'systemd-socket';
}

export interface RunningDaemon {
  readonly socketPath: string;
  /** Stops accepting, exports within the flush deadline, closes connections. Idempotent. */
  shutdown(reason: string): Promise<void>;
  /**
   * Reads the config file again and applies it (`SIGHUP`, `daemon/reload`). Throws
   * {@link ReloadError} when the file is invalid; the daemon keeps the settings it had.
   */
  reload(trigger: string): Promise<DaemonReload.Result>;
  readonly stopped: Promise<void>;
}

function describeExporter(exporter: ExporterConfig): { kind: ExporterStatus['kind']; endpoint: string | null } {
  switch (exporter.kind) {
    case 'none':
      return { kind: 'none', endpoint: null };
    case 'file':
      return { kind: 'file', endpoint: exporter.dir };
    case 'otlp-grpc':
    case 'otlp-http': {
      // Credentials never reach status: keep only scheme, host, port and path.
      const url = new URL(exporter.endpoint);
      return { kind: exporter.kind, endpoint: `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}` };
    }
  }
}

/** Settings a reload applies at once, as config keys, and where each is in the loaded config. */
const LIVE_SETTINGS: readonly [string, (config: DaemonConfig) => unknown][] = [
  ['otel.metrics_exporter', (config) => config.metrics],
  ['otel.exporter', (config) => config.logs],
  ['otel.trace_exporter', (config) => config.traces],
  ['otel.log_user_prompt', (config) => config.logUserPrompt],
  ['otel.span_attributes', (config) => config.spanAttributes],
  ['otel.tracestate', (config) => config.tracestate],
  ['codexd.log_tool_content', (config) => config.logToolContent],
  ['codexd.log_level', (config) => config.logLevel],
  ['codexd.memory_limit_mib', (config) => config.memory.limitBytes],
  ['codexd.memory_spike_limit_mib', (config) => config.memory.spikeBytes],
  ['feedback.enabled', (config) => config.feedback.enabled],
  ['feedback.target', (config) => config.feedback.target],
  ['feedback.retry_initial_ms', (config) => config.feedback.retryInitialMs],
  ['feedback.retry_max_ms', (config) => config.feedback.retryMaxMs],
];

/** Settings read once, at start: a reload reports a change to them as needing a restart. */
const RESTART_SETTINGS: readonly [string, (config: DaemonConfig) => unknown][] = [
  ['otel.environment', (config) => config.environment],
  ['codexd.socket', (config) => config.socketPath],
  ['codexd.otlp_receiver', (config) => config.otlpReceiver],
  ['codexd.export_interval_ms', (config) => config.exportIntervalMs],
  ['codexd.flush_deadline_ms', (config) => config.flushDeadlineMs],
  ['codexd.idle_timeout_ms', (config) => config.idleTimeoutMs],
  ['codexd.session_idle_timeout_ms', (config) => config.sessionIdleTimeoutMs],
  ['codexd.export_queue_max_bytes', (config) => config.delivery.queueMaxBytes],
  ['codexd.export_spool_max_bytes', (config) => config.delivery.spoolMaxBytes],
  ['codexd.export_retry_initial_ms', (config) => config.delivery.retryInitialMs],
  ['codexd.export_retry_max_ms', (config) => config.delivery.retryMaxMs],
  ['codexd.export_max_request_bytes', (config) => config.delivery.maxRequestBytes],
  ['feedback.max_spool_bytes', (config) => config.feedback.maxSpoolBytes],
];

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The `[feedback]` settings the feedback service takes, at start and at each reload. */
function feedbackSettings(config: DaemonConfig): FeedbackSettings {
  const { target } = config.feedback;
  return {
    target,
    targetDescription: target === null ? null : describeTarget(target),
    enabled: config.feedback.enabled,
    retry: { initialMs: config.feedback.retryInitialMs, maxMs: config.feedback.retryMaxMs },
  };
}

/** What the event ingest applies to each event, from the config. */
function policyOf(config: DaemonConfig): EventPolicy {
  return { logUserPrompt: config.logUserPrompt, logToolContent: config.logToolContent, spanAttributes: config.spanAttributes, tracestate: config.tracestate };
}

/**
 * Starts the daemon: reads config, binds the socket, serves until a signal or
 * `daemon/shutdown`. Throws (before binding anything) on a bad config or an unusable socket.
 */
export async function startDaemon(options: RunOptions = {}, paths: DaemonPaths = resolvePaths()): Promise<RunningDaemon> {
  const config = loadConfig(paths);
  const socketPath = options.socketPath ?? socketPathFor(config.socketPath);
  const log = createDaemonLogger(options.logToStderr === true ? null : paths.logFile, config.logLevel);
  const logger = log.logger.child({ component: 'daemon' });
  const startedAt = new Date();

  // Repeated problems are logged once per interval with a count, never per message.
  const errorCounts = new Map<string, number>();
  const errorTimer = setInterval(() => {
    for (const [message, count] of errorCounts) logger.warn({ count }, message);
    errorCounts.clear();
  }, 10_000);
  errorTimer.unref();
  // Writes that fail (a full disk), by place, for status: the spools and the file exporter.
  const disk = createDiskConditions();
  const reportError = (message: string): void => {
    if (!errorCounts.has(message)) logger.warn(message);
    errorCounts.set(message, (errorCounts.get(message) ?? 0) + 1);
  };

  // Whatever settles is noted in the journal at once: a crash right after replays none of it.
  const noteSettled = (): void => journal?.noteSettled();
  const metricStats = createSignalStats(noteSettled);
  const logStats = createSignalStats(noteSettled);
  const traceStats = createSignalStats(noteSettled);
  const sessions = createSessionRegistry(config.sessionIdleTimeoutMs);
  const insights = createSessionInsights();
  // Sessions a client never ended are expired, checked a few times per timeout.
  const sessionTimer = setInterval(() => sessions.expireIdle(Date.now()), Math.max(50, Math.min(60_000, config.sessionIdleTimeoutMs / 4)));
  sessionTimer.unref();
  // Every exporter is an export queue in front of a sender (gRPC, OTLP/HTTP or the file):
  // batches are serialised once, retried with backoff, spilled to disk when memory is short or
  // the daemon stops, and replayed from disk (an earlier daemon's first) in order. A reload
  // points a signal's route at another destination without losing what waits.
  const statsOf: Record<Signal, typeof metricStats> = { metrics: metricStats, logs: logStats, traces: traceStats };
  const destinations = createDestinations({
    stateDir: paths.logDir,
    delivery: config.delivery,
    flushDeadlineMs: config.flushDeadlineMs,
    statsOf: (signal) => statsOf[signal],
    onError: reportError,
    disk,
    onRetired: (signal, kind, spooled) => logger.info({ signal, kind, spooled }, 'the replaced exporter sent what it could; the rest waits in its spool'),
  });
  await Promise.all(SIGNALS.map((signal) => destinations.apply(signal, config[signal])));
  /** Each signal's exporter for status, redacted (read per record and per event); recomputed when a reload changes one. */
  let described = { metrics: describeExporter(config.metrics), logs: describeExporter(config.logs), traces: describeExporter(config.traces) };
  /** An exporter's status with its queue's: a queue that keeps failing is what "failing" means now. */
  const withQueue = (status: ExporterStatus): ExporterStatus => {
    const others = destinations.otherSpools(status.signal);
    const withOthers = others.length === 0 ? status : { ...status, otherSpools: others };
    const queue = destinations.queueStatus(status.signal);
    if (queue === undefined) return withOthers;
    return { ...withOthers, state: queue.failures > 0 ? 'failing' : status.state, lastError: queue.lastError ?? status.lastError, queue };
  };
  /** Says where batches wait that no exporter of their signal sends now: nothing waits unseen. */
  const noteOtherSpools = (): void => {
    for (const signal of SIGNALS) {
      const spools = destinations.otherSpools(signal);
      if (spools.length > 0) logger.warn({ signal, spools }, 'batches wait in the spool of another kind of exporter; an exporter of that kind for the signal sends them');
    }
  };
  noteOtherSpools();
  // Each host's telemetry goes out under its own resource; the daemon's own is for what no host sent.
  const resources = createHostResources({ environment: config.environment, env: process.env, onError: (message) => logger.warn(message) });
  const metrics = createMetricsPipeline({
    resource: resources.own.resource,
    exporter: createQueuedMetricExporter(destinations.route('metrics'), (id) => resources.byId(id)?.resource),
    describe: () => described.metrics,
    stats: metricStats,
    intervalMs: config.exportIntervalMs,
    exportTimeoutMs: config.flushDeadlineMs,
    onError: reportError,
    onAccepted: (records, resource) => journal?.append({ m: records }, resource),
    onPassed: (scopes, resource) => journal?.append({ p: scopes }, resource),
  });
  const lanes = createEventLanes({
    logExporter: createQueuedLogExporter(destinations.route('logs')),
    spanExporter: createQueuedSpanExporter(destinations.route('traces')),
    describe: (signal) => described[signal],
    logStats,
    traceStats,
    scheduledDelayMs: config.exportIntervalMs,
    exportTimeoutMs: config.flushDeadlineMs,
    onError: reportError,
    onAccepted: (entry, taken) => journal?.append({ e: [journaledEntry(entry), taken] }, entry.resource),
    onSpanAccepted: (entry, resource) => journal?.append({ s: entry }, resource),
    onLogAccepted: (entry, resource) => journal?.append({ l: entry }, resource),
  });
  const spans = createSpanIngest({ lanes, traceStats, policy: () => policy });
  const logs = createLogIngest({ lanes, logStats, policy: () => policy });
  const sessionLogs = createSessionLogs();
  let policy = policyOf(config);
  const events = createEventIngest({
    lanes,
    logStats,
    traceStats,
    policy: () => policy,
    recordDerived(records, source: EventSource) {
      // Derived metrics are counted like any client's records, from the same connection.
      ingestMetricBatch({ records }, metrics, metricStats, { ...source, unknownSession: 'untagged', observe: insights.observe });
    },
    toolError: insights.toolError,
    logLine: sessionLogs.append,
  });
  const feedback = createFeedbackService({
    spool: openFeedbackSpool(paths.feedbackDir, config.feedback.maxSpoolBytes, reportError, disk),
    ...feedbackSettings(config),
    upload: (report, target, signal) => uploadReport(report, target, { timeoutMs: UPLOAD_TIMEOUT_MS, userAgent: `${SERVER_NAME}/${PACKAGE_VERSION}`, signal }),
    sessions,
    sessionLogs,
    recordOutcome(category, includeLogs, success) {
      ingestMetricBatch(
        { records: [{ name: 'user.feedback.submitted', kind: 'counter', value: 1, tags: { category, include_logs: String(includeLogs), success: String(success) } }] },
        metrics,
        metricStats,
        { sessions, clientName: null, unknownSession: 'untagged', resource: resources.own },
      );
    },
    logger: log.logger.child({ component: 'feedback' }),
  });
  const buffered = (): number => metricStats.buffered() + logStats.buffered() + traceStats.buffered();

  // The journal: what was accepted and not yet exported or spilled, on disk, replayed first by
  // the next daemon after a crash. An earlier daemon's journal is taken in again here, before
  // anything new, and journaled anew; its files go once the new journal holds it.
  const journalRoot = join(paths.logDir, 'journal');
  const ownJournal = join(journalRoot, String(process.pid));
  if (existsSync(ownJournal)) renameSync(ownJournal, `${ownJournal}.${Date.now()}`);
  const earlier = orphanedJournals(journalRoot).map((dir) => ({ dir, ...readJournal(dir) }));
  let journal: Journal | null = null;
  journal = openJournal({
    dir: ownJournal,
    counts: {
      accepted: (signal) => statsOf[signal].snapshot().accepted,
      settled: (signal) => {
        const counts = statsOf[signal].snapshot();
        return counts.exported + counts.failed + counts.spooled;
      },
    },
    maxBytes: config.delivery.spoolMaxBytes / 4,
    // The journal grows while batches wait: if a queue is failing, what waits in its memory
    // goes to the disk spool, which settles it. A queue that is sending is left alone: there the
    // journal is large because the rate is, and its records settle as fast as they are sent.
    onPressure: () => {
      for (const queue of destinations.queues()) if (queue.status().failures > 0) queue.spillNow();
    },
    onError: reportError,
  });
  // Over its soft limit the daemon stops reading telemetry; what its export queues hold in
  // memory goes to disk first, which frees the most without losing anything.
  const memory = createMemoryLimiter({
    hardLimitBytes: config.memory.limitBytes,
    softLimitBytes: config.memory.limitBytes - config.memory.spikeBytes,
    logger: log.logger.child({ component: 'memory' }),
    onPressure: () => {
      for (const queue of destinations.queues()) queue.spillNow();
    },
  });
  for (const { dir, lines, torn, resources: journaled } of earlier) {
    const replayed = replayJournal(lines, (id) => {
      // A line names its host's resource by the id it had in the daemon that wrote it.
      const attributes = id === undefined ? undefined : journaled.get(id);
      return attributes === undefined ? resources.own : resources.exact(attributes as HostResource['attributes']);
    });
    // In this daemon's journal first, then the old one goes; a crash in between replays twice.
    journal.sync();
    removeJournal(dir);
    if (lines.length > 0 || torn > 0) logger.info({ ...replayed, torn, from: dir }, 'replayed the journal of an earlier daemon');
  }
  journal.start();

  /**
   * Takes in again what an earlier daemon journaled, under the resources it was taken with:
   * metric records, event entries on the lanes that took them, and host-made spans.
   */
  function replayJournal(lines: readonly JournalLine[], resourceOf: (id: number | undefined) => HostResource): { records: number; events: number; spans: number } {
    let records = 0;
    let events = 0;
    let spanCount = 0;
    for (const line of lines) {
      const resource = resourceOf(line.r);
      if ('m' in line && Array.isArray(line.m)) {
        const batch = line.m as MetricRecord[];
        metricStats.received(measurementsIn(batch));
        records += metrics.record(batch, (position) => position, [], resource);
      } else if ('e' in line && Array.isArray(line.e)) {
        const [journaled, taken] = line.e as [JournaledEntry, LaneChoice];
        const entry = laneEntryOf(journaled, resource);
        if (taken.log) logStats.received(1);
        if (taken.span) traceStats.received(1);
        lanes.emit(entry, taken);
        events++;
      } else if ('s' in line) {
        traceStats.received(1);
        lanes.emitSpan(line.s as SpanEntry, resource);
        spanCount++;
      } else if ('l' in line) {
        logStats.received(1);
        lanes.emitLog(line.l as LogEntry, resource);
        events++;
      } else if ('p' in line) {
        const scopes = journaledMetrics(line.p);
        const points = scopes.reduce((sum, scope) => sum + scope.metrics.reduce((count, metric) => count + metric.dataPoints.length, 0), 0);
        metricStats.received(points);
        records += metrics.passOn(scopes, resource);
      }
    }
    return { records, events, spans: spanCount };
  }

  const connections = new Set<ClientConnection>();
  const protocolErrors = new Map<string, number>();
  let shuttingDown = false;
  let listening: Listening | null = null;
  let handoff: HandoffIngest | null = null;
  const startedBy = options.startedBy ?? 'foreground';
  const idleExitAfterMs = exitsWhenIdle(startedBy) ? config.idleTimeoutMs : null;
  let busyAt = Date.now();
  let shutdownPromise: Promise<void> | null = null;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));

  /**
   * Waits until every open connection but `except` has been quiet for a moment with nothing
   * left unhandled, at most `maxMs`: records clients wrote just before are then accepted.
   * Always waits once, so bytes already in the socket buffers are read.
   */
  async function takeInWhatWasSent(maxMs: number, except: ClientConnection | null): Promise<void> {
    const until = Date.now() + maxMs;
    do {
      await new Promise((resolve) => setTimeout(resolve, 10));
    } while (Date.now() < until && ![...connections].every((connection) => connection === except || connection.isQuiet(DRAIN_QUIET_MS)));
  }

  async function flush(timeoutMs: number | undefined, from: ClientConnection): Promise<DaemonFlush.Result> {
    const started = Date.now();
    const budget = Math.min(timeoutMs ?? config.flushDeadlineMs, config.flushDeadlineMs);
    // A host that wrote its records and then asked (or had `codexd flush` ask) for a flush on
    // another connection expects those records in it.
    await takeInWhatWasSent(Math.min(MAX_DRAIN_MS, budget / 4), from);
    const left = Math.max(1, budget - (Date.now() - started));
    const [metricOutcome, eventOutcome] = await Promise.all([metrics.forceFlush(left), lanes.forceFlush(left)]);
    // What the pipelines handed over waits in the queues: send it now.
    const sent = await Promise.all(destinations.queues().map((queue) => queue.flush(Math.max(1, budget - (Date.now() - started)))));
    const allSent = sent.every(Boolean);
    return {
      complete: metricOutcome.complete && eventOutcome.complete && allSent,
      timedOut: metricOutcome.timedOut || eventOutcome.timedOut || (!allSent && Date.now() - started >= budget),
      durationMs: Date.now() - started,
      metrics: metricStats.snapshot(),
      logs: logStats.snapshot(),
      traces: traceStats.snapshot(),
    };
  }

  let otlpReceivers: OtlpReceivers | null = null;

  function status(): DaemonStatus.Result {
    return {
      serverInfo: { name: SERVER_NAME, version: PACKAGE_VERSION },
      protocolVersion: PROTOCOL_VERSION,
      pid: process.pid,
      startedAt: startedAt.toISOString(),
      uptimeMs: Date.now() - startedAt.getTime(),
      socketPath,
      startedBy,
      idleExitAfterMs,
      logFile: options.logToStderr === true ? null : paths.logFile,
      logFailure: log.failure(),
      journalFailure: journal?.failure() ?? null,
      memory: memory.status(),
      disk: disk.list(),
      otlpReceiver: otlpReceivers?.status() ?? null,
      signals: { metrics: metricStats.snapshot(), logs: logStats.snapshot(), traces: traceStats.snapshot() },
      events: events.counts(),
      spans: spans.counts(),
      resources: resources.counts(),
      protocolErrors: Object.fromEntries(protocolErrors),
      exporters: [metrics.exporterStatus(), ...lanes.exporterStatus()].map(withQueue),
      clients: [...connections].map((connection) => connection.status()),
      sessions: sessions.counts(),
      handoff: handoff?.counts() ?? { filesIngested: 0, recordsIngested: 0, eventsIngested: 0, spansIngested: 0, filesRejected: 0, refused: {} },
      feedback: feedback.counts(),
      config: { file: active.file, loadedAt: loadedAt.toISOString(), reloads, lastReload, needsRestart },
    };
  }

  // Reloads: one at a time, in the order asked.
  let active = config;
  let loadedAt = startedAt;
  let reloads = 0;
  let lastReload: DaemonStatus.Result['config']['lastReload'] = null;
  let needsRestart: readonly string[] = [];
  let reloadChain: Promise<unknown> = Promise.resolve();

  function reload(trigger: string): Promise<DaemonReload.Result> {
    const run = reloadChain.then(() => reloadNow(trigger));
    reloadChain = run.catch(() => undefined);
    return run;
  }

  async function reloadNow(trigger: string): Promise<DaemonReload.Result> {
    const refuse = (message: string): never => {
      lastReload = { at: new Date().toISOString(), trigger, ok: false, error: message };
      logger.error({ trigger, error: message }, 'reload refused; the settings in force stay');
      throw new ReloadError(message);
    };
    if (shutdownPromise !== null) refuse('the daemon is stopping');
    let next: DaemonConfig;
    try {
      next = loadConfig(paths);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return refuse(error.message);
    }
    const applied = LIVE_SETTINGS.filter(([, of]) => !sameValue(of(active), of(next))).map(([key]) => key);
    const changedSignals = SIGNALS.filter((signal) => !sameValue(destinations.exporter(signal), next[signal]));
    if (changedSignals.length > 0) {
      // What the pipelines hold goes to the queues it was accepted for before any switch: an
      // exporter turned off does not drop what was taken in while it was on.
      await Promise.all([metrics.forceFlush(config.flushDeadlineMs), lanes.forceFlush(config.flushDeadlineMs)]);
      for (const signal of changedSignals) {
        try {
          await destinations.apply(signal, next[signal]);
        } catch (error) {
          // Signals switched before this one stay switched; this one keeps its exporter.
          refuse(`${signal} exporter: ${(error as Error).message}`);
        }
        described = { ...described, [signal]: describeExporter(next[signal]) };
      }
    }
    policy = policyOf(next);
    log.setLevel(next.logLevel);
    memory.setLimits(next.memory.limitBytes, next.memory.limitBytes - next.memory.spikeBytes);
    if (applied.some((key) => key.startsWith('feedback.'))) await feedback.reconfigure(feedbackSettings(next));
    active = next;
    loadedAt = new Date();
    reloads++;
    needsRestart = RESTART_SETTINGS.filter(([, of]) => !sameValue(of(config), of(next))).map(([key]) => key);
    lastReload = { at: loadedAt.toISOString(), trigger, ok: true, error: null };
    logger.info({ trigger, applied, needsRestart, exporters: described }, 'configuration reloaded');
    if (changedSignals.length > 0) noteOtherSpools();
    return { file: next.file, applied, needsRestart };
  }

  function shutdown(reason: string): Promise<void> {
    shutdownPromise ??= (async () => {
      logger.info({ reason }, 'shutting down');
      const hardStop = setTimeout(() => {
        logger.error('shutdown passed its deadline; exiting anyway');
        log.flushSync();
        process.exit(0);
      }, config.flushDeadlineMs + EXIT_MARGIN_MS);
      hardStop.unref();
      // 1. Stop accepting connections, stop taking hand-off files, and give up the socket's
      //    path and lock: a successor (an upgrade, a client's auto-spawn) may start and bind
      //    while this daemon drains; from here on nothing of theirs is touched.
      listening?.server.close();
      void otlpReceivers?.close();
      handoff?.stop();
      feedback.stop();
      // A socket inherited from a service manager is the manager's to remove, not ours.
      if (options.inheritedFd === undefined && !isNamedPipe(socketPath)) {
        try {
          unlinkSync(socketPath);
        } catch {
          // Already gone.
        }
      }
      listening?.release();
      // 2. Take in what open connections already sent: wait until each is quiet, within a
      //    bound; from then on new records are refused and counted as dropped. Connections the
      //    memory limiter held are let go first, so that nothing read is left unhandled.
      memory.stop();
      await takeInWhatWasSent(Math.min(MAX_DRAIN_MS, config.flushDeadlineMs / 4), null);
      shuttingDown = true;
      // 3. Collect and export what was accepted, all signals together within the one flush
      //    deadline. Metrics derived from events were recorded when the events were taken in,
      //    so the metrics' last collection holds them.
      const deadlineAt = Date.now() + config.flushDeadlineMs;
      await Promise.all([metrics.shutdown({ timeoutMillis: config.flushDeadlineMs }), lanes.shutdown({ timeoutMillis: config.flushDeadlineMs })]);
      //    The pipelines handed their last batches to the queues: each sends what it can before
      //    the deadline and spills the rest to disk, for the next daemon to send.
      await destinations.shutdown(deadlineAt);
      // Everything accepted is now exported, spilled, or counted as lost: the journal goes.
      journal?.close();
      // 4. Close the clients' connections; they reconnect to the next daemon.
      for (const connection of connections) connection.close();
      await Promise.race([Promise.all([...connections].map((connection) => connection.closed)), new Promise((resolve) => setTimeout(resolve, 200).unref())]);
      const counts = { metrics: metricStats.snapshot(), logs: logStats.snapshot(), traces: traceStats.snapshot() };
      logger.info(
        Object.fromEntries(Object.entries(counts).map(([signal, count]) => [signal, { exported: count.exported, dropped: count.droppedTotal }])),
        'stopped',
      );
      clearInterval(errorTimer);
      clearInterval(idleTimer);
      clearInterval(sessionTimer);
      clearTimeout(hardStop);
      log.flushSync();
      resolveStopped();
    })();
    return shutdownPromise;
  }

  const services: DaemonServices = {
    version: PACKAGE_VERSION,
    logger: log.logger,
    metrics,
    metricStats,
    sessions,
    insights,
    events,
    spans,
    resources,
    partialFrames: { held: 0 },
    memory,
    feedback,
    syncJournal: () => journal?.sync() ?? true,
    protocolError(reason) {
      protocolErrors.set(reason, (protocolErrors.get(reason) ?? 0) + 1);
    },
    isShuttingDown: () => shuttingDown,
    status,
    flush,
    requestShutdown: (reason) => void shutdown(reason),
    reload,
  };

  const onConnection = (socket: Socket): void => {
    if (shuttingDown) {
      socket.destroy();
      return;
    }
    if (connections.size >= MAX_CONNECTIONS) {
      // Said once on the wire, then closed: a client learns why rather than seeing a reset.
      protocolErrors.set('too_many_connections', (protocolErrors.get('too_many_connections') ?? 0) + 1);
      socket.on('error', () => undefined);
      socket.end(encodeFrame({ jsonrpc: '2.0', id: null, error: { code: ErrorCodes.TooManyConnections, message: `the daemon holds its maximum of ${MAX_CONNECTIONS} connections; try again later` } }));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    busyAt = Date.now();
    connections.add(
      serveConnection(socket, services, (connection) => {
        connections.delete(connection);
        busyAt = Date.now();
      }),
    );
  };
  listening = options.inheritedFd === undefined ? await listenOnSocket(socketPath, onConnection) : await listenOnInheritedSocket(options.inheritedFd, onConnection);

  // The OTLP receivers, when configured: unmodified OpenTelemetry senders join the lanes.
  otlpReceivers = await startOtlpReceivers({
    config: config.otlpReceiver,
    stateDir: paths.logDir,
    spans,
    logs,
    metrics,
    metricStats,
    resources,
    memory,
    syncJournal: () => journal?.sync() ?? true,
    isShuttingDown: () => shuttingDown,
    logger: log.logger.child({ component: 'otlp' }),
  });

  {
    const runtimeDir = runtimeFolder(socketPath, tmpdir(), userName());
    // This daemon is up: the start that a client may have marked is over, and any record of
    // failed starts is void.
    for (const name of [RUNTIME_FILES.spawnMarker, RUNTIME_FILES.spawnFailures]) rmSync(join(runtimeDir, name), { force: true });
    handoff = startHandoffIngest({
      dir: join(runtimeDir, RUNTIME_FILES.handoffDir),
      metrics,
      stats: metricStats,
      sessions,
      observe: insights.observe,
      events,
      spans,
      resources,
      memory,
      logger: log.logger.child({ component: 'handoff' }),
    });
    handoff.scan();
  }

  // An idle daemon has no connection and holds nothing: every accepted record was exported
  // or counted as dropped, and no feedback report waits for a configured endpoint. Checked a few times per idle period.
  const idleTimer = setInterval(
    () => {
      if (idleExitAfterMs === null) return;
      // Reports waiting for an endpoint that is configured keep the daemon up to deliver them.
      const feedbackWaiting = active.feedback.target !== null && feedback.counts().pending > 0;
      const spoolWaiting = destinations.queues().some((queue) => queue.pending());
      if (connections.size > 0 || buffered() > 0 || feedbackWaiting || spoolWaiting) {
        busyAt = Date.now();
        return;
      }
      if (Date.now() - busyAt >= idleExitAfterMs) void shutdown(`idle for ${idleExitAfterMs} ms`);
    },
    Math.max(50, Math.min(5000, (idleExitAfterMs ?? 5000) / 4)),
  );
  idleTimer.unref();
  logger.info(
    { socketPath, startedBy, idleExitAfterMs, version: PACKAGE_VERSION, config: config.file, exporters: described, exportIntervalMs: config.exportIntervalMs },
    'listening',
  );
  return { socketPath, shutdown, stopped, reload };
}
