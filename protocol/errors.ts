/**
 * Every JSON-RPC error code the daemon sends, in one table. Codes from -32768 to -32000 are
 * JSON-RPC's own or reserved for implementations; codexd uses -32002..-32018 from that range
 * (-32002 is "not initialized" as in the Language Server Protocol).
 */
export const ErrorCodes = {
  /** The body of a frame is not valid JSON. The connection stays open. */
  ParseError: -32700,
  /** The JSON is not a JSON-RPC 2.0 request or notification. */
  InvalidRequest: -32600,
  /** No such method. */
  MethodNotFound: -32601,
  /** The params do not have the documented shape; the message names the field. */
  InvalidParams: -32602,
  /** A fault inside the daemon. The request may be retried. */
  InternalError: -32603,
  /** A method other than `initialize` arrived before `initialize` succeeded. */
  NotInitialized: -32002,
  /** `initialize` named a protocol major version the daemon does not speak. */
  UnsupportedProtocolVersion: -32003,
  /** A frame's `Content-Length` exceeds `limits.maxMessageBytes`. The connection is closed after this error. */
  MessageTooLarge: -32004,
  /** A frame's header block is malformed or missing `Content-Length`. The connection is closed after this error. */
  FramingError: -32005,
  /** A batch holds more than `limits.maxBatchRecords` measurements or `limits.maxBatchEvents` events. Nothing of it is accepted. */
  BatchTooLarge: -32006,
  /** `initialize` was sent twice on one connection. */
  AlreadyInitialized: -32007,
  /** The daemon is draining to exit and accepts no new telemetry. */
  ShuttingDown: -32008,
  /** A request named a session that was never started, or has ended or expired. */
  UnknownSession: -32009,
  /** `session/start` when the daemon already holds `MAX_SESSIONS` sessions. */
  TooManySessions: -32010,
  /** `feedback/submit` when the spool holds as many bytes as it may; nothing of the report is stored. */
  FeedbackSpoolFull: -32011,
  /** `feedback/show` or `feedback/retry` of a report the daemon does not hold. */
  UnknownFeedback: -32012,
  /** `feedback/submit` while `[feedback] enabled = false`. */
  FeedbackDisabled: -32013,
  /** `feedback/submit` could not be written to disk; nothing of the report is kept. */
  FeedbackNotStored: -32014,
  /**
   * `daemon/reload` found the config file invalid (the message names the file, the key and
   * what was expected), or could not apply it; the daemon runs on with the settings it had.
   */
  ReloadFailed: -32015,
  /** The daemon already serves as many connections as it may; this one is closed after the error. */
  TooManyConnections: -32016,
  /**
   * A request's telemetry was taken in but could not be written to the journal (a full disk):
   * it is exported unless the daemon dies first. `data` is the result the request would have had.
   */
  NotDurable: -32017,
  /**
   * The daemon is over a bound on what it holds for all clients together: this message was not
   * taken in; send it again later. Past the bound of unfinished frames the connection is then
   * closed; past the memory limit it stays open and `data.retryAfterMs` says when to try again.
   */
  Overloaded: -32018,
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * Why one record of a batch was rejected. These are also the reason labels under which the
 * daemon counts rejections in `daemon/status`.
 */
export type RejectionCode =
  | 'invalid_record'
  | 'invalid_name'
  | 'invalid_kind'
  | 'kind_conflict'
  | 'invalid_value'
  | 'negative_counter'
  | 'invalid_tags'
  | 'too_many_tags'
  | 'invalid_tag_key'
  | 'invalid_tag_value'
  | 'invalid_session_id'
  /** A well-formed `sessionId` the daemon holds no session for. */
  | 'unknown_session'
  | 'invalid_time'
  /** An event that is not an object. */
  | 'invalid_event'
  /** An event's `attributes`, `logOnly` or `traceSafe` is not an object of string, number or boolean values, or a key breaks the key rule. */
  | 'invalid_attributes'
  /** An event with more than `MAX_EVENT_ATTRIBUTES` attributes. */
  | 'too_many_attributes'
  /** An event attribute value longer than `MAX_EVENT_ATTRIBUTE_LENGTH`. */
  | 'attribute_too_long'
  /** An event's `durationMs` is not a non-negative finite number. */
  | 'invalid_duration'
  /** A lane already held as much as it may: the event was not (fully) taken; send it again later. */
  | 'queue_full'
  /** A span that is not an object. */
  | 'invalid_span'
  /** A span's or link's `traceId`, `spanId` or `parentSpanId` is not lowercase hex of the right length, or is all zero. */
  | 'invalid_span_id'
  /** A span's `status` is not `{code: "unset" | "ok" | "error", message?}`. */
  | 'invalid_status'
  /** A span event is not `{name, time, attributes?}`, or a span has more than `MAX_SPAN_EVENTS`. */
  | 'invalid_span_event'
  /** A span link is malformed, or a span has more than `MAX_SPAN_LINKS`. */
  | 'invalid_link'
  /** A span's or link's `flags` is not an integer from 0 to 255, or its `tracestate` is not valid W3C tracestate. */
  | 'invalid_trace_context';

export const REJECTION_CODES: readonly RejectionCode[] = [
  'invalid_record',
  'invalid_name',
  'invalid_kind',
  'kind_conflict',
  'invalid_value',
  'negative_counter',
  'invalid_tags',
  'too_many_tags',
  'invalid_tag_key',
  'invalid_tag_value',
  'invalid_session_id',
  'unknown_session',
  'invalid_time',
  'invalid_event',
  'invalid_attributes',
  'too_many_attributes',
  'attribute_too_long',
  'invalid_duration',
  'queue_full',
  'invalid_span',
  'invalid_span_id',
  'invalid_status',
  'invalid_span_event',
  'invalid_link',
  'invalid_trace_context',
];

/**
 * The reason under which status counts the records of a batch refused as a whole (a bad
 * envelope, or more records than the batch limit). It never appears in a `rejected` list.
 */
export const BATCH_REJECTION = 'invalid_batch';

/**
 * Why telemetry was dropped without being exported. The `client_*` reasons are reported by
 * clients in `metric/record`'s `dropped` (a client may also report any {@link RejectionCode}
 * for records it refused itself, counted as `client_<code>`); the others are the daemon's.
 */
export type DropReason =
  /** The client's bounded buffer was full. */
  | 'client_buffer_full'
  /** The client gave up on records it could not deliver (reported only if it reconnects). */
  | 'client_undeliverable'
  /** A span the host had started and not ended when it exited: never exported, since its end is unknown. */
  | 'client_span_open'
  /** The export of accepted records failed. */
  | 'export_failed'
  /** The collector refused a batch for good (a permanent gRPC status such as INVALID_ARGUMENT). */
  | 'export_rejected'
  /** The disk spool was full: its oldest batches made way. */
  | 'spool_full'
  /** A spooled batch failed its checksum when read back. */
  | 'spool_corrupt'
  /** A batch could not be written to the disk spool. */
  | 'spool_failed'
  /** The signal's export is turned off (`"none"` as its exporter; for metrics also `[analytics] enabled = false`). */
  | 'exporter_disabled'
  /** The log or trace lane already holds as many accepted records awaiting export as it may. */
  | 'queue_full'
  /** A span whose `traceparent` (or, for a host-made span, its `flags`) says the trace is not sampled. */
  | 'not_sampled'
  /** Records arrived after a stop had begun. */
  | 'shutting_down'
  /** The daemon was over its memory limit (`[codexd] memory_limit_mib`) when these arrived, as a notification. */
  | 'memory_limited'
  /** A stop's flush deadline passed before these records were exported. */
  | 'shutdown_deadline';

/** The reasons of its own a client may report in `metric/record`'s `dropped`. */
export type ClientDropReason = Extract<DropReason, `client_${string}`>;
export const CLIENT_DROP_REASONS: readonly ClientDropReason[] = ['client_buffer_full', 'client_undeliverable', 'client_span_open'];
