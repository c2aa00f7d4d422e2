/**
 * The thin client a host embeds. Recording appends to a bounded buffer and schedules one
 * write; a batch goes to the daemon as a single `metric/record` notification per event-loop
 * turn (or as soon as a batch is full). The host never waits on the daemon and never sees an
 * exception from this module: problems are counted, and reported once through `onError`.
 *
 *   counter(), histogram() --> intake --> RecordBuffer --+
 *   session.event() ---------> (checks)   EventBuffer ---+--> frame queue ----------> socket
 *   startSpan() ... end() --> span.ts --> SpanBuffer ----+    (batch-framer: batches   |
 *   session start/end, summary(), submitFeedback() -------->   within the limits, in   |
 *                                                              order with control      |
 *   answers to summary(), submitFeedback() <-- request correlator <-- daemon-link <----+
 *   drop ledger: what was not sent, by kind and reason; its counts ride the next batch
 *   close() or the host's exit --> exit path: write what is left, else a hand-off file
 *   (a close() before the first connection, with a daemon up: all of it, in a hand-off file)
 *
 * This file wires the parts, each in its own file: intake.ts checks what the host records;
 * record-buffer.ts, event-buffer.ts and span-buffer.ts hold it; frame-queue.ts writes it in
 * frames batch-framer.ts encodes within the daemon's limits; drop-ledger.ts counts what was not
 * sent; daemon-requests.ts sends requests in turn with the batches and request-correlator.ts
 * matches the answers; session-handle.ts and span.ts are what the host holds. The connection
 * (initialize, reconnecting, starting the daemon when nobody answers, replacing an older one) is
 * daemon-link.ts; records keep buffering meanwhile. On `close()` or the host's exit, what is
 * still buffered or queued is written, or handed over as a file the daemon ingests
 * (exit-path.ts, exit-handoff.ts).
 *
 * Node built-ins are reached through `process.getBuiltinModule()` where they are used, here and
 * in the modules below: a host's start-up is the hot path, and an ES import of a built-in costs
 * milliseconds (measured in bench/).
 */
import {
  attributesProblem,
  type ClientInfo,
  type FeedbackSubmit,
  MAX_RESOURCE_ATTRIBUTE_LENGTH,
  MAX_RESOURCE_ATTRIBUTES,
  type ResourceAttributes,
  SessionEnd,
  SessionStart,
  SessionSummary,
} from '../protocol/index.js';
import { createBatchFramer } from './batch-framer.js';
import { createDaemonLink } from './daemon-link.js';
import { createDaemonRequests, type FeedbackResult } from './daemon-requests.js';
import { createDaemonSpawner } from './daemon-spawner.js';
import { createDropLedger } from './drop-ledger.js';
import { createEventBuffer } from './event-buffer.js';
import { createExitPath } from './exit-path.js';
import { createFrameQueue } from './frame-queue.js';
import { createIntake } from './intake.js';
import { createRecordBuffer } from './record-buffer.js';
import { createSessionHandle, type SessionHandle, type SessionOptions, type Tags, type Timer } from './session-handle.js';
import { socketLocation } from './socket-location.js';
import { type ClientSpan, createSpanRecorder, type SpanOptions } from './span.js';
import { createSpanBuffer } from './span-buffer.js';

export { FEEDBACK_TIMEOUT_MS, type FeedbackResult } from './daemon-requests.js';
export type { EventFields, Phase, SessionHandle, SessionOptions, Tags, Timer } from './session-handle.js';

/** Records held while the daemon is unreachable or slow; beyond it new records are dropped and counted. */
export const DEFAULT_MAX_BUFFERED_RECORDS = 10_000;
/** Session events held while the daemon is unreachable or slow; beyond it new events are dropped and counted. */
export const DEFAULT_MAX_BUFFERED_EVENTS = 2000;
/** Characters (keys and string values) the queued events may hold in all. */
const MAX_BUFFERED_EVENT_CHARS = 16 * 1024 * 1024;
/** Ended spans held while the daemon is unreachable or slow; beyond it newly ended spans are dropped and counted. */
export const DEFAULT_MAX_BUFFERED_SPANS = 5000;
/** Characters (names, keys and string values) the queued spans may hold in all. */
const MAX_BUFFERED_SPAN_CHARS = 16 * 1024 * 1024;
/** How long `close()` and `flush()` wait for a connection before giving up on what is buffered. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2000;
/** How long `summary()` waits for the daemon's answer. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 2000;

export interface ClientOptions {
  readonly clientInfo: ClientInfo;
  /** Defaults to `CODEXD_SOCKET`, else the per-user default path. */
  readonly socketPath?: string;
  readonly maxBufferedRecords?: number;
  readonly maxBufferedEvents?: number;
  readonly maxBufferedSpans?: number;
  /**
   * The host's OpenTelemetry resource (`service.name`, `service.version`, ...), sent in
   * `initialize` on every connection and written into hand-off files: everything this client
   * sends is exported under it. Without it the daemon uses `clientInfo`'s name and version. An
   * invalid resource is reported once through `onError` and left out.
   */
  readonly resource?: ResourceAttributes;
  readonly closeTimeoutMs?: number;
  /** Called once per kind of problem (daemon unreachable, buffer full, invalid record). */
  readonly onError?: (message: string) => void;
  /**
   * Start the daemon when nothing answers on the socket. Default true, unless the environment
   * has `CODEXD_NO_SPAWN=1`.
   */
  readonly spawn?: boolean;
  /** `[executable, ...args]` to start the daemon with; default: this Node, the package's `codexd run --spawned`. */
  readonly daemonCommand?: readonly string[];
}

export interface ClientStats {
  readonly connected: boolean;
  readonly buffered: number;
  readonly sent: number;
  /** Records not sent, by reason: `client_buffer_full`, `client_undeliverable`, or a rejection code. */
  readonly dropped: Readonly<Record<string, number>>;
  /** Records written to hand-off files for the daemon to ingest. */
  readonly handedOff: number;
  /** The same counts for session events. */
  readonly events: { readonly buffered: number; readonly sent: number; readonly dropped: Readonly<Record<string, number>>; readonly handedOff: number };
  /** The same counts for ended spans, and more. */
  readonly spans: SpanStats;
}

export interface SpanStats {
  /** Ended spans waiting to be sent. */
  readonly buffered: number;
  readonly sent: number;
  /**
   * Spans not sent, by reason: `client_buffer_full`, `client_undeliverable`, `client_span_open`
   * (still open at exit or `close()`), `not_sampled` (under an unsampled parent; the one reason
   * not reported to the daemon, whose protocol has no such client reason), or a rejection code.
   */
  readonly dropped: Readonly<Record<string, number>>;
  readonly handedOff: number;
  /** Spans started and not yet ended. */
  readonly open: number;
  /** Parts of spans left out, by rejection code: bad attributes, events, links, statuses or kinds, and malformed parents (`invalid_trace_context`). */
  readonly ignored: Readonly<Record<string, number>>;
}

export interface TelemetryClient {
  /**
   * Starts a session (`session/start`, sent ahead of its records and again after every
   * reconnect, so a restarted daemon knows it). Never throws: an invalid session is reported
   * once and its records are dropped and counted.
   */
  session(options: SessionOptions): SessionHandle;
  counter(name: string, value?: number, tags?: Tags): void;
  histogram(name: string, value: number, tags?: Tags): void;
  gauge(name: string, value: number, tags?: Tags): void;
  startTimer(name: string, tags?: Tags): Timer;
  /**
   * Starts a span; `span.end()` queues it for the daemon, which exports it under the ids minted
   * here. Never throws. A span still open at exit or `close()` is never sent, only counted
   * (`client_span_open`).
   */
  startSpan(name: string, options?: SpanOptions): ClientSpan;
  /**
   * Submits a feedback report (`feedback/submit`), sent after everything recorded so far so
   * that `includeLogs` picks up the session's latest events. Resolves with the report's id once
   * the daemon has it on disk; it then uploads it with retries, across restarts. Never rejects.
   */
  submitFeedback(params: FeedbackSubmit.Params): Promise<FeedbackResult>;
  /** Sends what is buffered; resolves once it is written to the socket (not exported). Never rejects. */
  flush(): Promise<void>;
  /**
   * Sends what is buffered, then closes; resolves once it is written to the socket. When no
   * daemon is up yet, or none answers within `closeTimeoutMs`, the records are handed over as a
   * file in the socket's folder, which the daemon ingests when it runs. Called before the client
   * made its first connection (in the turn it was created, as a short CLI does) while a daemon
   * runs, it hands everything over as a file at once and makes no connection: the daemon takes
   * the file within milliseconds. Never rejects.
   */
  close(): Promise<void>;
  stats(): ClientStats;
}

/** The resource as given when the protocol takes it, copied; `undefined` (reported) when it does not. */
function checkedResource(resource: ResourceAttributes | undefined, report: (kind: string, message: string) => void): ResourceAttributes | undefined {
  if (resource === undefined) return undefined;
  const problem = attributesProblem(resource, 'resource', 0, MAX_RESOURCE_ATTRIBUTES, 'the resource', MAX_RESOURCE_ATTRIBUTE_LENGTH);
  if (typeof problem === 'number') return { ...resource };
  report('invalid_resource', `codexd: ${problem.message}; sending without a resource (the daemon uses clientInfo)`);
  return undefined;
}

/**
 * Creates a client; it connects on the host's next turn, in the background. The socket is
 * unref'd: an idle client never keeps its host alive.
 */
export function createClient(options: ClientOptions): TelemetryClient {
  const { socketPath, runtimeDir } = socketLocation(options.socketPath);
  const maxBufferedRecords = options.maxBufferedRecords ?? DEFAULT_MAX_BUFFERED_RECORDS;
  const maxBufferedEvents = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
  const maxBufferedSpans = options.maxBufferedSpans ?? DEFAULT_MAX_BUFFERED_SPANS;
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  const spawnEnabled = options.spawn ?? process.env.CODEXD_NO_SPAWN !== '1';
  const records = createRecordBuffer(maxBufferedRecords);
  const events = createEventBuffer(maxBufferedEvents, MAX_BUFFERED_EVENT_CHARS);
  const spans = createSpanBuffer(maxBufferedSpans, MAX_BUFFERED_SPAN_CHARS);
  /** Sessions started and not ended: announced again on every (re)connect. */
  const sessions = new Map<string, SessionStart.Params>();
  const reported = new Set<string>();

  function report(kind: string, message: string): void {
    if (reported.has(kind)) return;
    reported.add(kind);
    try {
      options.onError?.(message);
    } catch {
      // A host's logger must not break recording.
    }
  }

  const drops = createDropLedger(report);
  /** Set once the client queued a session's end or a request: what a hand-off file cannot carry. */
  let controlSent = false;
  const framer = createBatchFramer(drops);
  const resource = checkedResource(options.resource, report);
  const link = createDaemonLink({
    socketPath,
    clientInfo: options.clientInfo,
    resource,
    spawner: spawnEnabled ? createDaemonSpawner({ socketPath, runtimeDir, report, ...(options.daemonCommand === undefined ? {} : { command: options.daemonCommand }) }) : null,
    report,
    // A new connection may be a new daemon: it must know the sessions before their records.
    onConnect: () => queue.pipeline([...sessions.values()].map((params) => ({ method: SessionStart.method, params }))),
    onSettled: (taken) => queue.settlePipelined(taken),
    onReady: (_socket, limits) => queue.ready(limits),
    // A frame in flight on a dead connection is lost with it; the daemon counted what it read.
    onLost: () => queue.lost(),
    onMessage: (message) => requests.settle(message),
  });
  const queue = createFrameQueue({ records, events, spans, drops, framer, link });
  const requests = createDaemonRequests({ framer, queue, closed: () => exit.closing });
  const intake = createIntake({ records, events, queue, drops, maxBufferedRecords, maxBufferedEvents });

  const spanRecorder = createSpanRecorder({
    drop: (reason, count, message) => drops.drop('spans', reason, count, message),
    // The caller chose not to sample: nothing to report, and `not_sampled` is no client reason the daemon takes.
    notSampled: () => drops.countOnly('spans', 'not_sampled', 1),
    ignore: (reason, message) => drops.drop('spanParts', reason, 1, message),
    isLive: (sessionId) => sessions.has(sessionId),
    finish(span, weight) {
      if (spans.add(span, weight)) queue.added('spans');
      else drops.drop('spans', 'client_buffer_full', 1, `codexd: client span buffer full (${maxBufferedSpans} spans); dropping newly ended spans until the daemon catches up`);
    },
  });

  const exit = createExitPath({
    clientInfo: options.clientInfo,
    resource,
    runtimeDir,
    closeTimeoutMs,
    link,
    queue,
    drops,
    sessions,
    abandonOpenSpans() {
      const open = spanRecorder.close();
      if (open > 0) drops.drop('spans', 'client_span_open', open, `codexd: ${open} spans were still open when the client closed; they are not sent (their end is unknown)`);
    },
    onlyTelemetry: () => !controlSent,
  });

  function session(sessionOptions: SessionOptions): SessionHandle {
    return createSessionHandle(sessionOptions, {
      record: intake.record,
      timer: intake.timer,
      sendEvent: intake.sendEvent,
      drop: (reason, count, message) => drops.drop('records', reason, count, message),
      dropEvents: (reason, count, message) => drops.drop('events', reason, count, message),
      report,
      startSpan: (name, spanOptions, sessionId) => spanRecorder.start(name, spanOptions, sessionId),
      refuseSpan: (reason, message, spanOptions) => spanRecorder.refuse(reason, message, spanOptions),
      start(params) {
        sessions.set(params.sessionId, params);
        queue.enqueue(framer.control(SessionStart.method, params));
      },
      end(sessionId) {
        controlSent = true;
        sessions.delete(sessionId);
        // The end goes after everything recorded so far, so none of it meets an ended session.
        queue.queueEverything();
        queue.enqueue(framer.control(SessionEnd.method, { sessionId }));
      },
      async summary(sessionId) {
        controlSent = true;
        // Asked after everything queued so far, so the answer counts it.
        const answer = await requests.request(SessionSummary.method, { sessionId }, DEFAULT_REQUEST_TIMEOUT_MS);
        return (answer?.result as SessionSummary.Result | undefined) ?? null;
      },
    });
  }

  const { record } = intake;
  return {
    session,
    counter(name, value = 1, tags) {
      record('counter', name, value, tags);
    },
    histogram(name, value, tags) {
      record('histogram', name, value, tags);
    },
    gauge(name, value, tags) {
      record('gauge', name, value, tags);
    },
    startTimer(name, tags) {
      return intake.timer(name, tags, undefined);
    },
    startSpan(name, spanOptions) {
      return spanRecorder.start(name, spanOptions, undefined);
    },
    submitFeedback(params) {
      controlSent = true;
      return requests.submitFeedback(params);
    },
    async flush() {
      await queue.sendAll(closeTimeoutMs, false);
    },
    close: () => exit.close(),
    stats() {
      return {
        connected: link.socket !== null,
        buffered: queue.waiting('records'),
        sent: queue.sent('records'),
        handedOff: exit.handedOff('records'),
        dropped: drops.totals('records'),
        events: { buffered: queue.waiting('events'), sent: queue.sent('events'), dropped: drops.totals('events'), handedOff: exit.handedOff('events') },
        spans: {
          buffered: queue.waiting('spans'),
          sent: queue.sent('spans'),
          dropped: drops.totals('spans'),
          handedOff: exit.handedOff('spans'),
          open: spanRecorder.open,
          ignored: drops.totals('spanParts'),
        },
      };
    },
  };
}
