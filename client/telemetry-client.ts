/**
 * The thin client a host embeds. Recording appends to a bounded buffer and schedules one
 * write; a batch goes to the daemon as a single `metric/record` notification per event-loop
 * turn (or as soon as a batch is full). The host never waits on the daemon and never sees an
 * exception from this module: problems are counted, and reported once through `onError`.
 *
 *   counter() --> RecordBuffer --(setImmediate)--> metric/record notification --> socket
 *                  (bounded, counters summed)         (split to fit the limits)   ^
 *   session.event() --> EventBuffer ---------------> session/event notification --+
 *                        (bounded, long values cut)                               |
 *   startSpan() ... span.end() --> SpanBuffer -----> trace/span notification -----+
 *    (span.ts: ids, checks)      (bounded, ended spans only)                      |
 *   session start/end, summary() --> frame queue, in order with the batches ------+
 *
 * Session handles are session-handle.ts; spans are span.ts, their queue span-buffer.ts.
 * The connection itself (initialize, reconnecting, starting the daemon when nobody answers,
 * replacing an older one) is daemon-link.ts; records keep buffering meanwhile. When the host
 * exits, what is still buffered or queued is written synchronously, or handed over as a file
 * the daemon ingests (exit-handoff.ts).
 *
 * Node built-ins are reached through `process.getBuiltinModule()` where they are used, here and
 * in the modules below: a host's start-up is the hot path, and an ES import of a built-in costs
 * milliseconds (measured in bench/).
 */
import {
  attributesProblem,
  type ClientInfo,
  checkFeedbackParams,
  encodeFrame,
  ErrorCodes,
  FeedbackSubmit,
  type HostSpan,
  MAX_BATCH_EVENTS,
  MAX_BATCH_RECORDS,
  MAX_BATCH_SPANS,
  MAX_MESSAGE_BYTES,
  MAX_RESOURCE_ATTRIBUTE_LENGTH,
  MAX_RESOURCE_ATTRIBUTES,
  type MetricKind,
  type MetricRecord,
  MetricRecordBatch,
  measurementsIn,
  batchEnd,
  metricNameProblem,
  type RejectionCode,
  type ResourceAttributes,
  resolveSocketPath,
  runtimeFolder,
  SessionEnd,
  type SessionEvent,
  SessionEventBatch,
  sessionEventProblem,
  SessionStart,
  SessionSummary,
  tagsProblem,
  TraceSpanBatch,
} from '../protocol/index.js';
import { createDaemonLink, FIRST_CLIENT_REQUEST_ID } from './daemon-link.js';
import { createEventBuffer, withValuesCut } from './event-buffer.js';
import { createSessionHandle, type EventFields, type SessionHandle, type SessionOptions, type Tags, type Timer } from './session-handle.js';

export type { EventFields, Phase, SessionHandle, SessionOptions, Tags, Timer } from './session-handle.js';
import { createDaemonSpawner } from './daemon-spawner.js';
import { EXIT_WRITE_DEADLINE_MS, type Handoff, socketInternals, writeAllSync, writeHandoffFile } from './exit-handoff.js';
import { createRecordBuffer } from './record-buffer.js';
import { type ClientSpan, createSpanRecorder, type SpanOptions } from './span.js';
import { createSpanBuffer } from './span-buffer.js';

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
/** How long `submitFeedback()` waits: the daemon answers only once the report is synced to disk. */
export const FEEDBACK_TIMEOUT_MS = 10_000;

/** The daemon's answer to a request of this client. */
interface Answer {
  readonly result?: unknown;
  readonly error?: { readonly code: number; readonly message: string };
}

/** What `submitFeedback()` came to: the report's id once it is on the daemon's disk, or why not. */
export type FeedbackResult =
  | { readonly ok: true; readonly feedbackId: string }
  /** `code`: the JSON-RPC error code, or null when the daemon did not answer. */
  | { readonly ok: false; readonly code: number | null; readonly message: string };

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
   * file in the socket's folder, which the daemon ingests when it runs. Never rejects.
   */
  close(): Promise<void>;
  stats(): ClientStats;
}

/** What a frame carries: a batch of one kind of telemetry, or a control message (session/start, session/end, a request). */
type FrameKind = 'records' | 'events' | 'spans' | 'control';

/** An encoded message and what it carries: a `metric/record`, `session/event` or `trace/span` batch, or a control message. */
interface Frame {
  readonly frame: Buffer;
  readonly kind: FrameKind;
  readonly records: MetricRecord[];
  readonly events: SessionEvent[];
  readonly spans: HostSpan[];
  /** The drop counts it reports (of its kind of telemetry), to put back if the frame is never sent. */
  readonly dropped: Readonly<Record<string, number>> | undefined;
  /** Measurements in `records` (each histogram value counts). */
  readonly measurements: number;
}

const BATCH_METHODS = { records: MetricRecordBatch.method, events: SessionEventBatch.method, spans: TraceSpanBatch.method } as const;

/** The resource as given when the protocol takes it, copied; `undefined` (reported) when it does not. */
function checkedResource(resource: ResourceAttributes | undefined, report: (kind: string, message: string) => void): ResourceAttributes | undefined {
  if (resource === undefined) return undefined;
  const problem = attributesProblem(resource, 'resource', 0, MAX_RESOURCE_ATTRIBUTES, 'the resource', MAX_RESOURCE_ATTRIBUTE_LENGTH);
  if (typeof problem === 'number') return { ...resource };
  report('invalid_resource', `codexd: ${problem.message}; sending without a resource (the daemon uses clientInfo)`);
  return undefined;
}

/** `os.tmpdir()` on POSIX, without loading node:os (2 ms of a host's start-up). */
function posixTmpdir(): string {
  const dir = process.env.TMPDIR || process.env.TMP || process.env.TEMP || '/tmp';
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}

/** The user name and temp folder the socket path rules need, without node:os on POSIX. */
function platformInfo(): { tmpdir: string; username: string } {
  if (process.platform !== 'win32') return { tmpdir: posixTmpdir(), username: process.env.USER ?? process.env.LOGNAME ?? 'user' };
  // Only Windows needs the user's name (for the pipe), and only there is node:os loaded.
  const os = process.getBuiltinModule('node:os');
  let username = process.env.USERNAME ?? 'user';
  try {
    username = os.userInfo().username;
  } catch {
    // No account entry for this user: the pipe gets the name from the environment.
  }
  return { tmpdir: os.tmpdir(), username };
}

/**
 * Exit hooks of the live clients, behind one `exit` listener: a host that creates many clients
 * (one per thread, say) must not pile listeners on `process` and get Node's warning for it.
 */
const exitHooks = new Set<() => void>();
function runExitHooks(): void {
  for (const hook of exitHooks) hook();
}

/**
 * Creates a client and starts connecting at once, in the background. The socket is unref'd:
 * an idle client never keeps its host alive.
 */
export function createClient(options: ClientOptions): TelemetryClient {
  const platform = platformInfo();
  const socketPath =
    options.socketPath ??
    resolveSocketPath({ platform: process.platform, env: process.env, uid: typeof process.getuid === 'function' ? process.getuid() : null, ...platform });
  const runtimeDir = runtimeFolder(socketPath, platform.tmpdir, platform.username);
  const buffer = createRecordBuffer(options.maxBufferedRecords ?? DEFAULT_MAX_BUFFERED_RECORDS);
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  const spawnEnabled = options.spawn ?? process.env.CODEXD_NO_SPAWN !== '1';
  const events = createEventBuffer(options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS, MAX_BUFFERED_EVENT_CHARS);
  const dropped = new Map<string, number>();
  /** Drops not yet reported to the daemon. */
  const unreported = new Map<string, number>();
  const eventsDropped = new Map<string, number>();
  const unreportedEvents = new Map<string, number>();
  let eventsSent = 0;
  let eventsHandedOff = 0;
  let maxEvents = MAX_BATCH_EVENTS;
  const spans = createSpanBuffer(options.maxBufferedSpans ?? DEFAULT_MAX_BUFFERED_SPANS, MAX_BUFFERED_SPAN_CHARS);
  const spansDropped = new Map<string, number>();
  const unreportedSpans = new Map<string, number>();
  const spansIgnored = new Map<string, number>();
  let spansSent = 0;
  let spansHandedOff = 0;
  let maxSpans = MAX_BATCH_SPANS;
  /** False on a connection to a daemon of a release without `trace/span` (no `maxBatchSpans` in its limits). */
  let daemonTakesSpans = true;
  /** Requests sent (or queued) and not answered yet: id -> resolver. */
  const requests = new Map<number, (answer: Answer) => void>();
  let nextRequestId = FIRST_CLIENT_REQUEST_ID;
  const reported = new Set<string>();
  /** The frame handed to the socket whose write has not completed (at most one): what an exit must still finish. */
  let inFlight: Frame[] = [];
  /** Frames encoded from one batch that split in several, waiting for their turn. */
  let pendingFrames: Frame[] = [];
  let draining = false;
  /** Woken when a frame's write completes, or its connection is lost. */
  let writeWaiters: (() => void)[] = [];
  let closing = false;
  let sent = 0;
  let handedOff = 0;
  let maxBatch = MAX_BATCH_RECORDS;
  let maxBytes = MAX_MESSAGE_BYTES;
  let scheduled = false;
  let closePromise: Promise<void> | null = null;
  /** Sessions started and not ended: announced again on every (re)connect. */
  const sessions = new Map<string, SessionStart.Params>();

  function report(kind: string, message: string): void {
    if (reported.has(kind)) return;
    reported.add(kind);
    try {
      options.onError?.(message);
    } catch {
      // A host's logger must not break recording.
    }
  }

  function drop(reason: string, count: number, message: string): void {
    dropped.set(reason, (dropped.get(reason) ?? 0) + count);
    unreported.set(reason, (unreported.get(reason) ?? 0) + count);
    report(reason, message);
  }

  function dropEvents(reason: string, count: number, message: string): void {
    eventsDropped.set(reason, (eventsDropped.get(reason) ?? 0) + count);
    unreportedEvents.set(reason, (unreportedEvents.get(reason) ?? 0) + count);
    report(`event_${reason}`, message);
  }

  function dropSpans(reason: string, count: number, message: string): void {
    spansDropped.set(reason, (spansDropped.get(reason) ?? 0) + count);
    unreportedSpans.set(reason, (unreportedSpans.get(reason) ?? 0) + count);
    report(`span_${reason}`, message);
  }

  const spanRecorder = createSpanRecorder({
    drop: dropSpans,
    notSampled() {
      // The caller chose not to sample: nothing to report, and `not_sampled` is no client reason the daemon takes.
      spansDropped.set('not_sampled', (spansDropped.get('not_sampled') ?? 0) + 1);
    },
    ignore(reason, message) {
      spansIgnored.set(reason, (spansIgnored.get(reason) ?? 0) + 1);
      report(`span_part_${reason}`, message);
    },
    isLive: (sessionId) => sessions.has(sessionId),
    finish(span, weight) {
      if (!spans.add(span, weight)) {
        dropSpans('client_buffer_full', 1, `codexd: client span buffer full (${options.maxBufferedSpans ?? DEFAULT_MAX_BUFFERED_SPANS} spans); dropping newly ended spans until the daemon catches up`);
        return;
      }
      if (link.socket === null) return;
      if (spans.size >= maxSpans) drain();
      else schedule();
    },
  });

  /** Counts the spans still open as never to be sent: at exit, or at `close()`. */
  function abandonOpenSpans(): void {
    const open = spanRecorder.close();
    if (open > 0) dropSpans('client_span_open', open, `codexd: ${open} spans were still open when the client closed; they are not sent (their end is unknown)`);
  }

  function wakeWriters(): void {
    const waiters = writeWaiters;
    writeWaiters = [];
    for (const wake of waiters) wake();
  }

  const resource = checkedResource(options.resource, report);
  const link = createDaemonLink({
    socketPath,
    clientInfo: options.clientInfo,
    resource,
    spawner: spawnEnabled ? createDaemonSpawner({ socketPath, runtimeDir, report, ...(options.daemonCommand === undefined ? {} : { command: options.daemonCommand }) }) : null,
    report,
    onReady(_socket, limits) {
      maxBatch = Math.min(MAX_BATCH_RECORDS, limits.maxBatchRecords);
      maxBytes = Math.min(MAX_MESSAGE_BYTES, limits.maxMessageBytes);
      maxEvents = Math.min(MAX_BATCH_EVENTS, limits.maxBatchEvents ?? MAX_BATCH_EVENTS);
      daemonTakesSpans = typeof limits.maxBatchSpans === 'number';
      maxSpans = Math.min(MAX_BATCH_SPANS, limits.maxBatchSpans ?? MAX_BATCH_SPANS);
      // A new connection may be a new daemon: it must know the sessions before their records.
      pendingFrames.unshift(...[...sessions.values()].map((params) => control(SessionStart.method, params)));
      drain();
    },
    onLost() {
      // A frame in flight on a dead connection is lost with it; the daemon counted what it read.
      inFlight = [];
      wakeWriters();
    },
    onMessage(message) {
      const resolve = requests.get(message.id as number);
      if (resolve === undefined) return;
      requests.delete(message.id as number);
      resolve(message as Answer);
    },
  });

  /**
   * A message that carries no records (session/start, session/end, a request), sent in turn
   * with the batches; with an `id`, a request.
   */
  function control(method: string, params: object, id?: number): Frame {
    const message = id === undefined ? { jsonrpc: '2.0', method, params } : { jsonrpc: '2.0', id, method, params };
    return { frame: encodeFrame(message), kind: 'control', records: [], events: [], spans: [], dropped: undefined, measurements: 0 };
  }

  function schedule(): void {
    if (link.socket === null || scheduled) return;
    scheduled = true;
    setImmediate(tick);
  }

  /** The drop counts of a kind of telemetry not yet reported to the daemon. */
  function unreportedOf(kind: FrameKind): Map<string, number> {
    return kind === 'events' ? unreportedEvents : kind === 'spans' ? unreportedSpans : unreported;
  }

  /** Encodes records as `metric/record` notifications, split to fit the daemon's message limit. */
  function frames(records: MetricRecord[], out: Frame[]): void {
    batchFrames('records', records, out);
  }

  /** Encodes events as `session/event` notifications, split to fit the daemon's message limit. */
  function eventFrames(batch: SessionEvent[], out: Frame[]): void {
    batchFrames('events', batch, out);
  }

  /** Encodes spans as `trace/span` notifications, split to fit the daemon's message limit. */
  function spanFrames(batch: HostSpan[], out: Frame[]): void {
    batchFrames('spans', batch, out);
  }

  /**
   * Encodes one batch with the drop counts not yet reported; a batch too big for one message
   * (long tags or values) is sent in halves, and a single item that alone is too big is dropped
   * and counted, since the daemon would close the connection on it.
   */
  function batchFrames(kind: 'records' | 'events' | 'spans', items: MetricRecord[] | SessionEvent[] | HostSpan[], out: Frame[]): void {
    const counts = unreportedOf(kind);
    const params: { records?: unknown[]; events?: unknown[]; spans?: unknown[]; dropped?: Record<string, number> } = { [kind]: items };
    if (counts.size > 0) {
      params.dropped = Object.fromEntries(counts);
      counts.clear();
    }
    const frame = encodeFrame({ jsonrpc: '2.0', method: BATCH_METHODS[kind], params });
    if (frame.byteLength > maxBytes) {
      for (const [reason, count] of Object.entries(params.dropped ?? {})) counts.set(reason, (counts.get(reason) ?? 0) + count);
      const half = items.length >> 1;
      if (half > 0) {
        batchFrames(kind, items.slice(0, half) as typeof items, out);
        batchFrames(kind, items.slice(half) as typeof items, out);
      } else {
        const noun = kind === 'records' ? 'record' : kind === 'events' ? 'event' : 'span';
        const message = `codexd: one ${noun} is larger than the daemon's message limit of ${maxBytes} bytes; dropped`;
        if (kind === 'events') dropEvents('client_undeliverable', 1, message);
        else if (kind === 'spans') dropSpans('client_undeliverable', 1, message);
        else drop('client_undeliverable', measurementsIn(items as MetricRecord[]), message);
      }
      return;
    }
    const none: never[] = [];
    out.push({
      frame,
      kind,
      records: kind === 'records' ? (items as MetricRecord[]) : none,
      events: kind === 'events' ? (items as SessionEvent[]) : none,
      spans: kind === 'spans' ? (items as HostSpan[]) : none,
      dropped: params.dropped,
      measurements: kind === 'records' ? measurementsIn(items as MetricRecord[]) : 0,
    });
  }

  /** Frames all queued events, in batches the daemon accepts. */
  function frameAllEvents(out: Frame[]): void {
    while (events.size > 0) eventFrames(events.take(maxEvents), out);
  }

  /**
   * Frames all queued spans, in batches the daemon accepts; with none queued, span drops not yet
   * reported (spans open at exit) still go, in a batch of no spans.
   */
  function frameAllSpans(out: Frame[]): void {
    if (spans.size === 0 && unreportedSpans.size > 0) spanFrames([], out);
    while (spans.size > 0) spanFrames(spans.take(maxSpans), out);
  }

  /** Ended spans a daemon without `trace/span` would ignore: counted rather than lost unseen. */
  function dropSpansForOlderDaemon(): void {
    const count = spans.take(spans.size).length;
    dropSpans('client_undeliverable', count, `codexd: the daemon is of a release that does not take spans; ${count} spans were dropped`);
  }

  /**
   * Moves buffered records into the socket, one frame at a time: the next frame is written only
   * once the previous one has been taken by the kernel. A frame the kernel takes at once
   * completes synchronously, so this costs nothing while the daemon keeps up; when it does
   * not, the records wait in the bounded buffer rather than in an unbounded socket queue, and
   * an exit knows exactly which bytes of the one frame in flight are still unsent.
   */
  function drain(): void {
    if (draining) return;
    draining = true;
    try {
      let socket = link.socket;
      while (socket !== null && (buffer.size > 0 || events.size > 0 || spans.size > 0 || pendingFrames.length > 0) && inFlight.length === 0) {
        if (pendingFrames.length === 0) {
          if (buffer.size > 0) frames(buffer.take(maxBatch), pendingFrames);
          else if (events.size > 0) eventFrames(events.take(maxEvents), pendingFrames);
          else if (daemonTakesSpans) spanFrames(spans.take(maxSpans), pendingFrames);
          else dropSpansForOlderDaemon();
          if (pendingFrames.length === 0) continue;
        }
        const entry = pendingFrames.shift() as Frame;
        inFlight.push(entry);
        sent += entry.measurements;
        eventsSent += entry.events.length;
        spansSent += entry.spans.length;
        const current = socket;
        current.write(entry.frame, () => {
          inFlight = inFlight.filter((candidate) => candidate !== entry);
          if (link.socket === current) drain();
          wakeWriters();
        });
        socket = link.socket;
      }
    } finally {
      draining = false;
    }
  }

  function tick(): void {
    scheduled = false;
    drain();
  }

  function record(kind: MetricKind, name: string, value: number, tags: Tags | undefined, sessionId?: string): void {
    // The hot path: a counter increment or histogram value for a name and tags already buffered.
    if (typeof value === 'number' && Number.isFinite(value) && (kind === 'histogram' || (kind === 'counter' && value >= 0)) && buffer.addToExisting(kind, name, value, tags, sessionId)) return;
    // metricNameProblem remembers names it found valid, so this is a Set lookup after the first call.
    const nameProblem = metricNameProblem(name);
    if (nameProblem !== null) {
      drop('invalid_name', 1, `codexd: metric name ${JSON.stringify(String(name)).slice(0, 80)} ${nameProblem}; dropping such records`);
      return;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || (kind === 'counter' && value < 0)) {
      const code: RejectionCode = kind === 'counter' && value < 0 ? 'negative_counter' : 'invalid_value';
      drop(code, 1, `codexd: ${name}: value ${String(value)} is not valid for a ${kind}; dropping such records`);
      return;
    }
    if (tags !== undefined) {
      const problem = tagsProblem(tags);
      if (problem !== null) {
        drop(problem.code, 1, `codexd: ${name}: ${problem.field} ${problem.message}; dropping such records`);
        return;
      }
    }
    if (!buffer.add(kind, name, value, tags, sessionId)) {
      drop('client_buffer_full', 1, `codexd: client buffer full (${options.maxBufferedRecords ?? DEFAULT_MAX_BUFFERED_RECORDS} records); dropping new records until the daemon catches up`);
      return;
    }
    if (link.socket === null) return;
    if (buffer.size >= maxBatch) drain();
    else schedule();
  }

  function timer(name: string, tags: Tags | undefined, sessionId: string | undefined): Timer {
    const started = performance.now();
    let stopped = false;
    return {
      stop(extraTags) {
        // Codex's Timer records again when dropped after an explicit stop; this one records once.
        if (stopped) return undefined;
        stopped = true;
        const elapsed = performance.now() - started;
        record('histogram', name, elapsed, extraTags === undefined ? tags : { ...tags, ...extraTags }, sessionId);
        return elapsed;
      },
    };
  }

  function session(sessionOptions: SessionOptions): SessionHandle {
    return createSessionHandle(sessionOptions, {
      record,
      timer,
      sendEvent,
      drop,
      dropEvents,
      report,
      startSpan: (name, spanOptions, sessionId) => spanRecorder.start(name, spanOptions, sessionId),
      refuseSpan: (reason, message, spanOptions) => spanRecorder.refuse(reason, message, spanOptions),
      start(params) {
        sessions.set(params.sessionId, params);
        pendingFrames.push(control(SessionStart.method, params));
        schedule();
      },
      end(sessionId) {
        sessions.delete(sessionId);
        // The end goes after everything recorded so far, so none of it meets an ended session.
        queueEverything();
        pendingFrames.push(control(SessionEnd.method, { sessionId }));
        schedule();
      },
      async summary(sessionId) {
        // Asked after everything queued so far, so the answer counts it.
        const answer = await request(SessionSummary.method, { sessionId }, DEFAULT_REQUEST_TIMEOUT_MS);
        return (answer?.result as SessionSummary.Result | undefined) ?? null;
      },
    });
  }

  /** Checks and queues one event; problems are dropped, counted and reported once per kind. */
  function sendEvent(sessionId: string, name: string, fields: EventFields | undefined): void {
    const raw: SessionEvent = { ...fields, sessionId, name, time: fields?.time ?? Date.now() };
    const event = withValuesCut(raw);
    const problem = sessionEventProblem(event, 0);
    if (problem !== null) {
      dropEvents(problem.code, 1, `codexd: event ${JSON.stringify(String(name)).slice(0, 80)}: ${problem.message.replace(/^events\[0\]\./, '')}; dropping such events`);
      return;
    }
    if (!events.add(event)) {
      dropEvents('client_buffer_full', 1, `codexd: client event buffer full (${options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS} events); dropping new events until the daemon catches up`);
      return;
    }
    if (link.socket === null) return;
    if (events.size >= maxEvents) drain();
    else schedule();
  }

  /** Moves every buffered record, event and span into the frame queue, behind what is there. */
  function queueEverything(): void {
    const { records, events: queued, spans: ended } = takeUnsent();
    for (let start = 0; start < records.length; ) start = frameRun(records, start, pendingFrames);
    for (let start = 0; start < queued.length; start += maxEvents) eventFrames(queued.slice(start, start + maxEvents), pendingFrames);
    for (let start = 0; start < ended.length; start += maxSpans) spanFrames(ended.slice(start, start + maxSpans), pendingFrames);
  }

  /** Sends a request in turn with the batches; resolves with its result, or null after the timeout. Never rejects. */
  /**
   * Sends a request in turn with the batches, behind everything queued so far; resolves with
   * the daemon's answer, or null when none came within `timeoutMs` or the request could not be
   * sent (larger than the daemon's message limit, or the client is closed). Never rejects.
   */
  function request(method: string, params: object, timeoutMs: number): Promise<Answer | null> {
    if (closing) return Promise.resolve(null);
    const id = nextRequestId++;
    const frame = control(method, params, id);
    // The daemon closes a connection on a message over its limit: such a request is not sent.
    if (frame.frame.byteLength > maxBytes) return Promise.resolve({ error: { code: ErrorCodes.MessageTooLarge, message: `${method}: the request of ${frame.frame.byteLength} bytes exceeds the daemon's message limit of ${maxBytes} bytes` } });
    queueEverything();
    return new Promise((resolve) => {
      // Not unref'd: a host awaiting the answer is kept alive until it comes, or the timeout.
      const timer = setTimeout(() => {
        requests.delete(id);
        resolve(null);
      }, timeoutMs);
      requests.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      pendingFrames.push(frame);
      schedule();
    });
  }

  async function submitFeedback(params: FeedbackSubmit.Params): Promise<FeedbackResult> {
    const checked = checkFeedbackParams(params);
    if (!checked.ok) return { ok: false, code: ErrorCodes.InvalidParams, message: checked.message };
    const answer = await request(FeedbackSubmit.method, checked.value, FEEDBACK_TIMEOUT_MS);
    if (answer === null) return { ok: false, code: null, message: `feedback/submit: the daemon did not answer within ${FEEDBACK_TIMEOUT_MS} ms; the report may not have been stored` };
    if (answer.error !== undefined) return { ok: false, code: answer.error.code, message: answer.error.message };
    return { ok: true, feedbackId: (answer.result as FeedbackSubmit.Result).feedbackId };
  }

  /**
   * Resolves when the frame in flight has been written (its completion callback runs on a
   * later tick even when the kernel took it at once), or at once when none is.
   */
  function written(): Promise<void> {
    if (inFlight.length === 0 || link.socket === null) return Promise.resolve();
    return new Promise((resolve) => writeWaiters.push(resolve));
  }

  async function sendAll(untilAbsent: boolean): Promise<void> {
    const deadline = Date.now() + closeTimeoutMs;
    while ((buffer.size > 0 || events.size > 0 || spans.size > 0 || pendingFrames.length > 0 || inFlight.length > 0) && Date.now() < deadline) {
      if (!(await link.whenReady(deadline - Date.now(), untilAbsent))) break;
      drain();
      await written();
    }
  }

  /**
   * Frames the run of records from `start` that fits one batch (the daemon's limit counts
   * measurements, not records) into `out`; returns where the next run starts.
   */
  function frameRun(records: MetricRecord[], start: number, out: Frame[]): number {
    const end = batchEnd(records, start, maxBatch);
    frames(records.slice(start, end), out);
    return end;
  }

  /** Puts a frame's drop counts back to be reported again. */
  function unsend(entry: Frame): void {
    if (entry.dropped === undefined) return;
    const into = unreportedOf(entry.kind);
    for (const [reason, count] of Object.entries(entry.dropped)) into.set(reason, (into.get(reason) ?? 0) + count);
  }

  /** Takes everything not yet handed to the socket, as records, events and spans; drop counts go back to be reported. */
  function takeUnsent(): { records: MetricRecord[]; events: SessionEvent[]; spans: HostSpan[] } {
    const records: MetricRecord[] = [];
    const taken: SessionEvent[] = [];
    const ended: HostSpan[] = [];
    const controls: Frame[] = [];
    for (const entry of pendingFrames) {
      // Session frames and requests stay queued, in their order; only batches are taken apart.
      if (entry.kind === 'control') controls.push(entry);
      records.push(...entry.records);
      taken.push(...entry.events);
      ended.push(...entry.spans);
      unsend(entry);
    }
    pendingFrames = controls;
    while (buffer.size > 0) records.push(...buffer.take(maxBatch));
    while (events.size > 0) taken.push(...events.take(maxEvents));
    while (spans.size > 0) ended.push(...spans.take(maxSpans));
    return { records, events: taken, spans: ended };
  }

  /**
   * Hands records, events and spans over as a file for the daemon; counts them as dropped if
   * even that fails. Span drops alone (spans open at exit) are handed over too: the daemon
   * learns of spans that will never come.
   */
  function handOff(records: MetricRecord[], handed: SessionEvent[], ended: HostSpan[]): void {
    if (records.length === 0 && handed.length === 0 && ended.length === 0 && unreportedSpans.size === 0) return;
    const measurements = measurementsIn(records);
    const handoff: Handoff = {
      version: 1,
      clientInfo: options.clientInfo,
      ...(resource === undefined ? {} : { resource }),
      pid: process.pid,
      records,
      ...(handed.length > 0 ? { events: handed } : {}),
      ...(ended.length > 0 ? { spans: ended } : {}),
      // The daemon that ingests this may never have seen these sessions: it registers them first.
      ...(sessions.size > 0 ? { sessions: [...sessions.values()] } : {}),
      ...(unreported.size > 0 ? { dropped: Object.fromEntries(unreported) } : {}),
      ...(unreportedEvents.size > 0 ? { eventsDropped: Object.fromEntries(unreportedEvents) } : {}),
      ...(unreportedSpans.size > 0 ? { spansDropped: Object.fromEntries(unreportedSpans) } : {}),
    };
    if (writeHandoffFile(runtimeDir, handoff)) {
      unreported.clear();
      unreportedEvents.clear();
      unreportedSpans.clear();
      handedOff += measurements;
      eventsHandedOff += handed.length;
      spansHandedOff += ended.length;
    } else {
      if (measurements > 0) drop('client_undeliverable', measurements, `codexd: ${measurements} measurements could not be delivered or handed over`);
      if (handed.length > 0) dropEvents('client_undeliverable', handed.length, `codexd: ${handed.length} events could not be delivered or handed over`);
      if (ended.length > 0) dropSpans('client_undeliverable', ended.length, `codexd: ${ended.length} spans could not be delivered or handed over`);
    }
  }

  /** Hands over what the frames carry, the drop counts they would have reported included. */
  function handOffFrames(entries: readonly Frame[]): void {
    for (const entry of entries) unsend(entry);
    handOff(
      entries.flatMap((entry) => entry.records),
      entries.flatMap((entry) => entry.events),
      entries.flatMap((entry) => entry.spans),
    );
  }

  /**
   * The host is exiting and no event loop will run again. With the connection up, finish the
   * frame libuv still queues and write the rest with blocking writes; whatever cannot be
   * written within the deadline, or everything when the daemon is not up yet, is handed over.
   */
  function onExit(): void {
    if (closing) return;
    const socket = link.socket;
    // No span ends after this: the open ones are counted, and the count goes with the rest.
    abandonOpenSpans();
    // A host that exits before its first connection attempt even failed still starts the
    // daemon that will ingest its hand-off (a daemon already up just refuses to start twice).
    if (socket === null && (buffer.size > 0 || events.size > 0 || spans.size > 0)) link.startDaemon();
    const deadline = Date.now() + EXIT_WRITE_DEADLINE_MS;
    // Queued frames keep their order (a session's end stays after its records); the buffer follows.
    const pending: Frame[] = pendingFrames;
    pendingFrames = [];
    const rest: MetricRecord[] = [];
    while (buffer.size > 0) rest.push(...buffer.take(maxBatch));
    for (let start = 0; start < rest.length; ) start = frameRun(rest, start, pending);
    frameAllEvents(pending);
    // A daemon of a release without trace/span would ignore them: they are counted instead.
    if (socket === null || daemonTakesSpans) frameAllSpans(pending);
    else dropSpansForOlderDaemon();
    const internals = socket === null ? null : socketInternals(socket);
    if (internals === null) {
      // A frame queued on a connection that cannot be finished is lost with the process.
      handOffFrames(pending);
      return;
    }
    // The last `queuedBytes` of the frame in flight have not reached the kernel: write them.
    const queue = [...inFlight, ...pending];
    let alreadySent = (inFlight[0]?.frame.length ?? 0) - internals.queuedBytes;
    for (let index = 0; index < queue.length; index++) {
      const frame = (queue[index] as Frame).frame;
      if (alreadySent >= frame.length) {
        alreadySent -= frame.length;
        continue;
      }
      const rest = frame.subarray(Math.max(0, alreadySent));
      alreadySent = 0;
      if (writeAllSync(internals.fd, rest, deadline) < rest.length) {
        // A partly written frame is discarded by the daemon when this process's socket closes.
        handOffFrames(queue.slice(index));
        return;
      }
    }
  }
  if (exitHooks.size === 0) process.on('exit', runExitHooks);
  exitHooks.add(onExit);

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
      return timer(name, tags, undefined);
    },
    startSpan(name, spanOptions) {
      return spanRecorder.start(name, spanOptions, undefined);
    },
    submitFeedback,
    async flush() {
      await sendAll(false);
    },
    close() {
      closePromise ??= (async () => {
        // Spans still open are never sent; their count goes with the last span batch.
        abandonOpenSpans();
        if (unreportedSpans.size > 0 && spans.size === 0) spanFrames([], pendingFrames);
        // With a connection up or being made, send and wait for the write. As soon as there
        // is none (the daemon is starting, or cannot be reached), waiting would only delay the
        // host: the records are handed over as a file at once.
        if (link.socket !== null || !link.starting) await sendAll(true);
        closing = true;
        exitHooks.delete(onExit);
        if (exitHooks.size === 0) process.off('exit', runExitHooks);
        // Not delivered within the close timeout (no daemon yet): the daemon gets them later.
        const unsent = takeUnsent();
        handOff(unsent.records, unsent.events, unsent.spans);
        pendingFrames = [];
        link.close();
      })();
      return closePromise;
    },
    stats() {
      const waiting = pendingFrames.reduce((total, entry) => total + entry.measurements, 0);
      const eventsWaiting = pendingFrames.reduce((total, entry) => total + entry.events.length, 0);
      const spansWaiting = pendingFrames.reduce((total, entry) => total + entry.spans.length, 0);
      return {
        connected: link.socket !== null,
        buffered: buffer.size + waiting,
        sent,
        handedOff,
        dropped: Object.fromEntries(dropped),
        events: { buffered: events.size + eventsWaiting, sent: eventsSent, dropped: Object.fromEntries(eventsDropped), handedOff: eventsHandedOff },
        spans: {
          buffered: spans.size + spansWaiting,
          sent: spansSent,
          dropped: Object.fromEntries(spansDropped),
          handedOff: spansHandedOff,
          open: spanRecorder.open,
          ignored: Object.fromEntries(spansIgnored),
        },
      };
    },
  };
}
