/**
 * Bounds of the wire protocol. The daemon enforces every one of them and reports the
 * message-level ones in the `initialize` result, so a client can size its batches.
 */

/** Largest JSON body of one frame, in bytes (UTF-8). A larger frame closes the connection. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** Largest header block of one frame, in bytes. Real headers are a few dozen bytes. */
export const MAX_HEADER_BYTES = 1024;

/** Most records in one `metric/record` batch. */
export const MAX_BATCH_RECORDS = 5000;

/**
 * Longest metric name. OpenTelemetry caps instrument names at 255 characters and the SDK
 * silently replaces a longer one with a no-op instrument, so the protocol rejects it first.
 */
export const MAX_METRIC_NAME_LENGTH = 255;

/** Most tags on one record. */
export const MAX_TAGS_PER_RECORD = 32;

/** Longest tag key. */
export const MAX_TAG_KEY_LENGTH = 128;

/** Longest tag value, as in Codex's own validation. */
export const MAX_TAG_VALUE_LENGTH = 256;

/** Longest session id. */
export const MAX_SESSION_ID_LENGTH = 256;

/** Longest `clientInfo.name` and `clientInfo.version`. */
export const MAX_CLIENT_INFO_LENGTH = 128;

/** Most attributes in one `session/start`. */
export const MAX_SESSION_ATTRIBUTES = 32;

/** Longest session attribute value. Values become tags cut to {@link MAX_TAG_VALUE_LENGTH}. */
export const MAX_SESSION_ATTRIBUTE_LENGTH = 1024;

/** Most sessions the daemon holds at once; beyond it `session/start` is refused. */
export const MAX_SESSIONS = 10_000;

/** Most events in one `session/event` batch. */
export const MAX_BATCH_EVENTS = 1000;

/** Most attributes on one event, its `attributes`, `logOnly` and `traceSafe` together. */
export const MAX_EVENT_ATTRIBUTES = 64;

/** Longest attribute key of an event. */
export const MAX_EVENT_ATTRIBUTE_KEY_LENGTH = 128;

/**
 * Longest string value of an event attribute, in characters. Tool output and prompts are the
 * long ones; the client cuts its values to this length (marking the cut) before sending.
 */
export const MAX_EVENT_ATTRIBUTE_LENGTH = 64 * 1024;

/** Longest `traceparent` or `tracestate` taken (W3C: a tracestate holds at most 32 members of ~256 characters). */
export const MAX_TRACE_CONTEXT_LENGTH = 8192;

/** Largest `logs` of a feedback report, in UTF-8 bytes: what Codex's in-memory log ring holds (~4 MiB). */
export const MAX_FEEDBACK_LOGS_BYTES = 4 * 1024 * 1024;

/** Longest feedback `note`, in characters. */
export const MAX_FEEDBACK_NOTE_LENGTH = 10_000;

/** Most attachments on one feedback report. */
export const MAX_FEEDBACK_ATTACHMENTS = 8;

/** Longest attachment `name` and `contentType`. */
export const MAX_FEEDBACK_ATTACHMENT_NAME_LENGTH = 255;

/** Most tags on one feedback report, as Codex caps them. */
export const MAX_FEEDBACK_TAGS = 64;

/** Longest feedback tag key: Sentry's limit on tag keys. */
export const MAX_FEEDBACK_TAG_KEY_LENGTH = 32;

/** Longest feedback tag value: Sentry's limit on tag values. */
export const MAX_FEEDBACK_TAG_VALUE_LENGTH = 200;

/**
 * Latest time taken, in milliseconds since the Unix epoch: the end of JavaScript's Date range
 * (±100,000,000 days), so every accepted time converts to a date and to nanoseconds.
 */
export const MAX_TIME_MS = 8.64e15;

/** Most spans in one `trace/span` batch. */
export const MAX_BATCH_SPANS = 1000;

/** Longest span name, in characters. Any text is allowed (`turn/start`, `thread/items/list`). */
export const MAX_SPAN_NAME_LENGTH = 1024;

/** Most attributes on one span, and on one of its events or links (OpenTelemetry's default count limit). */
export const MAX_SPAN_ATTRIBUTES = 128;

/** Most events on one span (OpenTelemetry's default). */
export const MAX_SPAN_EVENTS = 128;

/** Most links on one span (OpenTelemetry's default). */
export const MAX_SPAN_LINKS = 128;

/** Longest instrumentation scope name or version of a span, in characters. */
export const MAX_SPAN_SCOPE_LENGTH = 256;

/** Longest span status message, in characters. */
export const MAX_SPAN_STATUS_MESSAGE_LENGTH = 4096;

/** Most resource attributes a host gives in `initialize`. */
export const MAX_RESOURCE_ATTRIBUTES = 64;

/** Longest string value of a resource attribute, in characters. */
export const MAX_RESOURCE_ATTRIBUTE_LENGTH = 1024;
