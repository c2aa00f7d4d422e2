/**
 * `codexd run`: the daemon in the foreground.
 *
 *   socket --> connection (initialize, clientInfo) --> checks (protocol/)
 *          --> metric/record  --> MetricsPipeline (MeterProvider) --> AccountedReader --> exporter
 *          --> session/event  --> EventIngest --> log lane (LoggerProvider)  --> exporter
 *                                      |      \-> trace lane (TracerProvider) --> exporter
 *                                      \-> derived metrics --> MetricsPipeline
 *                                          (each exporter: file | otlp-grpc | none)
 *
 * This is the only module of the command line that loads OpenTelemetry.
 */
import { hostname, tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { existsSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';

import { resourceFromAttributes } from '@opentelemetry/resources';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace';

import { type DaemonFlush, type DaemonStatus, type ExporterStatus, measurementsIn, type MetricRecord, type Signal, RUNTIME_FILES, runtimeFolder, type StartedBy, isNamedPipe, PACKAGE_VERSION, PROTOCOL_VERSION, SERVER_NAME } from '../protocol/index.js';
import { type ExporterConfig, loadConfig, type TlsConfig } from './config.js';
import { type ClientConnection, type DaemonServices, serveConnection } from './connection.js';
import { createEventIngest, type EventSource } from './event-ingest.js';
import { createEventLanes, type LaneChoice, type LaneEntry } from './event-lanes.js';
import { createFeedbackService, UPLOAD_TIMEOUT_MS } from './feedback/service.js';
import { createSessionLogs } from './feedback/session-logs.js';
import { openFeedbackSpool } from './feedback/spool.js';
import { describeTarget, uploadReport } from './feedback/upload.js';
import { createFileSender, type FileExporterOptions } from './exporters/file-exporter.js';
import { type HandoffIngest, startHandoffIngest } from './handoff-ingest.js';
import { ingestMetricBatch } from './metric-ingest.js';
import { createExportQueue, type ExportQueue } from './delivery/export-queue.js';
import { createGrpcSender, type Sender } from './delivery/grpc-sender.js';
import { createHttpSender, type HttpProtocol } from './delivery/http-sender.js';
import { createQueuedLogExporter, createQueuedMetricExporter, createQueuedSpanExporter, type WireFormat } from './delivery/queued-exporters.js';
import { type Journal, type JournalLine, openJournal, orphanedJournals, readJournal, removeJournal } from './delivery/journal.js';
import { openSegmentSpool } from './delivery/segment-spool.js';
import { createDaemonLogger } from './logger.js';
import { createMetricsPipeline } from './metrics-pipeline.js';
import { type DaemonPaths, resolvePaths, socketPathFor, userName } from './paths.js';
import { type Listening, listenOnInheritedSocket, listenOnSocket } from './socket-listener.js';
import { createSessionInsights } from './session-insights.js';
import { createSessionRegistry } from './session-registry.js';
import { createSignalStats } from './stats.js';

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

interface ExporterFactories<T> {
  readonly file: (options: { dir: string; maxFileBytes: number; maxFiles: number }) => Promise<T>;
  readonly grpc: (options: { endpoint: string; headers: Readonly<Record<string, string>>; timeoutMillis: number; tls?: TlsConfig }) => Promise<T>;
  readonly http: (options: { endpoint: string; headers: Readonly<Record<string, string>>; protocol: HttpProtocol; tls?: TlsConfig; exactUrl?: boolean }) => Promise<T>;
}

/** The exporter a signal's config names, or `null` when its export is off. */
async function createExporter<T>(exporter: ExporterConfig, flushDeadlineMs: number, factories: ExporterFactories<T>): Promise<T | null> {
  switch (exporter.kind) {
    case 'none':
      return null;
    case 'file':
      return factories.file({ dir: exporter.dir, maxFileBytes: exporter.maxFileBytes, maxFiles: exporter.maxFiles });
    case 'otlp-grpc':
      return factories.grpc({ endpoint: exporter.endpoint, headers: exporter.headers, timeoutMillis: flushDeadlineMs, ...(exporter.tls === undefined ? {} : { tls: exporter.tls }) });
    case 'otlp-http':
      return factories.http({ endpoint: exporter.endpoint, headers: exporter.headers, protocol: exporter.protocol, ...(exporter.tls === undefined ? {} : { tls: exporter.tls }), ...(exporter.exactUrl === true ? { exactUrl: true } : {}) });
  }
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
  // A network exporter is a queue in front of a gRPC sender: batches are serialised once,
  // retried with backoff, spilled to disk when memory is short or the daemon stops, and
  // replayed from disk (an earlier daemon's first) in order.
  const queues = new Map<Signal, { queue: ExportQueue; sender: Sender }>();
  const statsOf: Record<Signal, typeof metricStats> = { metrics: metricStats, logs: logStats, traces: traceStats };
  const queued =
    <T, O>(signal: Signal, make: (queue: ExportQueue, format: WireFormat) => T, format: WireFormat, spoolKind: string, open: (options: O) => Sender | Promise<Sender>) =>
    async (options: O): Promise<T> => {
      const sender = await open(options);
      const queue = createExportQueue({
        signal,
        sender,
        stats: statsOf[signal],
        // One spool per signal and kind of exporter: protobuf batches never reach the file, nor
        // JSON lines a collector, when the configuration changes between two daemons.
        spool: openSegmentSpool(join(paths.logDir, 'spool', signal, spoolKind), config.delivery.spoolMaxBytes),
        maxMemoryBytes: config.delivery.queueMaxBytes,
        retry: { initialMs: config.delivery.retryInitialMs, maxMs: config.delivery.retryMaxMs },
        sendTimeoutMs: config.flushDeadlineMs,
        onError: reportError,
      });
      queues.set(signal, { queue, sender });
      return make(queue, format);
    };
  // Every exporter has its queue: OTLP protobuf to a collector, OTLP JSON lines to the file.
  const viaQueue = <T>(signal: Signal, make: (queue: ExportQueue, format: WireFormat) => T): ExporterFactories<T> => ({
    file: queued(signal, make, 'json', 'file', (options: FileExporterOptions) => createFileSender(signal, options)),
    grpc: queued(signal, make, 'protobuf', 'otlp-grpc', (target: { endpoint: string; headers: Readonly<Record<string, string>>; tls?: TlsConfig }) =>
      createGrpcSender({ signal, endpoint: target.endpoint, headers: target.headers, ...(target.tls === undefined ? {} : { tls: target.tls }) }),
    ),
    // The format is the configured protocol's; each has its spool, so a change of protocol
    // never sends one format where the other is expected.
    http: async (target: { endpoint: string; headers: Readonly<Record<string, string>>; protocol: HttpProtocol; tls?: TlsConfig; exactUrl?: boolean }) =>
      queued(signal, make, target.protocol === 'json' ? 'json' : 'protobuf', `otlp-http-${target.protocol}`, () => createHttpSender({ signal, ...target }))(target),
  });
  const [metricExporter, logExporter, spanExporter] = await Promise.all([
    createExporter<PushMetricExporter>(config.metrics, config.flushDeadlineMs, viaQueue('metrics', createQueuedMetricExporter)),
    createExporter<LogRecordExporter>(config.logs, config.flushDeadlineMs, viaQueue('logs', createQueuedLogExporter)),
    createExporter<SpanExporter>(config.traces, config.flushDeadlineMs, viaQueue('traces', createQueuedSpanExporter)),
  ]);
  /** An exporter's status with its queue's: a queue that keeps failing is what "failing" means now. */
  const withQueue = (status: ExporterStatus): ExporterStatus => {
    const entry = queues.get(status.signal);
    if (entry === undefined) return status;
    const queue = entry.queue.status();
    return { ...status, state: queue.failures > 0 ? 'failing' : status.state, lastError: queue.lastError ?? status.lastError, queue };
  };
  const described = { metrics: describeExporter(config.metrics), logs: describeExporter(config.logs), traces: describeExporter(config.traces) };
  const resource = resourceFromAttributes({
    'service.name': SERVER_NAME,
    'service.version': PACKAGE_VERSION,
    'host.name': hostname(),
    'deployment.environment.name': config.environment,
    'telemetry.distro.name': SERVER_NAME,
    'telemetry.distro.version': PACKAGE_VERSION,
  });
  const metrics = createMetricsPipeline({
    resource,
    exporter: metricExporter,
    exporterKind: described.metrics.kind,
    exporterEndpoint: described.metrics.endpoint,
    stats: metricStats,
    intervalMs: config.exportIntervalMs,
    exportTimeoutMs: config.flushDeadlineMs,
    onError: reportError,
    onAccepted: (records) => journal?.append({ m: records }),
  });
  const lanes = createEventLanes({
    resource,
    logExporter,
    spanExporter,
    logKind: described.logs.kind,
    logEndpoint: described.logs.endpoint,
    traceKind: described.traces.kind,
    traceEndpoint: described.traces.endpoint,
    logStats,
    traceStats,
    scheduledDelayMs: config.exportIntervalMs,
    exportTimeoutMs: config.flushDeadlineMs,
    onError: reportError,
    onAccepted: (entry, taken) => journal?.append({ e: [entry, taken] }),
  });
  const sessionLogs = createSessionLogs();
  const events = createEventIngest({
    lanes,
    logStats,
    traceStats,
    policy: { logUserPrompt: config.logUserPrompt, logToolContent: config.logToolContent },
    recordDerived(records, source: EventSource) {
      // Derived metrics are counted like any client's records, from the same connection.
      ingestMetricBatch({ records }, metrics, metricStats, { ...source, unknownSession: 'untagged', observe: insights.observe });
    },
    toolError: insights.toolError,
    logLine: sessionLogs.append,
  });
  const feedback = createFeedbackService({
    spool: openFeedbackSpool(paths.feedbackDir, config.feedback.maxSpoolBytes, reportError),
    target: config.feedback.target,
    targetDescription: config.feedback.target === null ? null : describeTarget(config.feedback.target),
    enabled: config.feedback.enabled,
    retry: { initialMs: config.feedback.retryInitialMs, maxMs: config.feedback.retryMaxMs },
    upload: (report, target, signal) => uploadReport(report, target, { timeoutMs: UPLOAD_TIMEOUT_MS, userAgent: `${SERVER_NAME}/${PACKAGE_VERSION}`, signal }),
    sessions,
    sessionLogs,
    recordOutcome(category, includeLogs, success) {
      ingestMetricBatch(
        { records: [{ name: 'user.feedback.submitted', kind: 'counter', value: 1, tags: { category, include_logs: String(includeLogs), success: String(success) } }] },
        metrics,
        metricStats,
        { sessions, clientName: null, unknownSession: 'untagged' },
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
      for (const { queue } of queues.values()) if (queue.status().failures > 0) queue.spillNow();
    },
    onError: reportError,
  });
  for (const { dir, lines, torn } of earlier) {
    const replayed = replayJournal(lines);
    // In this daemon's journal first, then the old one goes; a crash in between replays twice.
    journal.sync();
    removeJournal(dir);
    if (lines.length > 0 || torn > 0) logger.info({ ...replayed, torn, from: dir }, 'replayed the journal of an earlier daemon');
  }
  journal.start();

  /** Takes in again what an earlier daemon journaled: metric records, and event entries on the lanes that took them. */
  function replayJournal(lines: readonly JournalLine[]): { records: number; events: number } {
    let records = 0;
    let events = 0;
    for (const line of lines) {
      if ('m' in line && Array.isArray(line.m)) {
        const batch = line.m as MetricRecord[];
        metricStats.received(measurementsIn(batch));
        records += metrics.record(batch, (position) => position, []);
      } else if ('e' in line && Array.isArray(line.e)) {
        const [entry, taken] = line.e as [LaneEntry, LaneChoice];
        if (taken.log) logStats.received(1);
        if (taken.span) traceStats.received(1);
        lanes.emit(entry, taken);
        events++;
      }
    }
    return { records, events };
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
    const sent = await Promise.all([...queues.values()].map(({ queue }) => queue.flush(Math.max(1, budget - (Date.now() - started)))));
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
      signals: { metrics: metricStats.snapshot(), logs: logStats.snapshot(), traces: traceStats.snapshot() },
      events: events.counts(),
      protocolErrors: Object.fromEntries(protocolErrors),
      exporters: [metrics.exporterStatus(), ...lanes.exporterStatus()].map(withQueue),
      clients: [...connections].map((connection) => connection.status()),
      sessions: sessions.counts(),
      handoff: handoff?.counts() ?? { filesIngested: 0, recordsIngested: 0, eventsIngested: 0, filesRejected: 0 },
      feedback: feedback.counts(),
    };
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
      //    bound; from then on new records are refused and counted as dropped.
      await takeInWhatWasSent(Math.min(MAX_DRAIN_MS, config.flushDeadlineMs / 4), null);
      shuttingDown = true;
      // 3. Collect and export what was accepted, all signals together within the one flush
      //    deadline. Metrics derived from events were recorded when the events were taken in,
      //    so the metrics' last collection holds them.
      const deadlineAt = Date.now() + config.flushDeadlineMs;
      await Promise.all([metrics.shutdown({ timeoutMillis: config.flushDeadlineMs }), lanes.shutdown({ timeoutMillis: config.flushDeadlineMs })]);
      //    The pipelines handed their last batches to the queues: each sends what it can before
      //    the deadline and spills the rest to disk, for the next daemon to send.
      await Promise.all([...queues.values()].map(({ queue }) => queue.shutdown(deadlineAt)));
      for (const { sender } of queues.values()) sender.close();
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
    feedback,
    syncJournal: () => journal?.sync(),
    protocolError(reason) {
      protocolErrors.set(reason, (protocolErrors.get(reason) ?? 0) + 1);
    },
    isShuttingDown: () => shuttingDown,
    status,
    flush,
    requestShutdown: (reason) => void shutdown(reason),
  };

  const onConnection = (socket: Socket): void => {
    if (shuttingDown) {
      socket.destroy();
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
      const feedbackWaiting = config.feedback.target !== null && feedback.counts().pending > 0;
      const spoolWaiting = [...queues.values()].some(({ queue }) => queue.pending());
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
  return { socketPath, shutdown, stopped };
}
