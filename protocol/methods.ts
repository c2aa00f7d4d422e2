/**
 * Method names and the shapes of their params and results. Each method is one namespace holding
 * its `method` string and its types; the transport (vscode-jsonrpc in the daemon, the thin
 * framing in the client) is chosen by each side.
 */
import type { ClientDropReason, RejectionCode } from './errors.js';

export type MetricKind = 'counter' | 'histogram' | 'gauge';

/**
 * One measurement as a client sends it, or, for a histogram, several measurements with the same
 * name and tags (`values`): repeated observations cost a number each on the wire instead of an
 * object each. A record has exactly one of `value` and `values`.
 */
export interface MetricRecord {
  readonly name: string;
  readonly kind: MetricKind;
  readonly value?: number;
  /** Histograms only: the observations, in order. Each counts as one measurement against the limits. */
  readonly values?: readonly number[];
  readonly tags?: Readonly<Record<string, string>>;
  readonly sessionId?: string;
  /** Milliseconds since the Unix epoch when the client took the measurement. */
  readonly time?: number;
}

export interface ClientInfo {
  readonly name: string;
  readonly version: string;
}

export interface Limits {
  readonly maxMessageBytes: number;
  /** Most measurements in one batch: a record counts once, each element of a `values` array once. */
  readonly maxBatchRecords: number;
  /** Most events in one `session/event` batch. */
  readonly maxBatchEvents: number;
  /** Most spans in one `trace/span` batch. */
  readonly maxBatchSpans: number;
}

/**
 * A host's OpenTelemetry resource attributes (`service.name`, `service.version`, `os`, ...),
 * given once in `initialize`: everything the connection sends is exported under them.
 */
export type ResourceAttributes = Readonly<Record<string, string | number | boolean>>;

export namespace Initialize {
  export const method = 'initialize';
  export interface Params {
    readonly protocolVersion: number;
    readonly clientInfo: ClientInfo;
    /** The client's process id, shown in `daemon/status`. */
    readonly processId?: number;
    /**
     * The host's resource. Without it (or without its `service.name` and `service.version`) the
     * daemon uses `clientInfo.name` and `clientInfo.version`.
     */
    readonly resource?: ResourceAttributes;
  }
  export interface Result {
    readonly protocolVersion: number;
    readonly serverInfo: { readonly name: string; readonly version: string };
    readonly limits: Limits;
  }
}

/** Why one record or event of a batch was refused; the others are taken. */
export interface BatchRejection {
  /** Its position in the batch. */
  readonly index: number;
  readonly code: RejectionCode;
  /** Names the field and the rule, e.g. `records[3].tags.tool: value exceeds 256 characters`. */
  readonly message: string;
}

/** What a batch sent as a request is answered with; a notification gets no answer. */
export interface BatchResult {
  /** Measurements (`metric/record`), events (`session/event`) or spans (`trace/span`) accepted. */
  readonly accepted: number;
  readonly rejected: readonly BatchRejection[];
}

export namespace MetricRecordBatch {
  export const method = 'metric/record';
  export interface Params {
    readonly records: readonly MetricRecord[];
    /**
     * Records the client did not send since its previous batch, by reason: its own bounded
     * buffer overflowed (`client_buffer_full`), or it rejected them before sending.
     */
    readonly dropped?: Readonly<Partial<Record<ClientDropReason | RejectionCode, number>>>;
  }
  export type Rejection = BatchRejection;
  /** `accepted` counts measurements: a `values` record counts its values. */
  export type Result = BatchResult;
}

/** A value of an event attribute. */
export type AttributeValue = string | number | boolean;
export type EventAttributes = Readonly<Record<string, AttributeValue>>;

/**
 * One session event (Codex's SessionTelemetry events: `codex.tool_result`, `codex.api_request`,
 * ...). The daemon writes a log record with every field and a span with the trace-safe ones.
 */
export interface SessionEvent {
  /** A session started with `session/start`: its context is added to the event. */
  readonly sessionId: string;
  /** The event name; the metric-name rule applies (`codex.tool_result`). */
  readonly name: string;
  /** Milliseconds since the Unix epoch when the event happened (its end, when it has a duration). Default: arrival. */
  readonly time?: number;
  /** Fields for both lanes, unless the catalog marks a field log-only: then it goes to the log alone. */
  readonly attributes?: EventAttributes;
  /** Fields for the log lane only (content: prompt text, tool arguments and output). */
  readonly logOnly?: EventAttributes;
  /** Content-free fields for both lanes. */
  readonly traceSafe?: EventAttributes;
  /** W3C trace context of the operation the event belongs to; the span goes under it. */
  readonly traceparent?: string;
  readonly tracestate?: string;
  /** How long the operation took; the span then covers it, ending at `time`. */
  readonly durationMs?: number;
}

export namespace SessionEventBatch {
  export const method = 'session/event';
  export interface Params {
    readonly events: readonly SessionEvent[];
    /** Events the client did not send since its previous batch, by reason (as in `metric/record`). */
    readonly dropped?: Readonly<Partial<Record<ClientDropReason | RejectionCode, number>>>;
  }
  export type Rejection = BatchRejection;
  export type Result = BatchResult;
}

/** OpenTelemetry's span kinds, as the wire names them. */
export const SPAN_KINDS = ['internal', 'server', 'client', 'producer', 'consumer'] as const;
export type SpanKindName = (typeof SPAN_KINDS)[number];

export const SPAN_STATUS_CODES = ['unset', 'ok', 'error'] as const;
export type SpanStatusCode = (typeof SPAN_STATUS_CODES)[number];

export interface SpanStatus {
  readonly code: SpanStatusCode;
  /** Only with `error`, as OpenTelemetry keeps it. */
  readonly message?: string;
}

/** Something that happened during a span, at one time. */
export interface SpanEventRecord {
  readonly name: string;
  /** Milliseconds since the Unix epoch. */
  readonly time: number;
  readonly attributes?: EventAttributes;
}

/** A link from a span to another span, of this trace or another. */
export interface SpanLink {
  readonly traceId: string;
  readonly spanId: string;
  readonly tracestate?: string;
  /** W3C trace flags of the linked span (0 to 255). */
  readonly flags?: number;
  readonly attributes?: EventAttributes;
}

/**
 * A finished span the host made itself, with its own ids: the daemon exports it under them
 * unchanged, so parent links hold exactly.
 */
export interface HostSpan {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  readonly spanId: string;
  /** The parent's span id (16 hex digits); left out for a root span. */
  readonly parentSpanId?: string;
  /** Any text of 1 to {@link MAX_SPAN_NAME_LENGTH} characters. */
  readonly name: string;
  /** Default `internal`. */
  readonly kind?: SpanKindName;
  /** Milliseconds since the Unix epoch, fractions allowed. */
  readonly startTime: number;
  /** Not before `startTime`. */
  readonly endTime: number;
  /** Default `unset`. */
  readonly status?: SpanStatus;
  readonly attributes?: EventAttributes;
  readonly events?: readonly SpanEventRecord[];
  readonly links?: readonly SpanLink[];
  /** The span's W3C tracestate. */
  readonly tracestate?: string;
  /** W3C trace flags (0 to 255); default 1 (sampled). A span without the sampled bit is not exported. */
  readonly flags?: number;
  /** A session started with `session/start`: its trace-safe context joins the span's attributes. */
  readonly sessionId?: string;
  /**
   * The instrumentation scope the host made the span under (its tracer's name and version);
   * default `codex`, the scope of everything else the daemon exports.
   */
  readonly scope?: { readonly name: string; readonly version?: string };
}

export namespace TraceSpanBatch {
  export const method = 'trace/span';
  export interface Params {
    readonly spans: readonly HostSpan[];
    /** Spans the client did not send since its previous batch, by reason (as in `metric/record`). */
    readonly dropped?: Readonly<Partial<Record<ClientDropReason | RejectionCode, number>>>;
  }
  export type Rejection = BatchRejection;
  /** `accepted` counts spans. */
  export type Result = BatchResult;
}

/** Codex's session context keys (SessionTelemetry). Others are kept too, under the same rules. */
export const SESSION_ATTRIBUTE_KEYS = [
  'conversation.id',
  'model',
  'slug',
  'auth_mode',
  'originator',
  'session_source',
  'service_name',
  'terminal.type',
  'app.version',
  'user.account_id',
  'user.email',
] as const;

/**
 * The session attributes every metric recorded with the session's id is tagged with, as Codex
 * tags session metrics; the daemon adds `client.name` from the recording connection.
 */
export const SESSION_TAG_KEYS = ['auth_mode', 'session_source', 'originator', 'service_name', 'model', 'app.version'] as const;

export namespace SessionStart {
  export const method = 'session/start';
  export interface Params {
    readonly sessionId: string;
    /** Session context under Codex's keys ({@link SESSION_ATTRIBUTE_KEYS}). */
    readonly attributes?: Readonly<Record<string, string>>;
    /** Whether this session allows its prompt text to be logged (the config must allow it too). */
    readonly logUserPrompt?: boolean;
  }
  export interface Result {
    readonly sessionId: string;
    /** The tags the daemon adds to this session's metrics (client.name excepted: it is per connection). */
    readonly tags: Readonly<Record<string, string>>;
  }
}

export namespace SessionEnd {
  export const method = 'session/end';
  export interface Params {
    readonly sessionId: string;
  }
  export interface Result {
    readonly sessionId: string;
  }
}

/** A count and the total of the matching durations. */
export interface CountAndDuration {
  readonly count: number;
  readonly totalDurationMs: number;
}

export namespace SessionSummary {
  export const method = 'session/summary';
  export interface Params {
    readonly sessionId: string;
  }
  /**
   * The runtime summary a TUI shows at the end of a session, computed by the daemon from the
   * session's metrics (Codex's own names: `codex.tool.call`, `codex.api_request`, ...).
   */
  export interface Result {
    readonly sessionId: string;
    readonly toolCalls: CountAndDuration;
    readonly apiCalls: CountAndDuration;
    readonly streamingEvents: CountAndDuration;
    readonly websocketCalls: CountAndDuration;
    readonly websocketEvents: CountAndDuration;
    /** The latest time to first token / first message, or null before one was recorded. */
    readonly lastTtftMs: number | null;
    readonly lastTtfmMs: number | null;
  }
}

export interface ToolStats {
  readonly success: number;
  readonly failure: number;
  /** The last failing status, or null. */
  readonly lastError: string | null;
  readonly lastLatencyMs: number | null;
  readonly totalLatencyMs: number;
}

export namespace ToolsMetrics {
  export const method = 'tools/metrics';
  export type Params = Record<string, never>;
  /** Per tool, across sessions and clients, since the daemon started or the last `tools/reset`. */
  export interface Result {
    readonly tools: Readonly<Record<string, ToolStats>>;
  }
}

export namespace ToolsReset {
  export const method = 'tools/reset';
  export type Params = Record<string, never>;
  export interface Result {
    readonly reset: true;
  }
}

/** The categories of Codex's `/feedback`. */
export const FEEDBACK_CATEGORIES = ['bad_result', 'good_result', 'bug', 'safety_check', 'other'] as const;
export type FeedbackCategory = (typeof FEEDBACK_CATEGORIES)[number];

export interface FeedbackAttachment {
  /** File name shown to whoever reads the report. */
  readonly name: string;
  /** Default `application/octet-stream`. */
  readonly contentType?: string;
  /** The bytes, base64. */
  readonly data: string;
}

export namespace FeedbackSubmit {
  export const method = 'feedback/submit';
  export interface Params {
    readonly category: FeedbackCategory;
    readonly note?: string;
    /** The session the feedback is about: its context goes along, and its recent events when `includeLogs` and no `logs`. */
    readonly sessionId?: string;
    /** Whether logs may leave the machine with the report. Without it, no session content does. */
    readonly includeLogs: boolean;
    /** Logs the client sends itself (only with `includeLogs`). */
    readonly logs?: string;
    readonly attachments?: readonly FeedbackAttachment[];
    readonly tags?: Readonly<Record<string, string>>;
  }
  /** Sent only once the report is on disk (written, synced, renamed, folder synced). */
  export interface Result {
    readonly feedbackId: string;
    readonly status: 'queued';
  }
}

/** Where a report is: waiting (or retrying), delivered, or refused for good. */
export type FeedbackState = 'pending' | 'uploaded' | 'failed';

export interface FeedbackEntry {
  readonly feedbackId: string;
  readonly category: FeedbackCategory;
  readonly createdAt: string;
  readonly state: FeedbackState;
  readonly sessionId: string | null;
  readonly includeLogs: boolean;
  /** Bytes of logs the report carries. */
  readonly logsBytes: number;
  readonly attachments: number;
  readonly note: string | null;
  readonly attempts: number;
  /** When the next upload is due (pending with an uploader), else null. */
  readonly nextAttemptAt: string | null;
  readonly lastError: string | null;
  readonly uploadedAt: string | null;
}

export namespace FeedbackList {
  export const method = 'feedback/list';
  export type Params = Record<string, never>;
  /** Newest first. */
  export interface Result {
    readonly reports: readonly FeedbackEntry[];
  }
}

export namespace FeedbackShow {
  export const method = 'feedback/show';
  export interface Params {
    readonly feedbackId: string;
  }
  export interface Result extends FeedbackEntry {
    readonly tags: Readonly<Record<string, string>>;
    readonly attachmentNames: readonly string[];
    readonly session: Readonly<Record<string, string>>;
  }
}

export namespace FeedbackRetry {
  export const method = 'feedback/retry';
  export interface Params {
    readonly feedbackId: string;
  }
  /** The report is pending again and due now. */
  export interface Result {
    readonly feedbackId: string;
    readonly state: FeedbackState;
  }
}

/** Feedback reports the daemon holds, for `daemon/status`. */
export interface FeedbackCounts {
  readonly pending: number;
  readonly uploaded: number;
  readonly failed: number;
  /** Bytes the spool takes on disk. */
  readonly spoolBytes: number;
  /** `http`, `sentry`, or null when no endpoint is configured (reports wait in the spool). */
  readonly uploader: 'http' | 'sentry' | null;
  /** Where reports go, without credentials; null without an uploader. */
  readonly endpoint: string | null;
}

export interface SessionCounts {
  /** Sessions registered now. */
  readonly active: number;
  readonly started: number;
  readonly ended: number;
  /** Sessions removed after `sessionIdleTimeoutMs` without a record or event. */
  readonly expired: number;
  /** Bytes of lines in the sessions' log rings (ended sessions' included), and what the packed (deflated) ones among them take in memory. */
  readonly logBytes: number;
  readonly logPackedBytes: number;
}

/** Counts of one signal: metric measurements, log records or spans (one per session event). */
export interface SignalCounts {
  /** Records that arrived, valid or not. */
  readonly received: number;
  /** Records handed to the OpenTelemetry pipeline. */
  readonly accepted: number;
  readonly rejected: Readonly<Record<string, number>>;
  readonly rejectedTotal: number;
  /** Accepted records whose export has not finished yet. */
  readonly buffered: number;
  /** Accepted records whose export succeeded. */
  readonly exported: number;
  /**
   * Accepted records that will never be exported: their export failed, export is turned off,
   * or a stop's deadline passed. Each is also counted in `dropped` under its reason.
   */
  readonly failed: number;
  /**
   * Accepted records written to the disk spool because they could not be sent before a stop or
   * did not fit in memory: not lost, a later daemon sends them (see the exporter's `queue`).
   */
  readonly spooled: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly droppedTotal: number;
}

/** What the daemon did to session events on their way to the lanes. */
export interface EventCounts {
  /**
   * Fields the catalog marks log-only that a client put among `attributes` or `traceSafe`:
   * kept off the trace lane all the same, and counted here by field name.
   */
  readonly laneOverrides: Readonly<Record<string, number>>;
  /** Field values replaced by `[REDACTED]` on the log lane, by field name. */
  readonly redacted: Readonly<Record<string, number>>;
  /** Events whose `traceparent` or `tracestate` was malformed: ignored, the event kept. */
  readonly invalidTraceContext: number;
  /** Measurements of the metrics derived from events (`codex.tool.call`, ...), also counted under `signals.metrics`. */
  readonly derivedMeasurements: number;
  /**
   * Accepted events of which a derived metric was not made for want of a field, by
   * `<event name>: no <field>` (`codex.startup_phase: no startup.phase`,
   * `codex.turn_ttft: no durationMs or duration_ms`). At most one count per event.
   */
  readonly derivationsMissed: Readonly<Record<string, number>>;
}

/** What the daemon did to host-made spans (`trace/span`) on their way to the trace lane. */
export interface SpanCounts {
  /** Fields the catalog marks log-only, taken off spans, span events and links: by field name. */
  readonly laneOverrides: Readonly<Record<string, number>>;
  /** Spans that named a session and got its context. */
  readonly withSession: number;
}

export type ExporterState = 'idle' | 'ok' | 'failing' | 'disabled';

export type Signal = 'metrics' | 'logs' | 'traces';

/** Every signal, in the order status and the daemon list them. */
export const SIGNALS: readonly Signal[] = ['metrics', 'logs', 'traces'];

export interface ExporterStatus {
  readonly signal: Signal;
  readonly kind: 'none' | 'file' | 'otlp-grpc' | 'otlp-http';
  /** Where the data goes: a URL or a folder. Never carries credentials. */
  readonly endpoint: string | null;
  readonly state: ExporterState;
  readonly exportsSucceeded: number;
  readonly exportsFailed: number;
  /** ISO-8601 time of the last successful export. */
  readonly lastSuccessAt: string | null;
  readonly lastError: { readonly at: string; readonly message: string } | null;
  /** The export queue in front of a network exporter: what waits, in memory and on disk, and its retries. */
  readonly queue?: QueueStatus;
  /**
   * Spools of this signal that its exporter does not send: batches serialised for another kind
   * of exporter (another wire format, or the local file), left by a reload or an earlier daemon.
   * They are sent once the signal has an exporter of that kind again. Left out when there are none.
   */
  readonly otherSpools?: readonly OtherSpool[];
}

/** A spool folder, `spool/<signal>/<kind>/`, that no exporter of the signal sends now. */
export interface OtherSpool {
  /** `otlp-protobuf`, `otlp-json` or `file` (or a folder name of an older release). */
  readonly kind: string;
  readonly segments: number;
  readonly bytes: number;
}

export interface QueueStatus {
  readonly memoryBatches: number;
  readonly memoryBytes: number;
  readonly spooledSegments: number;
  readonly spooledBytes: number;
  /** Age of the oldest batch waiting in memory, or null. */
  readonly oldestAgeMs: number | null;
  /** Failed attempts in a row (0 while sends succeed). */
  readonly failures: number;
  readonly nextAttemptAt: string | null;
  readonly lastError: { readonly at: string; readonly message: string } | null;
  /**
   * Records sent from the disk spool (spilled by this daemon, counted then as `spooled`, or by
   * an earlier one), and refused for good.
   */
  readonly replayed: { readonly exported: number; readonly dropped: number };
  /** Records this daemon spilled to disk. */
  readonly spooled: number;
}

export interface ClientStatus {
  readonly id: number;
  readonly name: string;
  readonly version: string;
  readonly pid: number | null;
  readonly connectedAt: string;
  /** Metric measurements received on this connection. */
  readonly recordsReceived: number;
  /** Session events received on this connection. */
  readonly eventsReceived: number;
  /** Host-made spans received on this connection. */
  readonly spansReceived: number;
  /** The `service.name` this connection's telemetry is exported under. */
  readonly serviceName: string;
}

/** Hand-off files (PROTOCOL.md section 1.3.1) the daemon took in or refused since it started. */
export interface HandoffCounts {
  readonly filesIngested: number;
  /** Measurements, events and spans of ingested files, valid or not. */
  readonly recordsIngested: number;
  readonly eventsIngested: number;
  readonly spansIngested: number;
  /** The user's own files that did not parse or check, removed without ingesting. */
  readonly filesRejected: number;
  /** Entries not read at all, by reason (`symlink`, `not_regular`, `foreign_owner`, `too_large`, `unreadable`, `folder_unsafe`): set aside, never deleted. */
  readonly refused: Readonly<Record<string, number>>;
}

/** How the running daemon was started. */
export type StartedBy = 'foreground' | 'auto-spawn' | 'systemd' | 'systemd-socket' | 'launchd';

/** The OTLP/HTTP receiver (`[codexd.otlp_receiver]`), for unmodified OpenTelemetry senders: traces and logs. */
export interface OtlpReceiverStatus {
  /** Where the OTLP/HTTP receiver listens (`host:port`), or null when it is off or could not listen (see `error`). */
  readonly http: string | null;
  /** Where the OTLP/gRPC receiver listens, likewise. */
  readonly grpc: string | null;
  /** The file holding the bearer token senders must send, or null when none is required. */
  readonly tokenFile: string | null;
  /** Why a configured receiver is not listening, or null. */
  readonly error: string | null;
  /** OTLP/HTTP export requests answered, by HTTP status (`"200"`, `"401"`, `"429"`, ...). */
  readonly requests: Readonly<Record<string, number>>;
  /** OTLP/gRPC export calls answered, by gRPC status (`"OK"`, `"UNAUTHENTICATED"`, ...). */
  readonly grpcRequests: Readonly<Record<string, number>>;
  /** Spans taken in, by the sender's `service.name`. */
  readonly spansBySender: Readonly<Record<string, number>>;
  /** Spans not taken in, by reason (`invalid_span`, `queue_full`). */
  readonly spansRefused: Readonly<Record<string, number>>;
  /** Log records taken in, by the sender's `service.name`. */
  readonly logsBySender: Readonly<Record<string, number>>;
  /** Log records not taken in, by reason (`invalid_log_record`, `queue_full`). */
  readonly logsRefused: Readonly<Record<string, number>>;
  /** Metric data points taken in to pass on, by the sender's `service.name`. */
  readonly metricPointsBySender: Readonly<Record<string, number>>;
  /** Metric data points not taken in, by reason (`invalid_metric`: a summary, no temporality, buckets that do not match their bounds). */
  readonly metricPointsRefused: Readonly<Record<string, number>>;
  /** Log record attributes redacted (`prompt`, `arguments`, `output`), by name. */
  readonly redacted: Readonly<Record<string, number>>;
}

/**
 * In `daemon/status`: the journal (`journal/<pid>/` in the state folder). `bytes` is what its
 * files hold now; `writes`, `writtenBytes` and `syncs` count its write calls, the bytes they
 * wrote and its `fdatasync` calls since the daemon started (`settled.json` not included).
 */
export interface JournalStatus {
  readonly bytes: number;
  readonly writes: number;
  readonly writtenBytes: number;
  readonly syncs: number;
}

/** Where a write failed: a signal's export spool, the feedback spool, or the file exporter's folder. */
export type DiskConditionPlace = 'export_spool' | 'feedback_spool' | 'file_exporter';

/** A place whose writes fail (a full disk), from its first failure until a write there succeeds. */
export interface DiskCondition {
  readonly place: DiskConditionPlace;
  /** The folder written to. */
  readonly path: string;
  /** The first failure of this run of failures. */
  readonly since: string;
  /** The last failure's error code (`ENOSPC`, `EFBIG`, `EIO`, ...). */
  readonly error: string;
  /** Writes that failed since. */
  readonly failures: number;
  /** What the failures cost: what is dropped, refused or held back. */
  readonly effect: string;
}

/**
 * The daemon's memory limiter (`[codexd] memory_limit_mib`, `memory_spike_limit_mib`). `ok`:
 * everything is read. `soft` (what it holds passed the soft limit): connections that send
 * telemetry are not read until it is back under, so their clients keep it; `hard` (past the
 * hard limit): telemetry that still arrives is refused, requests with -32018 Overloaded, and
 * notifications dropped and counted as `memory_limited`.
 */
export interface MemoryStatus {
  readonly state: 'ok' | 'soft' | 'hard';
  /** Since when the state is what it is. */
  readonly since: string;
  /** At the last reading (at most 250 ms old while telemetry arrives): V8's heap in use plus Buffers. */
  readonly heldBytes: number;
  readonly rssBytes: number;
  readonly softLimitBytes: number;
  readonly hardLimitBytes: number;
  /** Connections not read now because of memory. */
  readonly pausedConnections: number;
  /** Times the daemon went over the soft limit, and over the hard one, since it started. */
  readonly softEntered: number;
  readonly hardEntered: number;
  /**
   * Times the daemon compacted its heap (and trimmed the C allocator, where it can) to give back
   * memory start-up or a load had grown (2 s after start, and 10 s after telemetry stopped), and
   * the resident memory returned, in all.
   */
  readonly released: number;
  readonly releasedBytes: number;
}

export namespace DaemonStatus {
  export const method = 'daemon/status';
  export type Params = Record<string, never>;
  export interface Result {
    readonly serverInfo: { readonly name: string; readonly version: string };
    readonly protocolVersion: number;
    readonly pid: number;
    readonly startedAt: string;
    readonly uptimeMs: number;
    readonly socketPath: string;
    readonly startedBy: StartedBy;
    /** Milliseconds of idleness after which this daemon exits, or null when it never does. */
    readonly idleExitAfterMs: number | null;
    readonly logFile: string | null;
    /**
     * Null while the log file is written. Once a write to it failed (a full disk), when and why,
     * and the log lines dropped since: the daemon runs on without its log until it restarts.
     */
    readonly logFailure: { readonly at: string; readonly error: string; readonly linesDropped: number } | null;
    /**
     * Null while the journal is written; else since when its writes fail and the error code
     * (a full disk). Requests are then answered `NotDurable` (-32017). Cleared by a write that
     * succeeds.
     */
    readonly journalFailure: { readonly at: string; readonly error: string } | null;
    /** The journal's files now, and what it wrote and synced since the daemon started. */
    readonly journal: JournalStatus;
    /** The memory limiter: what the daemon holds against its limits, and whether it reads telemetry. */
    readonly memory: MemoryStatus;
    /** Places other than the journal and the log whose writes fail now; empty while every write succeeds. */
    readonly disk: readonly DiskCondition[];
    /** The OTLP receiver, or null when it is off (the default). */
    readonly otlpReceiver: OtlpReceiverStatus | null;
    /** Per lane: metrics in measurements, logs in log records, traces in spans (one per accepted event, and each host-made span). */
    readonly signals: { readonly metrics: SignalCounts; readonly logs: SignalCounts; readonly traces: SignalCounts };
    readonly events: EventCounts;
    readonly spans: SpanCounts;
    /**
     * Distinct resources the daemon exports under (one per host, and its own). Past 1024, a new
     * host's telemetry goes under the daemon's own resource and is counted in `overflow`.
     */
    readonly resources: { readonly held: number; readonly overflow: number };
    /**
     * Messages refused as a whole, by reason: `parse_error`, `invalid_request`,
     * `unknown_method`, `invalid_params`, `batch_too_large`, `not_initialized`,
     * `already_initialized`, `unsupported_protocol_version`, `message_too_large`,
     * `framing_error`, `unknown_session`, `too_many_sessions`, `unknown_feedback`,
     * `feedback_spool_full`, `feedback_disabled`, `feedback_not_stored`, `initialize_timeout`,
     * `too_many_connections`, `not_durable`.
     */
    readonly protocolErrors: Readonly<Record<string, number>>;
    readonly exporters: readonly ExporterStatus[];
    readonly clients: readonly ClientStatus[];
    readonly sessions: SessionCounts;
    /** Hand-off files left by hosts that exited before their records reached the daemon. */
    readonly handoff: HandoffCounts;
    /** Feedback reports in the spool, by state. */
    readonly feedback: FeedbackCounts;
    /** The configuration this daemon runs with, and how its last reload went. */
    readonly config: ConfigStatus;
  }
}

/** In `daemon/status`: where the settings came from and the last reload. */
export interface ConfigStatus {
  /** The config file read, or null when none exists and defaults apply. */
  readonly file: string | null;
  /** When the settings in force were read: at start, or by the last reload that succeeded. */
  readonly loadedAt: string;
  /** Reloads that succeeded since the start. */
  readonly reloads: number;
  /** The last reload, successful or not; null before the first. */
  readonly lastReload: {
    readonly at: string;
    /** What asked for it: `SIGHUP`, or `daemon/reload from <client name>`. */
    readonly trigger: string;
    readonly ok: boolean;
    /** Why it was refused; the daemon kept the settings it had. */
    readonly error: string | null;
  } | null;
  /** Settings changed in the file that take effect only at the next start. */
  readonly needsRestart: readonly string[];
}

export namespace DaemonFlush {
  export const method = 'daemon/flush';
  export interface Params {
    /** How long the daemon may try before answering; capped by the daemon's flush deadline. */
    readonly timeoutMs?: number;
  }
  export interface Result {
    /**
     * True when nothing accepted before the call is still buffered in any signal and no export
     * failed while the flush ran (records dropped because export is turned off do not make it
     * false: status counts them as `exporter_disabled`).
     */
    readonly complete: boolean;
    readonly timedOut: boolean;
    readonly durationMs: number;
    /** Counts after the flush. */
    readonly metrics: SignalCounts;
    readonly logs: SignalCounts;
    readonly traces: SignalCounts;
  }
}

export namespace DaemonReload {
  export const method = 'daemon/reload';
  export type Params = Record<string, never>;
  /**
   * The config file was read again and is valid. Exporters and the event settings took effect
   * at once; what exporters held is not lost (README, "Reloading the configuration"). A file
   * that is not valid is an error (`ReloadFailed`) and changes nothing.
   */
  export interface Result {
    readonly file: string | null;
    /** Settings that changed and took effect, as config keys (`otel.metrics_exporter`, …). */
    readonly applied: readonly string[];
    /** Settings that differ from those in force and take effect only at the next start. */
    readonly needsRestart: readonly string[];
  }
}

export namespace DaemonShutdown {
  export const method = 'daemon/shutdown';
  export type Params = Record<string, never>;
  /** Sent before the daemon starts draining; the daemon exits once the drain ends. */
  export interface Result {
    readonly draining: true;
    readonly pid: number;
  }
}
