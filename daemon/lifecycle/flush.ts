/**
 * `daemon/flush`: takes in what open connections already sent, collects every pipeline and
 * sends what the export queues hold, all within one deadline (the config's flush deadline at
 * most).
 */
import type { DaemonFlush } from '../../protocol/index.js';
import type { ClientConnection } from '../connection.js';
import type { Connections } from '../connections.js';
import type { Pipelines } from '../pipelines.js';

/** Longest the drain of open connections may take, whatever the clients do. */
export const MAX_DRAIN_MS = 500;

export type Flush = (timeoutMs: number | undefined, from: ClientConnection) => Promise<DaemonFlush.Result>;

export function createFlush(options: { readonly flushDeadlineMs: number; readonly connections: Connections; readonly pipelines: Pipelines }): Flush {
  const { flushDeadlineMs, connections, pipelines } = options;
  return async (timeoutMs, from) => {
    const started = Date.now();
    const budget = Math.min(timeoutMs ?? flushDeadlineMs, flushDeadlineMs);
    const left = (): number => Math.max(1, budget - (Date.now() - started));
    // A host that wrote its records and then asked (or had `codexd flush` ask) for a flush on
    // another connection expects those records in it.
    await connections.takeInWhatWasSent(Math.min(MAX_DRAIN_MS, budget / 4), from);
    const [metricOutcome, eventOutcome] = await Promise.all([pipelines.metrics.forceFlush(left()), pipelines.lanes.forceFlush(left())]);
    // What the pipelines handed over waits in the queues: send it now.
    const sent = await Promise.all(pipelines.destinations.queues().map((queue) => queue.flush(left())));
    const allSent = sent.every(Boolean);
    return {
      complete: metricOutcome.complete && eventOutcome.complete && allSent,
      timedOut: metricOutcome.timedOut || eventOutcome.timedOut || (!allSent && Date.now() - started >= budget),
      durationMs: Date.now() - started,
      metrics: pipelines.stats.metrics.snapshot(),
      logs: pipelines.stats.logs.snapshot(),
      traces: pipelines.stats.traces.snapshot(),
    };
  };
}
