/**
 * What codexd knows of Codex's telemetry, as data: the metrics Codex records and the session
 * events it emits, with each event field's lane. It is a guide, never a closed list: unknown
 * `codex.*` metrics and events are accepted under the general rules. The lanes are what the
 * daemon enforces for session events (a log-only field never reaches a trace), and
 * docs/metrics.md and docs/events.md are generated from this file.
 */
import type { MetricKind } from './methods.js';

export interface MetricDefinition {
  readonly name: string;
  readonly kind: MetricKind;
  /** The tags Codex records it with (beyond the session tags). */
  readonly tags: readonly string[];
  readonly description: string;
}

/**
 * Where a field of a session event may go. `common` fields go to both lanes; `log_only` ones
 * (content: prompts, tool arguments and output, account identity) only to the log lane;
 * `trace_safe` ones are content-free and meant for spans.
 */
export type Lane = 'common' | 'log_only' | 'trace_safe';

/**
 * Which switch lets a log-only field's value through to the log lane; without it the value is
 * `[REDACTED]`. `user_prompt`: the session's `logUserPrompt` and the config's
 * `[otel] log_user_prompt` both; `tool_content`: the config's `[codexd] log_tool_content`.
 */
export type Redaction = 'user_prompt' | 'tool_content';

export interface EventField {
  readonly name: string;
  readonly lane: Lane;
  readonly description: string;
  readonly redaction?: Redaction;
}

export interface EventDefinition {
  readonly name: string;
  readonly description: string;
  readonly fields: readonly EventField[];
  /** Metrics the daemon derives from the event, so a client sends the event alone. */
  readonly derives?: readonly string[];
}

const metric = (name: string, kind: MetricKind, tags: readonly string[], description: string): MetricDefinition => ({ name, kind, tags, description });

export const METRIC_CATALOG: readonly MetricDefinition[] = [
  metric('codex.api_request', 'counter', ['status', 'success'], 'Model API requests.'),
  metric('codex.api_request.duration_ms', 'histogram', ['status', 'success'], 'Model API request duration.'),
  metric('codex.sse_event', 'counter', ['kind', 'success'], 'Server-sent events received while streaming.'),
  metric('codex.sse_event.duration_ms', 'histogram', ['kind', 'success'], 'Time to each server-sent event.'),
  metric('codex.websocket.request', 'counter', ['success'], 'WebSocket requests.'),
  metric('codex.websocket.request.duration_ms', 'histogram', ['success'], 'WebSocket request duration.'),
  metric('codex.websocket.event', 'counter', ['kind', 'success'], 'WebSocket events received.'),
  metric('codex.websocket.event.duration_ms', 'histogram', ['kind', 'success'], 'Time to each WebSocket event.'),
  metric('codex.responses_api_overhead.duration_ms', 'histogram', [], 'Responses API overhead outside inference.'),
  metric('codex.responses_api_inference_time.duration_ms', 'histogram', [], 'Responses API inference time.'),
  metric('codex.responses_api_engine_iapi_ttft.duration_ms', 'histogram', [], 'Engine time to first token (internal API).'),
  metric('codex.responses_api_engine_service_ttft.duration_ms', 'histogram', [], 'Engine time to first token (service).'),
  metric('codex.responses_api_engine_iapi_tbt.duration_ms', 'histogram', [], 'Engine time between tokens (internal API).'),
  metric('codex.responses_api_engine_service_tbt.duration_ms', 'histogram', [], 'Engine time between tokens (service).'),
  metric('codex.transport.fallback_to_http', 'counter', [], 'Fallbacks from WebSocket to HTTP transport.'),
  metric('codex.tool.call', 'counter', ['tool', 'success'], 'Tool invocations.'),
  metric('codex.tool.call.duration_ms', 'histogram', ['tool', 'success'], 'Tool execution time.'),
  metric('codex.thread.started', 'counter', [], 'Threads started.'),
  metric('codex.model_warning', 'counter', [], 'Warnings returned by the model.'),
  metric('codex.conversation.turn.count', 'counter', [], 'User and assistant turns per session.'),
  metric('codex.turn.e2e_duration_ms', 'histogram', [], 'End-to-end duration of a turn.'),
  metric('codex.turn.ttft.duration_ms', 'histogram', [], 'Time to first token of a turn.'),
  metric('codex.startup.phase.duration_ms', 'histogram', ['phase', 'status'], 'Duration of a start-up phase (thread start, prewarm steps); `status` only when the phase reported one.'),
  metric('codex.task.compact', 'counter', ['type'], 'Compactions, by type (`remote` or `local`).'),
  metric('codex.task.undo', 'counter', [], 'Undos.'),
  metric('codex.task.review', 'counter', [], 'Reviews triggered.'),
  metric('codex.task.user_shell', 'counter', [], 'User shell actions (`!` in the TUI).'),
  metric('codex.memory.phase1', 'counter', [], 'Memory phase 1 runs.'),
  metric('codex.memory.phase1.output', 'counter', [], 'Memory phase 1 outputs.'),
  metric('codex.memory.phase1.token_usage', 'histogram', [], 'Tokens used by memory phase 1.'),
  metric('codex.memory.phase2', 'counter', [], 'Memory phase 2 runs.'),
  metric('codex.memory.phase2.input', 'counter', [], 'Memory phase 2 inputs.'),
  metric('codex.mcp.call', 'counter', ['status'], 'MCP tool invocations (`ok` or the error).'),
  metric('codex.mcp.tools.list.duration_ms', 'histogram', [], 'Time to list MCP tools.'),
  metric('codex.mcp.tools.fetch_uncached.duration_ms', 'histogram', [], 'Time to fetch MCP tools not cached.'),
  metric('codex.mcp.tools.cache_write.duration_ms', 'histogram', [], 'Time to write the MCP tool cache.'),
  metric('codex.db.init', 'counter', [], 'State database initialisations.'),
  metric('codex.db.error', 'counter', [], 'State database errors.'),
  metric('codex.db.backfill', 'counter', [], 'State database backfills.'),
  metric('codex.db.backfill.duration_ms', 'histogram', [], 'State database backfill duration.'),
  metric('codex.db.compare_error', 'counter', [], 'State database comparison errors.'),
  metric('codex.shell_snapshot', 'counter', [], 'Shell snapshots taken.'),
  metric('codex.shell_snapshot.duration_ms', 'histogram', [], 'Shell snapshot duration.'),
  metric('codex.approval.requested', 'counter', ['tool', 'approved'], 'Tool approval requests (`approved`: `yes` or `no`).'),
  metric('codex.feature.state', 'counter', ['key', 'value'], 'Feature values that differ from the defaults, one row each.'),
  metric('codex.skill.injected', 'counter', [], 'Skills injected into a prompt.'),
  metric('codex.remote_models.fetch_update.duration_ms', 'histogram', [], 'Time to fetch the remote model list.'),
  metric('codex.remote_models.load_cache.duration_ms', 'histogram', [], 'Time to load the cached model list.'),
  metric('codex.session.started', 'counter', ['is_git'], 'Sessions created.'),
  metric('codex.model.call.duration_ms', 'histogram', ['provider', 'status', 'attempt'], 'Model API call duration.'),
  metric('user.feedback.submitted', 'counter', ['category', 'include_logs', 'success'], 'Feedback submissions, by final outcome.'),
];

const field = (name: string, lane: Lane, description: string, redaction?: Redaction): EventField => (redaction === undefined ? { name, lane, description } : { name, lane, description, redaction });

/** Fields every session event carries: its session's context, and what the daemon adds. */
export const SESSION_EVENT_FIELDS: readonly EventField[] = [
  field('session.id', 'common', 'The `sessionId` of `session/start` (added by the daemon).'),
  field('event.name', 'common', 'The event name (added by the daemon).'),
  field(
    'event.timestamp',
    'common',
    "When the event happened, as RFC 3339 UTC with milliseconds (`2026-11-23T14:08:03.906Z`), as Codex stamps both its lanes. The host's own `event.timestamp` field when it sent one (on the lanes it sent it to), else the daemon adds the event's `time`, or the time it took the event in.",
  ),
  field('client.name', 'common', "`clientInfo.name` of the connection that sent the event (added by the daemon)."),
  field('conversation.id', 'common', 'The conversation (thread) id.'),
  field('app.version', 'common', 'Codex version.'),
  field('auth_mode', 'common', '`swic`, `api` or `unknown`.'),
  field('originator', 'common', 'The program that started the session.'),
  field('session_source', 'common', '`cli`, `vscode`, `exec`, `mcp` or `subagent_*`.'),
  field('model', 'common', 'The model in use.'),
  field('slug', 'common', 'The model slug.'),
  field('service_name', 'common', "The integration that owns the session (the app-server's `thread/start.serviceName`)."),
  field('terminal.type', 'common', 'The terminal.'),
  field('user.account_id', 'log_only', 'The account id: logs only.'),
  field('user.email', 'log_only', 'The account email: logs only.'),
];

/**
 * The `auth.env_*` family: which credentials the environment offers, never their values. Codex
 * puts them on `codex.conversation_starts`, `codex.api_request` and `codex.websocket_request` alike.
 */
const AUTH_ENV_FIELDS: readonly EventField[] = [
  field('auth.env_openai_api_key_present', 'trace_safe', '`auth.env_*` family: whether `OPENAI_API_KEY` is set.'),
  field('auth.env_codex_api_key_present', 'trace_safe', '`auth.env_*` family: whether `CODEX_API_KEY` is set.'),
  field('auth.env_codex_api_key_enabled', 'trace_safe', '`auth.env_*` family: whether `CODEX_API_KEY` is used.'),
  field('auth.env_provider_key_name', 'trace_safe', "`auth.env_*` family: the name of the provider's key variable (not its value)."),
  field('auth.env_provider_key_present', 'trace_safe', "`auth.env_*` family: whether the provider's key variable is set."),
  field('auth.env_refresh_token_url_override_present', 'trace_safe', '`auth.env_*` family: whether the token refresh URL is overridden.'),
];

const TOKEN_COUNT_FIELDS: readonly EventField[] = [
  field('input_token_count', 'trace_safe', 'Input tokens, cached ones included (on `response.completed`).'),
  field('output_token_count', 'trace_safe', 'Output tokens (on `response.completed`).'),
  field('cached_token_count', 'trace_safe', 'Cached input tokens (on `response.completed`).'),
  field('reasoning_token_count', 'trace_safe', 'Reasoning output tokens (on `response.completed`).'),
  field('tool_token_count', 'trace_safe', 'Tool tokens (on `response.completed`).'),
  field('cache_write_token_count', 'trace_safe', 'Input tokens written to the cache (on `response.completed`).'),
];

/**
 * The events under Codex 0.169's field names (codex-rs `otel` crate, `SessionTelemetry`). The
 * lanes follow Codex's own split: what Codex writes to logs only is `log_only` here. Made by a
 * call marked pure: its arrays spread shared field lists, which a bundler cannot prove free of
 * side effects, and the thin client's bundle must not carry the catalog.
 */
export const EVENT_CATALOG: readonly EventDefinition[] = /* @__PURE__ */ (() => [
  {
    name: 'codex.conversation_starts',
    description: 'A conversation starts, with its configuration. Codex writes the MCP server names and the profile to logs only, and their count and presence to traces.',
    fields: [
      field('provider_name', 'common', 'Model provider.'),
      field('reasoning_effort', 'common', 'Configured reasoning effort.'),
      field('reasoning_summary', 'common', 'Configured reasoning summary.'),
      field('context_window', 'common', 'Context window in tokens.'),
      field('max_output_tokens', 'common', 'Output token limit.'),
      field('auto_compact_token_limit', 'common', 'Token count that triggers compaction.'),
      field('approval_policy', 'common', 'Approval policy.'),
      field('sandbox_policy', 'common', 'Sandbox policy.'),
      field('mcp_servers', 'log_only', 'Configured MCP servers, comma-separated.'),
      field('mcp_server_count', 'trace_safe', 'How many MCP servers are configured.'),
      field('active_profile', 'log_only', 'Active config profile.'),
      field('active_profile_present', 'trace_safe', 'Whether a config profile is active.'),
      ...AUTH_ENV_FIELDS,
    ],
  },
  {
    name: 'codex.api_request',
    description:
      'One model API request. Codex also sends `auth.header_name`, `auth.recovery_mode`, `auth.recovery_phase`, `auth.request_id`, `auth.cf_ray`, `auth.error` and `auth.error_code` when it has them; like any field the catalog does not list, they go where the host puts them.',
    derives: ['codex.api_request', 'codex.api_request.duration_ms'],
    fields: [
      field('attempt', 'trace_safe', 'Attempt number.'),
      field('duration_ms', 'trace_safe', 'Duration.'),
      field('http.response.status_code', 'trace_safe', 'HTTP status; the `status` tag of the derived metrics (`none` without one).'),
      field('endpoint', 'trace_safe', 'The API endpoint called.'),
      field('auth.header_attached', 'trace_safe', 'Whether an authorization header was sent.'),
      field('auth.retry_after_unauthorized', 'trace_safe', 'Whether this is the retry after a 401.'),
      ...AUTH_ENV_FIELDS,
      field('error.message', 'common', 'The error, when it failed; the `success` tag is `true` only for a 2xx status without it.'),
    ],
  },
  {
    name: 'codex.sse_event',
    description:
      'One server-sent event of a streamed response, with the time to it. The daemon derives the metrics Codex records in process from each event with a duration, tagged `kind` (`event.kind`, `unknown` without one) and `success` (`false` when it has `error.message`), so a host sends the event alone and must not record them itself. The `response.completed` summary that carries the token counts and no duration derives none, as in Codex.',
    derives: ['codex.sse_event', 'codex.sse_event.duration_ms'],
    fields: [
      field('event.kind', 'trace_safe', 'The SSE event type (`response.output_text.delta`, `response.completed`, ...).'),
      field('duration_ms', 'trace_safe', 'Time to this event.'),
      field('error.message', 'common', 'The error, when it failed.'),
      ...TOKEN_COUNT_FIELDS,
    ],
  },
  {
    name: 'codex.websocket_request',
    description: 'One WebSocket request.',
    fields: [field('duration_ms', 'trace_safe', 'Duration.'), field('success', 'trace_safe', 'Whether it succeeded.'), field('error.message', 'common', 'The error, when it failed.'), ...AUTH_ENV_FIELDS],
  },
  {
    name: 'codex.websocket_event',
    description: 'One WebSocket event.',
    fields: [
      field('event.kind', 'trace_safe', 'Event type.'),
      field('duration_ms', 'trace_safe', 'Time to this event.'),
      field('success', 'trace_safe', 'Whether it succeeded.'),
      field('error.message', 'common', 'The error, when it failed.'),
    ],
  },
  {
    name: 'codex.user_prompt',
    description: 'The user sent a prompt.',
    fields: [
      field('prompt_length', 'trace_safe', 'Prompt length in characters.'),
      field('prompt', 'log_only', 'The prompt text.', 'user_prompt'),
      field('text_input_count', 'trace_safe', 'Text inputs in the prompt.'),
      field('image_input_count', 'trace_safe', 'Images in the prompt.'),
      field('local_image_input_count', 'trace_safe', 'Local image files in the prompt.'),
    ],
  },
  {
    name: 'codex.tool_decision',
    description: 'A tool call was approved or denied.',
    fields: [
      field('tool_name', 'trace_safe', 'Tool.'),
      field('call_id', 'trace_safe', 'Tool call id.'),
      field('decision', 'trace_safe', 'The decision.'),
      field('source', 'trace_safe', 'Who decided: config or user.'),
    ],
  },
  {
    name: 'codex.tool_result',
    description: 'A tool call finished.',
    derives: ['codex.tool.call', 'codex.tool.call.duration_ms'],
    fields: [
      field('tool_name', 'trace_safe', 'Tool.'),
      field('call_id', 'trace_safe', 'Tool call id.'),
      field('duration_ms', 'trace_safe', 'Duration.'),
      field('success', 'trace_safe', 'Whether it succeeded.'),
      field('error.message', 'common', 'The error, when it failed; kept as the tool\'s last error in `tools/metrics`.'),
      field('arguments', 'log_only', 'The call arguments.', 'tool_content'),
      field('output', 'log_only', 'The tool output.', 'tool_content'),
    ],
  },
  {
    name: 'codex.startup_phase',
    description:
      'A start-up phase ended (thread start, prewarm steps). Codex 0.169 sends `startup.phase` and `startup.status`; the older `phase` and `status` (which codexd\'s client helper `startPhase` sends) are still read when the new ones are missing. The derived metric keeps the tag names `phase` and `status`, and has no `status` tag when the event has no status, as Codex records it.',
    derives: ['codex.startup.phase.duration_ms'],
    fields: [
      field('startup.phase', 'trace_safe', 'The phase; the `phase` tag of the derived metric.'),
      field('startup.status', 'trace_safe', 'How it ended; the `status` tag of the derived metric.'),
      field('duration_ms', 'trace_safe', 'Duration.'),
      field('phase', 'trace_safe', 'The older key of the phase, still read when `startup.phase` is missing.'),
      field('status', 'trace_safe', 'The older key of how it ended, still read when `startup.status` is missing.'),
    ],
  },
  {
    name: 'codex.turn_ttft',
    description: 'The first token of a turn arrived.',
    derives: ['codex.turn.ttft.duration_ms'],
    fields: [field('duration_ms', 'trace_safe', 'Time to first token.')],
  },
])();

let logOnly: ReadonlySet<string> | undefined;
let redactions: ReadonlyMap<string, Redaction> | undefined;

/**
 * Field names the catalog keeps off the trace lane, wherever a client puts them. Computed on
 * first use, so that code importing the protocol without the catalog (the thin client's
 * bundle) does not carry it.
 */
export function logOnlyFields(): ReadonlySet<string> {
  logOnly ??= new Set(
    [...SESSION_EVENT_FIELDS, ...EVENT_CATALOG.flatMap((event) => event.fields)].filter((entry) => entry.lane === 'log_only').map((entry) => entry.name),
  );
  return logOnly;
}

/**
 * Field names whose values the log lane redacts unless their switch allows them, in every
 * event that carries them (not only the catalog's own): privacy is enforced by field.
 */
export function redactedFields(): ReadonlyMap<string, Redaction> {
  redactions ??= new Map(
    EVENT_CATALOG.flatMap((event) => event.fields).flatMap((entry) => (entry.redaction === undefined ? [] : [[entry.name, entry.redaction] as const])),
  );
  return redactions;
}
