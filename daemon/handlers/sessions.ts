/**
 * Sessions and what they carry: `session/start`, `session/end`, `session/event`, `trace/span`,
 * and what the daemon learned of them (`session/summary`, `tools/metrics`, `tools/reset`).
 */
import {
  type BatchResult,
  checkSessionIdParams,
  checkSessionStartParams,
  ErrorCodes,
  MAX_SESSIONS,
  SessionEnd,
  SessionEventBatch,
  SessionStart,
  SessionSummary,
  ToolsMetrics,
  ToolsReset,
  TraceSpanBatch,
} from '../../protocol/index.js';
import { ResponseError } from 'vscode-jsonrpc/node';

import type { DaemonServices } from '../connection.js';
import type { EventSource } from '../event-ingest.js';
import type { ConnectionContext, InitializedClient } from './context.js';
import { registerDual } from './dual.js';

/** Where a connection's telemetry comes from: its client, its host's resource, the sessions it may name. */
export function sourceOf(services: DaemonServices, client: InitializedClient): EventSource {
  return { sessions: services.sessions, clientName: client.name, unknownSession: 'reject', resource: client.resource };
}

export function registerSessionHandlers(context: ConnectionContext): void {
  const { services, connection, handled } = context;

  /** As for metrics, a notification counts what a request answers. */
  function ingestItems(items: 'events' | 'spans', params: unknown): BatchResult | ResponseError<unknown> {
    const client = context.client();
    if (client === null) return context.notInitialized();
    const ingestor = services[items];
    if (services.isShuttingDown()) {
      ingestor.dropAll(params, 'shutting_down');
      return new ResponseError(ErrorCodes.ShuttingDown, `the daemon is shutting down and accepts no new ${items}`);
    }
    const refused = context.overMemory(items);
    if (refused !== null) {
      ingestor.dropAll(params, 'memory_limited');
      return refused;
    }
    const outcome = ingestor.ingest(params, sourceOf(services, client));
    context.received(items, outcome.received);
    if (outcome.ok) return outcome.result;
    services.protocolError(outcome.protocolError);
    return new ResponseError(outcome.code, outcome.message);
  }

  /** The checked params, or the refusal naming what is wrong. */
  function invalid(message: string): ResponseError {
    services.protocolError('invalid_params');
    return new ResponseError(ErrorCodes.InvalidParams, message);
  }

  registerDual(context, SessionEventBatch.method, (params) => ingestItems('events', params));
  registerDual(context, TraceSpanBatch.method, (params) => ingestItems('spans', params));
  registerDual(context, SessionStart.method, (params): SessionStart.Result | ResponseError => {
    if (context.client() === null) return context.notInitialized();
    const checked = checkSessionStartParams(params);
    if (!checked.ok) return invalid(checked.message);
    const session = services.sessions.start(checked.value);
    if (session === null) {
      services.protocolError('too_many_sessions');
      return new ResponseError(ErrorCodes.TooManySessions, `session/start: the daemon already holds ${MAX_SESSIONS} sessions; end some with session/end`);
    }
    return { sessionId: session.id, tags: session.tags };
  });
  registerDual(context, SessionEnd.method, (params): SessionEnd.Result | ResponseError => {
    if (context.client() === null) return context.notInitialized();
    const checked = checkSessionIdParams(params);
    if (!checked.ok) return invalid(checked.message);
    if (!services.sessions.end(checked.value.sessionId)) {
      services.protocolError('unknown_session');
      return new ResponseError(ErrorCodes.UnknownSession, `params.sessionId: no session ${JSON.stringify(checked.value.sessionId)} (never started, ended or expired)`);
    }
    return { sessionId: checked.value.sessionId };
  });

  connection.onRequest(
    SessionSummary.method,
    handled((params: unknown) => {
      context.requireInitialized();
      const checked = checkSessionIdParams(params);
      if (!checked.ok) throw invalid(checked.message);
      const summary = services.insights.summary(checked.value.sessionId);
      if (summary === undefined) {
        services.protocolError('unknown_session');
        throw new ResponseError(ErrorCodes.UnknownSession, `params.sessionId: no metrics recorded for session ${JSON.stringify(checked.value.sessionId)}`);
      }
      return summary;
    }),
  );
  connection.onRequest(
    ToolsMetrics.method,
    handled(() => {
      context.requireInitialized();
      return services.insights.tools();
    }),
  );
  connection.onRequest(
    ToolsReset.method,
    handled((): ToolsReset.Result => {
      context.requireInitialized();
      services.insights.resetTools();
      return { reset: true };
    }),
  );
}
