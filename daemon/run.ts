/**
 * `codexd run`: the daemon in the foreground. This module only assembles the parts:
 *
 *   socket --> connections (connection.ts: initialize, checks from protocol/, handlers)
 *          --> pipelines (pipelines.ts: metric and event ingest, lanes, export queues)
 *   OTLP receivers (otlp/) and hand-off files --> the same pipelines
 *   journal (lifecycle/journal-replay.ts): what was accepted and not yet exported, on disk
 *   lifecycle/: reload, flush, status, idle exit, shutdown (its order written there)
 *
 * This is the only module of the command line that loads OpenTelemetry.
 */
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { type DaemonReload, PACKAGE_VERSION, RUNTIME_FILES, runtimeFolder, SIGNALS, type StartedBy } from '../protocol/index.js';
import { loadConfig } from './config.js';
import { createConnections } from './connections.js';
import type { DaemonServices } from './connection.js';
import { releaseEmptyBuffers } from './delivery/byte-buffer.js';
import { createDiskConditions } from './disk-conditions.js';
import { type HandoffIngest, startHandoffIngest } from './handoff-ingest.js';
import { createDaemonStatus } from './lifecycle/daemon-status.js';
import { createFlush } from './lifecycle/flush.js';
import { exitsWhenIdle, startIdleExit } from './lifecycle/idle-exit.js';
import { openDaemonJournal } from './lifecycle/journal-replay.js';
import { createReloader } from './lifecycle/reload.js';
import { createShutdown } from './lifecycle/shutdown.js';
import { createDaemonLogger } from './logger.js';
import { createMemoryLimiter } from './memory-limiter.js';
import { type OtlpReceivers, startOtlpReceivers } from './otlp/receivers.js';
import { type DaemonPaths, resolvePaths, socketPathFor, userName } from './paths.js';
import { createPipelines } from './pipelines.js';
import { createProblemLog } from './problem-log.js';
import { type Listening, listenOnInheritedSocket, listenOnSocket } from './socket-listener.js';

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

/**
 * Starts the daemon: reads config, binds the socket, serves until a signal or
 * `daemon/shutdown`. Throws (before binding anything) on a bad config or an unusable socket.
 */
export async function startDaemon(options: RunOptions = {}, paths: DaemonPaths = resolvePaths()): Promise<RunningDaemon> {
  const config = loadConfig(paths);
  const startedAt = new Date();
  const socketPath = options.socketPath ?? socketPathFor(config.socketPath);
  const startedBy = options.startedBy ?? 'foreground';
  const log = createDaemonLogger(options.logToStderr === true ? null : paths.logFile, config.logLevel);
  const logger = log.logger.child({ component: 'daemon' });
  const problems = createProblemLog(logger);
  // Writes that fail (a full disk), by place, for status: the spools and the file exporter.
  const disk = createDiskConditions();

  const pipelines = await createPipelines({ config, paths, log, disk, reportError: problems.report });
  /** Says where batches wait that no exporter of their signal sends now: nothing waits unseen. */
  const noteOtherSpools = (): void => {
    for (const signal of SIGNALS) {
      const spools = pipelines.destinations.otherSpools(signal);
      if (spools.length > 0) logger.warn({ signal, spools }, 'batches wait in the spool of another kind of exporter; an exporter of that kind for the signal sends them');
    }
  };
  noteOtherSpools();
  // Sessions a client never ended are expired, checked a few times per timeout.
  const sessionTimer = setInterval(() => pipelines.sessions.expireIdle(Date.now()), Math.max(50, Math.min(60_000, config.sessionIdleTimeoutMs / 4)));
  sessionTimer.unref();
  await openDaemonJournal({ paths, config, pipelines, logger, reportError: problems.report });
  // Over its soft limit the daemon stops reading telemetry; what its export queues hold in
  // memory goes to disk first, which frees the most without losing anything.
  const memory = createMemoryLimiter({
    hardLimitBytes: config.memory.limitBytes,
    softLimitBytes: config.memory.limitBytes - config.memory.spikeBytes,
    logger: log.logger.child({ component: 'memory' }),
    onPressure: () => {
      for (const queue of pipelines.destinations.queues()) queue.spillNow();
    },
    // What a load left: the journal's and the serialiser's buffers keep the size it grew them
    // to, and the sessions' log rings their lines.
    onRelease: () => {
      releaseEmptyBuffers();
      pipelines.sessionLogs.pack();
    },
  });

  // Started once the socket is bound.
  let listening: Listening | null = null;
  let otlpReceivers: OtlpReceivers | null = null;
  let handoff: HandoffIngest | null = null;
  // Stopping: set when a stop begins (reloads are refused); taking in ends once open
  // connections are drained (new telemetry is refused and counted from then on).
  let stopping = false;
  let shuttingDown = false;
  const isShuttingDown = (): boolean => shuttingDown;
  const connections = createConnections({ isShuttingDown });
  const reloader = createReloader({ paths, config, startedAt, pipelines, log, logger, memory, isStopping: () => stopping, onExportersChanged: noteOtherSpools });
  const flush = createFlush({ flushDeadlineMs: config.flushDeadlineMs, connections, pipelines });
  const idleExitAfterMs = exitsWhenIdle(startedBy) ? config.idleTimeoutMs : null;
  const idle = startIdleExit({
    afterMs: idleExitAfterMs,
    busy: () => {
      // Reports waiting for an endpoint that is configured keep the daemon up to deliver them.
      const feedbackWaiting = reloader.active().feedback.target !== null && pipelines.feedback.counts().pending > 0;
      const spoolWaiting = pipelines.destinations.queues().some((queue) => queue.pending());
      return connections.size > 0 || pipelines.buffered() > 0 || feedbackWaiting || spoolWaiting;
    },
    // A host that closes before it connects hands its records over as a file: that is use too.
    lastActivityAt: () => Math.max(connections.lastChangeAt(), handoff?.lastIngestAt() ?? 0),
    onIdle: (reason) => void shutdown(reason),
  });
  const stop = createShutdown({
    flushDeadlineMs: config.flushDeadlineMs,
    socketPath,
    inheritedSocket: options.inheritedFd !== undefined,
    log,
    logger,
    listening: () => listening,
    otlpReceivers: () => otlpReceivers,
    handoff: () => handoff,
    feedback: pipelines.feedback,
    memory,
    connections,
    pipelines,
    stopTakingIn: () => void (shuttingDown = true),
    stopTimers: () => {
      problems.stop();
      idle.stop();
      clearInterval(sessionTimer);
    },
  });
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  function shutdown(reason: string): Promise<void> {
    stopping = true;
    return stop(reason).then(resolveStopped);
  }
  const status = createDaemonStatus({
    startedAt,
    socketPath,
    startedBy,
    idleExitAfterMs,
    logFile: options.logToStderr === true ? null : paths.logFile,
    log,
    pipelines,
    memory,
    disk,
    connections,
    reloader,
    otlpReceivers: () => otlpReceivers,
    handoff: () => handoff,
  });

  const services: DaemonServices = {
    version: PACKAGE_VERSION,
    logger: log.logger,
    metricIngest: pipelines.metricIngest,
    metricStats: pipelines.stats.metrics,
    sessions: pipelines.sessions,
    insights: pipelines.insights,
    events: pipelines.events,
    spans: pipelines.spans,
    resources: pipelines.resources,
    partialFrames: { held: 0 },
    memory,
    feedback: pipelines.feedback,
    syncJournal: pipelines.journal.sync,
    protocolError: connections.protocolError,
    isShuttingDown,
    status,
    flush,
    requestShutdown: (reason) => void shutdown(reason),
    reload: reloader.reload,
  };
  const accept = (socket: Socket): void => connections.accept(socket, services);
  listening = options.inheritedFd === undefined ? await listenOnSocket(socketPath, accept) : await listenOnInheritedSocket(options.inheritedFd, accept);

  // The OTLP receivers, when configured: unmodified OpenTelemetry senders join the lanes.
  otlpReceivers = await startOtlpReceivers({
    config: config.otlpReceiver,
    stateDir: paths.logDir,
    spans: pipelines.spans,
    logs: pipelines.logs,
    metrics: pipelines.metrics,
    metricStats: pipelines.stats.metrics,
    resources: pipelines.resources,
    memory,
    syncJournal: pipelines.journal.sync,
    isShuttingDown,
    logger: log.logger.child({ component: 'otlp' }),
  });

  const runtimeDir = runtimeFolder(socketPath, tmpdir(), userName());
  // This daemon is up: the start that a client may have marked is over, and any record of
  // failed starts is void.
  for (const name of [RUNTIME_FILES.spawnMarker, RUNTIME_FILES.spawnFailures]) rmSync(join(runtimeDir, name), { force: true });
  handoff = startHandoffIngest({
    dir: join(runtimeDir, RUNTIME_FILES.handoffDir),
    metricIngest: pipelines.metricIngest,
    sessions: pipelines.sessions,
    events: pipelines.events,
    spans: pipelines.spans,
    resources: pipelines.resources,
    memory,
    logger: log.logger.child({ component: 'handoff' }),
  });
  handoff.scan();

  logger.info(
    { socketPath, startedBy, idleExitAfterMs, version: PACKAGE_VERSION, config: config.file, exporters: pipelines.described(), exportIntervalMs: config.exportIntervalMs },
    'listening',
  );
  return { socketPath, shutdown, stopped, reload: reloader.reload };
}
