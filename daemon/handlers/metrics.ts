/** `metric/record`: a batch of metric records, checked and handed to the metric ingest. */
import { ErrorCodes, measurementCount, MetricRecordBatch } from '../../protocol/index.js';
import { ResponseError } from 'vscode-jsonrpc/node';

import type { ConnectionContext } from './context.js';
import { registerDual } from './dual.js';
import { sourceOf } from './sessions.js';

export function registerMetricHandlers(context: ConnectionContext): void {
  const { services } = context;
  const stats = services.metricStats;
  /**
   * Ingests one batch. Returns the per-record result for requests, or an error for a batch
   * that fails as a whole; notifications count the same outcomes instead of answering.
   */
  registerDual(context, MetricRecordBatch.method, (params): MetricRecordBatch.Result | ResponseError<unknown> => {
    const client = context.client();
    if (client === null) return context.notInitialized();
    if (services.isShuttingDown()) {
      stats.dropped('shutting_down', measurementCount(params));
      return new ResponseError(ErrorCodes.ShuttingDown, 'the daemon is shutting down and accepts no new records');
    }
    const refused = context.overMemory('records');
    if (refused !== null) {
      stats.dropped('memory_limited', measurementCount(params));
      return refused;
    }
    const outcome = services.metricIngest.ingest(params, sourceOf(services, client));
    context.received('records', outcome.received);
    if (outcome.ok) return outcome.result;
    services.protocolError(outcome.protocolError);
    return new ResponseError(outcome.code, outcome.message);
  });
}
