/**
 * Stopping the daemon (a signal, `daemon/shutdown`, idle exit, a newer client): in an order that
 * loses nothing accepted and lets a successor start at once. Idempotent: a second call returns
 * the first one's promise.
 */
import { unlinkSync } from 'node:fs';

import type { Logger } from 'pino';

import { isNamedPipe } from '../../protocol/index.js';
import type { Connections } from '../connections.js';
import type { FeedbackService } from '../feedback/service.js';
import type { HandoffIngest } from '../handoff-ingest.js';
import type { DaemonLogger } from '../logger.js';
import type { MemoryLimiter } from '../memory-limiter.js';
import type { OtlpReceivers } from '../otlp/receivers.js';
import type { Pipelines } from '../pipelines.js';
import type { Listening } from '../socket-listener.js';
import { MAX_DRAIN_MS } from './flush.js';

/** Extra time past the flush deadline before a stop gives up waiting and exits anyway. */
const EXIT_MARGIN_MS = 1000;

export interface ShutdownParts {
  readonly flushDeadlineMs: number;
  readonly socketPath: string;
  /** The socket was handed over by a service manager: its path is the manager's to remove. */
  readonly inheritedSocket: boolean;
  readonly log: DaemonLogger;
  readonly logger: Logger;
  readonly listening: () => Listening | null;
  readonly otlpReceivers: () => OtlpReceivers | null;
  readonly handoff: () => HandoffIngest | null;
  readonly feedback: FeedbackService;
  readonly memory: MemoryLimiter;
  readonly connections: Connections;
  readonly pipelines: Pipelines;
  /** From here on new telemetry is refused and counted as dropped. */
  readonly stopTakingIn: () => void;
  /** Timers and loops that end with the daemon. */
  readonly stopTimers: () => void;
}

export type Shutdown = (reason: string) => Promise<void>;

export function createShutdown(parts: ShutdownParts): Shutdown {
  const { logger, pipelines } = parts;
  let running: Promise<void> | null = null;

  async function stop(reason: string): Promise<void> {
    logger.info({ reason }, 'shutting down');
    const hardStop = setTimeout(() => {
      logger.error('shutdown passed its deadline; exiting anyway');
      parts.log.flushSync();
      process.exit(0);
    }, parts.flushDeadlineMs + EXIT_MARGIN_MS);
    hardStop.unref();
    // 1. Stop accepting connections, stop taking hand-off files, and give up the socket's
    //    path and lock: a successor (an upgrade, a client's auto-spawn) may start and bind
    //    while this daemon drains; from here on nothing of theirs is touched.
    parts.listening()?.server.close();
    void parts.otlpReceivers()?.close();
    parts.handoff()?.stop();
    parts.feedback.stop();
    if (!parts.inheritedSocket && !isNamedPipe(parts.socketPath)) {
      try {
        unlinkSync(parts.socketPath);
      } catch {
        // Already gone.
      }
    }
    parts.listening()?.release();
    // 2. Take in what open connections already sent: wait until each is quiet, within a
    //    bound; from then on new records are refused and counted as dropped. Connections the
    //    memory limiter held are let go first, so that nothing read is left unhandled.
    parts.memory.stop();
    await parts.connections.takeInWhatWasSent(Math.min(MAX_DRAIN_MS, parts.flushDeadlineMs / 4), null);
    parts.stopTakingIn();
    // 3. Collect and export what was accepted, all signals together within the one flush
    //    deadline. Metrics derived from events were recorded when the events were taken in,
    //    so the metrics' last collection holds them.
    const deadlineAt = Date.now() + parts.flushDeadlineMs;
    await Promise.all([pipelines.metrics.shutdown({ timeoutMillis: parts.flushDeadlineMs }), pipelines.lanes.shutdown({ timeoutMillis: parts.flushDeadlineMs })]);
    //    The pipelines handed their last batches to the queues: each sends what it can before
    //    the deadline and spills the rest to disk, for the next daemon to send.
    await pipelines.destinations.shutdown(deadlineAt);
    //    Everything accepted is now exported, spilled, or counted as lost: the journal goes.
    pipelines.journal.journal?.close();
    // 4. Close the clients' connections; they reconnect to the next daemon.
    await parts.connections.closeAll();
    const counts = Object.entries(pipelines.stats).map(([signal, stats]) => {
      const count = stats.snapshot();
      return [signal, { exported: count.exported, dropped: count.droppedTotal }];
    });
    logger.info(Object.fromEntries(counts), 'stopped');
    parts.stopTimers();
    clearTimeout(hardStop);
    parts.log.flushSync();
  }

  return (reason) => (running ??= stop(reason));
}
