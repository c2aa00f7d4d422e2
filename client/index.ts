/**
 * codexd's thin client. It loads no OpenTelemetry package: hosts record through it and the
 * daemon does the exporting.
 *
 * ```ts
 * import { createClient } from 'codexd/client';
 * const telemetry = createClient({ clientInfo: { name: 'codex-cli', version: '1.0.0' } });
 * telemetry.counter('codex.tool.call', 1, { tool: 'shell', status: 'ok' });
 * const session = telemetry.session({ sessionId: 'thread-1', attributes: { model: 'gpt-5.1-codex' } });
 * session.event('codex.tool_result', { traceSafe: { tool_name: 'shell', success: true }, durationMs: 42 });
 * const turn = session.startSpan('turn', { kind: 'server', parent: process.env.TRACEPARENT });
 * turn.setAttribute('turn.id', 'turn-1').end();
 * await telemetry.close();
 * ```
 */
export {
  type ClientOptions,
  type ClientStats,
  createClient,
  type EventFields,
  FEEDBACK_TIMEOUT_MS,
  type FeedbackResult,
  type Phase,
  type SessionHandle,
  type SessionOptions,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_EVENTS,
  DEFAULT_MAX_BUFFERED_RECORDS,
  DEFAULT_MAX_BUFFERED_SPANS,
  type SpanStats,
  type Tags,
  type TelemetryClient,
  type Timer,
} from './telemetry-client.js';
export type { ClientSpan, SpanAttributes, SpanContext, SpanLinkOptions, SpanOptions } from './span.js';
export type { AttributeValue, ResourceAttributes, SpanKindName, SpanStatus, SpanStatusCode } from '../protocol/index.js';
