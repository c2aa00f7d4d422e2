/**
 * `daemon/status`: everything the daemon holds and where it is stuck, from the parts that hold
 * it. Secrets never appear: exporters show scheme, host, port and path only.
 */
import { type DaemonStatus, PACKAGE_VERSION, PROTOCOL_VERSION, SERVER_NAME, type StartedBy } from '../../protocol/index.js';
import type { Connections } from '../connections.js';
import type { Journal } from '../delivery/journal.js';
import type { DiskConditions } from '../disk-conditions.js';
import type { HandoffIngest } from '../handoff-ingest.js';
import type { DaemonLogger } from '../logger.js';
import type { MemoryLimiter } from '../memory-limiter.js';
import type { OtlpReceivers } from '../otlp/receivers.js';
import type { Pipelines } from '../pipelines.js';
import { withQueue } from './exporter-status.js';
import type { Reloader } from './reload.js';

/** What a daemon that has not started its hand-off ingest yet reports. */
const NO_HANDOFF: DaemonStatus.Result['handoff'] = { filesIngested: 0, recordsIngested: 0, eventsIngested: 0, spansIngested: 0, filesRejected: 0, refused: {} };

/** The journal's part of the status; zeros before it opens. */
function journalStatus(journal: Journal | null): DaemonStatus.Result['journal'] {
  if (journal === null) return { bytes: 0, writes: 0, writtenBytes: 0, syncs: 0 };
  const written = journal.counts();
  return { bytes: journal.bytes(), writes: written.writes, writtenBytes: written.bytes, syncs: written.syncs };
}

export interface StatusSources {
  readonly startedAt: Date;
  readonly socketPath: string;
  readonly startedBy: StartedBy;
  readonly idleExitAfterMs: number | null;
  /** Null when the log goes to standard error. */
  readonly logFile: string | null;
  readonly log: DaemonLogger;
  readonly pipelines: Pipelines;
  readonly memory: MemoryLimiter;
  readonly disk: DiskConditions;
  readonly connections: Connections;
  readonly reloader: Reloader;
  /** Parts that start after the socket is bound: null until then. */
  readonly otlpReceivers: () => OtlpReceivers | null;
  readonly handoff: () => HandoffIngest | null;
}

/** The status as of each call. */
export function createDaemonStatus(sources: StatusSources): () => DaemonStatus.Result {
  const { pipelines } = sources;
  return () => ({
    serverInfo: { name: SERVER_NAME, version: PACKAGE_VERSION },
    protocolVersion: PROTOCOL_VERSION,
    pid: process.pid,
    startedAt: sources.startedAt.toISOString(),
    uptimeMs: Date.now() - sources.startedAt.getTime(),
    socketPath: sources.socketPath,
    startedBy: sources.startedBy,
    idleExitAfterMs: sources.idleExitAfterMs,
    logFile: sources.logFile,
    logFailure: sources.log.failure(),
    journalFailure: pipelines.journal.journal?.failure() ?? null,
    journal: journalStatus(pipelines.journal.journal),
    memory: sources.memory.status(),
    disk: sources.disk.list(),
    otlpReceiver: sources.otlpReceivers()?.status() ?? null,
    signals: { metrics: pipelines.stats.metrics.snapshot(), logs: pipelines.stats.logs.snapshot(), traces: pipelines.stats.traces.snapshot() },
    events: pipelines.events.counts(),
    spans: pipelines.spans.counts(),
    resources: pipelines.resources.counts(),
    protocolErrors: sources.connections.protocolErrors(),
    exporters: [pipelines.metrics.exporterStatus(), ...pipelines.lanes.exporterStatus()].map((status) => withQueue(status, pipelines.destinations)),
    clients: sources.connections.statuses(),
    sessions: { ...pipelines.sessions.counts(), logBytes: pipelines.sessionLogs.bytes(), logPackedBytes: pipelines.sessionLogs.packedBytes() },
    handoff: sources.handoff()?.counts() ?? NO_HANDOFF,
    feedback: pipelines.feedback.counts(),
    config: sources.reloader.status(),
  });
}
