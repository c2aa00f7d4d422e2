/**
 * One client connection: the bounded reader, a vscode-jsonrpc connection over it, `initialize`,
 * and the handlers of every other method, registered by area from handlers/ (metrics, sessions
 * and their events and spans, feedback, daemon control). Handlers are thin: they check params
 * with protocol/ validators and hand typed values to the daemon. Nothing here throws into the
 * socket's event paths; every failure becomes a JSON-RPC error or a count.
 */
import type { Socket } from 'node:net';

import type { Logger } from 'pino';
import { createMessageConnection, ResponseError } from 'vscode-jsonrpc/node';

import {
  checkInitializeParams,
  type ClientStatus,
  type DaemonFlush,
  type DaemonReload,
  type DaemonStatus,
  encodeFrame,
  ErrorCodes,
  Initialize,
  MAX_BATCH_EVENTS,
  MAX_BATCH_SPANS,
  MAX_BATCH_RECORDS,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  SERVER_NAME,
} from '../protocol/index.js';
import { createBoundedMessageReader, type PartialFrameBudget } from './bounded-message-reader.js';
import type { EventIngest } from './event-ingest.js';
import type { FeedbackService } from './feedback/service.js';
import type { HostResources } from './host-resources.js';
import { MEMORY_RETRY_AFTER_MS, type MemoryLimiter } from './memory-limiter.js';
import type { MetricIngest } from './metric-ingest.js';
import type { SessionInsights } from './session-insights.js';
import type { SessionRegistry } from './session-registry.js';
import type { SpanIngest } from './span-ingest.js';
import type { ConnectionContext, InitializedClient } from './handlers/context.js';
import { registerControlHandlers } from './handlers/control.js';
import { registerFeedbackHandlers } from './handlers/feedback.js';
import { registerMetricHandlers } from './handlers/metrics.js';
import { registerSessionHandlers } from './handlers/sessions.js';
import { createSocketMessageWriter } from './socket-message-writer.js';
import type { SignalStats } from './stats.js';

/** What a connection needs from the daemon. */
export interface DaemonServices {
  readonly version: string;
  readonly logger: Logger;
  readonly metricIngest: MetricIngest;
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
  let client: InitializedClient | null = null;
  const received = { records: 0, events: 0, spans: 0 };
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

  const connection = createMessageConnection(
    reader,
    writer,
    {
      error: (message) => log.debug({ problem: message }, 'jsonrpc'),
      warn: (message) => log.debug({ problem: message }, 'jsonrpc'),
      info: () => undefined,
      log: () => undefined,
    },
    {
      // Once the library has run a message's handler (its synchronous part), the reader parses
      // and hands on the next one.
      messageStrategy: {
        handleMessage(message, next) {
          try {
            return next(message);
          } finally {
            reader.taken();
          }
        },
      },
    },
  );

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

  function notInitialized(): ResponseError {
    services.protocolError('not_initialized');
    return new ResponseError(ErrorCodes.NotInitialized, 'not initialized: send "initialize" first');
  }

  const context: ConnectionContext = {
    services,
    connection,
    get self() {
      return self;
    },
    client: () => client,
    handled,
    notInitialized,
    requireInitialized() {
      if (client === null) throw notInitialized();
      return client;
    },
    overMemory(what) {
      if (reader.sendsTelemetry()) return null;
      if (services.memory.check() !== 'hard') return null;
      services.protocolError('memory_limited');
      const { heldBytes, hardLimitBytes } = services.memory.status();
      const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(0);
      return new ResponseError(ErrorCodes.Overloaded, `the daemon is over its memory limit (${mib(heldBytes)} MiB held of ${mib(hardLimitBytes)} MiB) and took none of these ${what}; send them again after retryAfterMs`, { retryAfterMs: MEMORY_RETRY_AFTER_MS });
    },
    received(kind, count) {
      received[kind] += count;
    },
  };

  // A client writes its first batches right behind `initialize`, without waiting for the answer
  // (PROTOCOL.md, section 2). That holds because this handler is synchronous: the library
  // handles a connection's messages one per event-loop turn, in order, and writes a synchronous
  // handler's answer in that turn's microtasks, before the next message. So what follows sees
  // `client` set, or is refused with -32002 when this refused; and an answer that never reached
  // the client means nothing behind it was handled. Keep it synchronous.
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
      // Logged on the next turn, after the answer is written (in this turn's microtasks): a
      // short CLI waits for that answer, not for the log line.
      const logged = { client: info.name, clientVersion: info.version, pid: client.pid, service: resource.serviceName };
      setImmediate(() => log.info(logged, 'client initialized'));
      return {
        protocolVersion: PROTOCOL_VERSION,
        serverInfo: { name: SERVER_NAME, version: services.version },
        limits: { maxMessageBytes: MAX_MESSAGE_BYTES, maxBatchRecords: MAX_BATCH_RECORDS, maxBatchEvents: MAX_BATCH_EVENTS, maxBatchSpans: MAX_BATCH_SPANS },
      };
    }),
  );
  registerMetricHandlers(context);
  registerSessionHandlers(context);
  registerFeedbackHandlers(context);
  registerControlHandlers(context);

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
        recordsReceived: received.records,
        eventsReceived: received.events,
        spansReceived: received.spans,
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
