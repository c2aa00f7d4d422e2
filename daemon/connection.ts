/**
 * One client connection: the bounded reader, a vscode-jsonrpc connection over it, and the
 * handlers of every method. Handlers are thin: they check params with protocol/ validators and
 * hand typed values to the daemon. Nothing here throws into the socket's event paths; every
 * failure becomes a JSON-RPC error or a count.
 */
import type { Socket } from 'node:net';

import type { Logger } from 'pino';
import { createMessageConnection, ResponseError } from 'vscode-jsonrpc/node';

import {
  checkFeedbackIdParams,
  checkInitializeParams,
  checkSessionIdParams,
  checkSessionStartParams,
  type BatchResult,
  type ClientStatus,
  DaemonFlush,
  DaemonReload,
  DaemonShutdown,
  DaemonStatus,
  encodeFrame,
  ErrorCodes,
  FeedbackList,
  FeedbackRetry,
  FeedbackShow,
  FeedbackSubmit,
  Initialize,
  MAX_BATCH_EVENTS,
  MAX_BATCH_SPANS,
  MAX_BATCH_RECORDS,
  MAX_MESSAGE_BYTES,
  MAX_SESSIONS,
  measurementCount,
  MetricRecordBatch,
  PROTOCOL_VERSION,
  SERVER_NAME,
  SessionEnd,
  SessionEventBatch,
  SessionStart,
  SessionSummary,
  ToolsMetrics,
  ToolsReset,
  TraceSpanBatch,
} from '../protocol/index.js';
import { createBoundedMessageReader, type PartialFrameBudget } from './bounded-message-reader.js';
import { ReloadError } from './config.js';
import type { EventIngest, EventSource } from './event-ingest.js';
import type { FeedbackService } from './feedback/service.js';
import type { HostResource, HostResources } from './host-resources.js';
import { MEMORY_RETRY_AFTER_MS, type MemoryLimiter } from './memory-limiter.js';
import { ingestMetricBatch } from './metric-ingest.js';
import type { MetricsPipeline } from './metrics-pipeline.js';
import type { SessionInsights } from './session-insights.js';
import type { SessionRegistry } from './session-registry.js';
import type { SpanIngest } from './span-ingest.js';
import { createSocketMessageWriter } from './socket-message-writer.js';
import type { SignalStats } from './stats.js';

/** What a connection needs from the daemon. */
export interface DaemonServices {
  readonly version: string;
  readonly logger: Logger;
  readonly metrics: MetricsPipeline;
  readonly metricStats: SignalStats;
  readonly sessions: SessionRegistry;
  readonly insights: SessionInsights;
  readonly events: EventIngest;
  readonly spans: SpanIngest;
  /** Gives each host its resource, from `initialize`. */
  readonly resources: HostResources;
  /** The unfinished frames all connections hold, in bytes (bounded together). */
  readonly partialFrames: PartialFrameBudget;
  /** Stops reading telemetry connections over the soft limit; refuses their telemetry over the hard one. */
  readonly memory: MemoryLimiter;
  readonly feedback: FeedbackService;
  /** Makes what was taken in so far durable (the journal), before a request is answered; false when it could not. */
  syncJournal(): boolean;
  /** Counts a message-level protocol error by reason (malformed frame, unknown method, …). */
  protocolError(reason: string): void;
  isShuttingDown(): boolean;
  status(): DaemonStatus.Result;
  /** Flushes; `from` is the asking connection, whose own pending request is not waited for. */
  flush(timeoutMs: number | undefined, from: ClientConnection): Promise<DaemonFlush.Result>;
  requestShutdown(reason: string): void;
  /** Reads the config file again and applies it; throws {@link ReloadError} when it cannot. */
  reload(trigger: string): Promise<DaemonReload.Result>;
}

export interface ClientConnection {
  status(): ClientStatus;
  /** True when this client has sent nothing for `quietMs` and everything it sent is handled. */
  isQuiet(quietMs: number): boolean;
  /** Ends the connection; pending writes are sent first. */
  close(): void;
  readonly closed: Promise<void>;
}

/** How long a connection closed for a framing violation may take to send its error. */
const CLOSE_GRACE_MS = 1000;

/**
 * How long a connection may stay open without a successful `initialize`; then it is closed and
 * counted (`initialize_timeout`). Every client initializes at once, so only a connection that
 * will never do so waits this long, holding a descriptor and a frame buffer.
 */
export const INITIALIZE_TIMEOUT_MS = 5000;

let nextId = 1;

/**
 * Serves one accepted socket until it closes. `onClose` is called once, after the socket and
 * the JSON-RPC connection are both gone.
 */
export function serveConnection(socket: Socket, services: DaemonServices, onClose: (connection: ClientConnection) => void): ClientConnection {
  const id = nextId++;
  const connectedAt = new Date().toISOString();
  const log = services.logger.child({ component: 'connection', connection: id });
  const stats = services.metricStats;
  let client: { name: string; version: string; pid: number | null; resource: HostResource } | null = null;
  let recordsReceived = 0;
  let eventsReceived = 0;
  let spansReceived = 0;
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const initializeTimer = setTimeout(() => {
    if (client !== null) return;
    services.protocolError('initialize_timeout');
    log.info({ afterMs: INITIALIZE_TIMEOUT_MS }, 'closing a connection that never initialized');
    socket.destroy();
  }, INITIALIZE_TIMEOUT_MS);
  initializeTimer.unref();

  const pendingIds = new Set<string>();
  const writer = createSocketMessageWriter(socket, pendingIds);
  // Errors for frames the library never saw go straight to the socket: through the writer they
  // would free a pending request's id that a refused duplicate happens to share.
  const sendError = (messageId: string | number | null, code: number, message: string): Promise<void> => {
    if (!socket.destroyed && !socket.writableEnded) socket.write(encodeFrame({ jsonrpc: '2.0', id: messageId, error: { code, message } }));
    return Promise.resolve();
  };

  const reader = createBoundedMessageReader(socket, MAX_MESSAGE_BYTES, {
    partialFrames: services.partialFrames,
    pendingIds,
    memory: services.memory,
    onReserved(messageId, method) {
      services.protocolError('unknown_method');
      if (messageId !== null) void sendError(messageId, ErrorCodes.MethodNotFound, `unknown method "${method}"`);
    },
    onFatal(code, message) {
      services.protocolError(code === ErrorCodes.MessageTooLarge ? 'message_too_large' : code === ErrorCodes.Overloaded ? 'overloaded' : 'framing_error');
      log.warn({ code, problem: message }, code === ErrorCodes.Overloaded ? 'closing a connection: too many unfinished frames held' : 'closing connection after a framing violation');
      void sendError(null, code, message).finally(() => socket.end());
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    },
    onInvalid(messageId, code, message) {
      services.protocolError(code === ErrorCodes.ParseError ? 'parse_error' : 'invalid_request');
      void sendError(messageId, code, message);
    },
  });

  const connection = createMessageConnection(reader, writer, {
    error: (message) => log.debug({ problem: message }, 'jsonrpc'),
    warn: (message) => log.debug({ problem: message }, 'jsonrpc'),
    info: () => undefined,
    log: () => undefined,
  });

  /**
   * Wraps a handler so the reader's count of unhandled messages is kept whatever happens. A
   * handler that returns a promise (flush) is done when the promise settles, not before: the
   * shutdown drain and a half-closed client's end both wait on that count.
   */
  function handled<A extends unknown[], R>(handler: (...args: A) => R): (...args: A) => R {
    return (...args: A): R => {
      let result: R;
      try {
        result = handler(...args);
      } catch (error) {
        reader.handled();
        throw error;
      }
      if (result instanceof Promise) {
        result.then(
          () => reader.handled(),
          () => reader.handled(),
        );
      } else reader.handled();
      return result;
    };
  }

  /** Counts and returns the refusal of a method sent before `initialize`. */
  function notInitialized(): ResponseError {
    services.protocolError('not_initialized');
    return new ResponseError(ErrorCodes.NotInitialized, 'not initialized: send "initialize" first');
  }

  function requireInitialized(): void {
    if (client === null) throw notInitialized();
  }

  /**
   * Marks this connection as one that sends telemetry (not read while the memory limiter holds)
   * and, over the hard limit, returns the refusal of what it sent. A connection already known to
   * send telemetry had this message handed on while the limiter let it: refusing what is already
   * parsed in memory would free little and lose what the client was let send, so it is taken.
   * What is refused is a connection's first telemetry, which nothing held back.
   */
  function overMemory(what: string): ResponseError<{ retryAfterMs: number }> | null {
    if (reader.sendsTelemetry()) return null;
    if (services.memory.check() !== 'hard') return null;
    services.protocolError('memory_limited');
    const { heldBytes, hardLimitBytes } = services.memory.status();
    const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);
    return new ResponseError(ErrorCodes.Overloaded, `the daemon is over its memory limit (${mib(heldBytes)} MiB held of ${mib(hardLimitBytes)} MiB) and took none of these ${what}; send them again after retryAfterMs`, { retryAfterMs: MEMORY_RETRY_AFTER_MS });
  }


  connection.onRequest(
    Initialize.method,
    handled((params: unknown): Initialize.Result => {
      if (client !== null) {
        services.protocolError('already_initialized');
        throw new ResponseError(ErrorCodes.AlreadyInitialized, 'initialize: this connection is already initialized');
      }
      const checked = checkInitializeParams(params);
      if (!checked.ok) {
        services.protocolError('invalid_params');
        throw new ResponseError(ErrorCodes.InvalidParams, checked.message);
      }
      if (checked.value.protocolVersion !== PROTOCOL_VERSION) {
        services.protocolError('unsupported_protocol_version');
        if (checked.value.protocolVersion > PROTOCOL_VERSION) {
          // A newer client cannot talk to this daemon but can start its own: make way for it,
          // after this answer is written and what is held is exported.
          setImmediate(() => services.requestShutdown(`replaced by a client speaking protocol ${checked.value.protocolVersion}`));
        }
        throw new ResponseError(
          ErrorCodes.UnsupportedProtocolVersion,
          `params.protocolVersion: ${checked.value.protocolVersion} is not supported; this daemon speaks ${PROTOCOL_VERSION}`,
          { supported: [PROTOCOL_VERSION], serverVersion: services.version },
        );
      }
      const info = checked.value.clientInfo;
      const resource = services.resources.forHost(info, checked.value.resource);
      client = { name: info.name, version: info.version, pid: checked.value.processId ?? null, resource };
      clearTimeout(initializeTimer);
      log.info({ client: info.name, clientVersion: info.version, pid: client.pid, service: resource.serviceName }, 'client initialized');
      return {
        protocolVersion: PROTOCOL_VERSION,
        serverInfo: { name: SERVER_NAME, version: services.version },
        limits: { maxMessageBytes: MAX_MESSAGE_BYTES, maxBatchRecords: MAX_BATCH_RECORDS, maxBatchEvents: MAX_BATCH_EVENTS, maxBatchSpans: MAX_BATCH_SPANS },
      };
    }),
  );

  /** Where this connection's telemetry comes from: its client, its host's resource, the sessions it may name. */
  function sourceOf(initialized: NonNullable<typeof client>): EventSource {
    return { sessions: services.sessions, clientName: initialized.name, unknownSession: 'reject', resource: initialized.resource };
  }

  /**
   * Ingests one batch. Returns the per-record result for requests, or an error for a batch
   * that fails as a whole; notifications count the same outcomes instead of answering.
   */
  function ingest(params: unknown): MetricRecordBatch.Result | ResponseError<unknown> {
    if (client === null) return notInitialized();
    if (services.isShuttingDown()) {
      stats.dropped('shutting_down', measurementCount(params));
      return new ResponseError(ErrorCodes.ShuttingDown, 'the daemon is shutting down and accepts no new records');
    }
    const refused = overMemory('records');
    if (refused !== null) {
      stats.dropped('memory_limited', measurementCount(params));
      return refused;
    }
    const outcome = ingestMetricBatch(params, services.metrics, stats, { ...sourceOf(client), observe: services.insights.observe });
    recordsReceived += outcome.received;
    if (outcome.ok) return outcome.result;
    services.protocolError(outcome.protocolError);
    return new ResponseError(outcome.code, outcome.message);
  }

  /**
   * Ingests one `session/event` or `trace/span` batch; as for metrics, a notification counts
   * what a request answers.
   */
  function ingestItems(items: 'events' | 'spans', params: unknown): BatchResult | ResponseError<unknown> {
    if (client === null) return notInitialized();
    const ingestor = services[items];
    if (services.isShuttingDown()) {
      ingestor.dropAll(params, 'shutting_down');
      return new ResponseError(ErrorCodes.ShuttingDown, `the daemon is shutting down and accepts no new ${items}`);
    }
    const refused = overMemory(items);
    if (refused !== null) {
      ingestor.dropAll(params, 'memory_limited');
      return refused;
    }
    const outcome = ingestor.ingest(params, sourceOf(client));
    if (items === 'events') eventsReceived += outcome.received;
    else spansReceived += outcome.received;
    if (outcome.ok) return outcome.result;
    services.protocolError(outcome.protocolError);
    return new ResponseError(outcome.code, outcome.message);
  }

  /** Starts a session; for a notification, failures are counted instead of answered. */
  function startSession(params: unknown): SessionStart.Result | ResponseError {
    if (client === null) return notInitialized();
    const checked = checkSessionStartParams(params);
    if (!checked.ok) {
      services.protocolError('invalid_params');
      return new ResponseError(ErrorCodes.InvalidParams, checked.message);
    }
    const session = services.sessions.start(checked.value);
    if (session === null) {
      services.protocolError('too_many_sessions');
      return new ResponseError(ErrorCodes.TooManySessions, `session/start: the daemon already holds ${MAX_SESSIONS} sessions; end some with session/end`);
    }
    return { sessionId: session.id, tags: session.tags };
  }

  function endSession(params: unknown): SessionEnd.Result | ResponseError {
    if (client === null) return notInitialized();
    const checked = checkSessionIdParams(params);
    if (!checked.ok) {
      services.protocolError('invalid_params');
      return new ResponseError(ErrorCodes.InvalidParams, checked.message);
    }
    if (!services.sessions.end(checked.value.sessionId)) {
      services.protocolError('unknown_session');
      return new ResponseError(ErrorCodes.UnknownSession, `params.sessionId: no session ${JSON.stringify(checked.value.sessionId)} (never started, ended or expired)`);
    }
    return { sessionId: checked.value.sessionId };
  }

  // Each of these is a notification or a request: a notification counts the failures a
  // request is answered with.
  const dualHandlers: [string, (params: unknown) => object | ResponseError<unknown>][] = [
    [MetricRecordBatch.method, ingest],
    [SessionEventBatch.method, (params) => ingestItems('events', params)],
    [TraceSpanBatch.method, (params) => ingestItems('spans', params)],
    [SessionStart.method, startSession],
    [SessionEnd.method, endSession],
  ];
  for (const [method, handler] of dualHandlers) {
    connection.onNotification(
      method,
      handled((params: unknown) => {
        handler(params);
      }),
    );
    connection.onRequest(
      method,
      handled((params: unknown) => {
        const result = handler(params);
        if (result instanceof ResponseError) throw result;
        // A request's answer says the records are the daemon's: they are on disk first. When
        // they cannot be, the answer says so instead of "accepted".
        if (!services.syncJournal()) {
          services.protocolError('not_durable');
          throw new ResponseError(
            ErrorCodes.NotDurable,
            "the daemon took this in but could not make it durable (its journal cannot be written; see daemon/status journalFailure): it is exported unless the daemon dies first; sending it again may send it twice",
            result,
          );
        }
        return result;
      }),
    );
  }

  connection.onRequest(
    SessionSummary.method,
    handled((params: unknown) => {
      requireInitialized();
      const checked = checkSessionIdParams(params);
      if (!checked.ok) {
        services.protocolError('invalid_params');
        throw new ResponseError(ErrorCodes.InvalidParams, checked.message);
      }
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
      requireInitialized();
      return services.insights.tools();
    }),
  );
  connection.onRequest(
    ToolsReset.method,
    handled((): ToolsReset.Result => {
      requireInitialized();
      services.insights.resetTools();
      return { reset: true };
    }),
  );

  connection.onRequest(
    FeedbackSubmit.method,
    handled(async (params: unknown): Promise<FeedbackSubmit.Result> => {
      requireInitialized();
      const refused = overMemory('feedback reports');
      if (refused !== null) throw refused;
      const outcome = await services.feedback.submit(params, { name: client?.name ?? 'unknown', version: client?.version ?? '' });
      if (outcome.ok) return outcome.value;
      services.protocolError(outcome.reason);
      throw new ResponseError(outcome.code, outcome.message);
    }),
  );
  connection.onRequest(
    FeedbackList.method,
    handled((): FeedbackList.Result => {
      requireInitialized();
      return { reports: services.feedback.list() };
    }),
  );
  /** The report `params` names, or the error for a bad or unknown id. */
  function namedReport(params: unknown): string {
    const checked = checkFeedbackIdParams(params);
    if (!checked.ok) {
      services.protocolError('invalid_params');
      throw new ResponseError(ErrorCodes.InvalidParams, checked.message);
    }
    return checked.value.feedbackId;
  }
  function unknownFeedback(id: string): ResponseError {
    services.protocolError('unknown_feedback');
    return new ResponseError(ErrorCodes.UnknownFeedback, `params.feedbackId: no report ${id} in the spool`);
  }
  connection.onRequest(
    FeedbackShow.method,
    handled((params: unknown): FeedbackShow.Result => {
      requireInitialized();
      const id = namedReport(params);
      const report = services.feedback.show(id);
      if (report === undefined) throw unknownFeedback(id);
      return report;
    }),
  );
  connection.onRequest(
    FeedbackRetry.method,
    handled(async (params: unknown): Promise<FeedbackRetry.Result> => {
      requireInitialized();
      const id = namedReport(params);
      const entry = await services.feedback.retry(id);
      if (entry === undefined) throw unknownFeedback(id);
      return { feedbackId: id, state: entry.state };
    }),
  );

  connection.onRequest(
    DaemonStatus.method,
    handled(() => {
      requireInitialized();
      return services.status();
    }),
  );
  connection.onRequest(
    DaemonFlush.method,
    handled((params: unknown) => {
      requireInitialized();
      const timeoutMs = typeof params === 'object' && params !== null ? (params as { timeoutMs?: unknown }).timeoutMs : undefined;
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) {
        services.protocolError('invalid_params');
        throw new ResponseError(ErrorCodes.InvalidParams, 'params.timeoutMs: must be a positive number of milliseconds');
      }
      return services.flush(timeoutMs, self);
    }),
  );
  connection.onRequest(
    DaemonReload.method,
    handled(async (): Promise<DaemonReload.Result> => {
      requireInitialized();
      try {
        return await services.reload(`daemon/reload from ${client?.name ?? 'a client'}`);
      } catch (error) {
        if (error instanceof ReloadError) throw new ResponseError(ErrorCodes.ReloadFailed, error.message);
        throw error;
      }
    }),
  );
  connection.onRequest(
    DaemonShutdown.method,
    handled((): DaemonShutdown.Result => {
      requireInitialized();
      setImmediate(() => services.requestShutdown(`daemon/shutdown from ${client?.name ?? 'a client'}`));
      return { draining: true, pid: process.pid };
    }),
  );

  connection.onRequest(
    handled((method: string) => {
      services.protocolError('unknown_method');
      throw new ResponseError(ErrorCodes.MethodNotFound, `unknown method "${method}"`);
    }),
  );
  connection.onNotification(
    handled(() => {
      services.protocolError('unknown_method');
    }),
  );

  connection.onError(([error]) => log.debug({ problem: error.message }, 'connection error'));
  const self: ClientConnection = {
    status(): ClientStatus {
      return {
        id,
        name: client?.name ?? '(not initialized)',
        version: client?.version ?? '',
        pid: client?.pid ?? null,
        connectedAt,
        recordsReceived,
        eventsReceived,
        spansReceived,
        serviceName: client?.resource.serviceName ?? '',
      };
    },
    isQuiet: (quietMs) => reader.isQuiet(quietMs),
    close() {
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
    },
    closed,
  };
  socket.on('close', () => {
    clearTimeout(initializeTimer);
    connection.dispose();
    log.debug('connection closed');
    resolveClosed();
    onClose(self);
  });
  // A reset by the peer is normal for short-lived clients; the close event does the cleanup.
  socket.on('error', () => undefined);
  // A client that half-closes still gets the answers to what it sent: end our side once every
  // delivered message is handled (the server is created with allowHalfOpen).
  socket.on('end', () => {
    const endWhenHandled = (): void => {
      if (reader.isQuiet(0) || socket.destroyed) socket.end();
      else setTimeout(endWhenHandled, 5).unref();
    };
    endWhenHandled();
  });
  connection.listen();
  return self;
}
