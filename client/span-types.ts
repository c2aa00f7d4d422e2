/**
 * What a host sees of its spans: their context, the options of `startSpan()`, the span it holds,
 * and the sink and recorder the client wires them to. span.ts implements them.
 */
import type { AttributeValue, HostSpan, SpanKindName, SpanStatus } from '../protocol/index.js';

/** A span's trace context, as `traceparent` carries it. */
export interface SpanContext {
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 16 lowercase hex digits. */
  readonly spanId: string;
  /** W3C trace flags: 1 when sampled, 0 when not. */
  readonly flags: number;
}

/** Attributes as a host passes them: an `undefined` value is left out, as OpenTelemetry does. */
export type SpanAttributes = Readonly<Record<string, AttributeValue | undefined>>;

/** A link to another span, of this trace or another. */
export interface SpanLinkOptions {
  /** A span of this client, its {@link SpanContext}, or a W3C `traceparent`. */
  readonly context: ClientSpan | SpanContext | string;
  readonly attributes?: SpanAttributes;
}

export interface SpanOptions {
  /**
   * The parent: a span of this client, its {@link SpanContext}, or a W3C `traceparent` (from
   * `TRACEPARENT` in the environment, say). A malformed one is counted and reported once, and
   * the span starts a new trace. When the parent is not sampled, neither is the span: it is not
   * sent (counted `not_sampled`), and its own children are not sampled either. `undefined`,
   * `null` and `''` mean none.
   */
  readonly parent?: ClientSpan | SpanContext | string;
  /** Default `internal`. */
  readonly kind?: SpanKindName;
  readonly attributes?: SpanAttributes;
  /** Milliseconds since the Unix epoch, fractions allowed; default now (sub-millisecond). */
  readonly startTime?: number;
  readonly links?: readonly SpanLinkOptions[];
  /** The instrumentation scope (a tracer's name and version) to export the span under; default `codex`. */
  readonly scope?: { readonly name: string; readonly version?: string };
}

/**
 * A span being recorded, shaped after OpenTelemetry's `Span`. Every method returns at once and
 * never throws; after `end()` they do nothing.
 */
export interface ClientSpan {
  /** Sets one attribute; a bad key or value is left out, counted and reported once. */
  setAttribute(key: string, value: AttributeValue | undefined): this;
  setAttributes(attributes: SpanAttributes): this;
  /**
   * Adds an event at `time` (milliseconds since the Unix epoch; default now). As in
   * OpenTelemetry, the time may come second in place of the attributes.
   */
  addEvent(name: string, attributes?: SpanAttributes | number, time?: number): this;
  /** `ok` is final; `unset` changes nothing; a message is kept with `error` only. */
  setStatus(status: SpanStatus): this;
  /**
   * Ends the span at `endTime` (milliseconds since the Unix epoch; default now) and queues it
   * for the daemon. A second call does nothing. A span never ended is never sent: at exit or
   * `close()` it is counted `client_span_open`.
   */
  end(endTime?: number): void;
  /** `00-<trace id>-<span id>-<flags>`, to hand to a child process or put on a request. */
  traceparent(): string;
  spanContext(): SpanContext;
  /** False for a span that will not be sent (not sampled, or refused); its methods do nothing. */
  isRecording(): boolean;
}

/** What the recorder needs from its client. */
export interface SpanSink {
  /** Queues an ended span of `weight` characters (its size in memory and on the wire grows with them). */
  finish(span: HostSpan, weight: number): void;
  /** Counts spans not sent, by reason, and reports the kind once. */
  drop(reason: string, count: number, message: string): void;
  /** Counts a span not sent because its trace is not sampled: the caller's choice, not a problem to report. */
  notSampled(): void;
  /** Counts a part of a span left out (an attribute, event, link, status or kind; a malformed parent), and reports the kind once. */
  ignore(reason: string, message: string): void;
  /** True while the session is started and not ended: the daemon refuses spans of others. */
  isLive(sessionId: string): boolean;
}

export interface SpanRecorder {
  /** Starts a span, of a session when `sessionId` is given. Never throws. */
  start(name: string, options: SpanOptions | undefined, sessionId: string | undefined): ClientSpan;
  /** Counts a span that may not be recorded (its session is invalid or ended) and returns a non-recording one in its place. */
  refuse(reason: string, message: string, options: SpanOptions | undefined): ClientSpan;
  /** Spans started and not yet ended. */
  readonly open: number;
  /**
   * Stops recording and returns how many spans were still open, which are never sent (their end
   * is unknown); the caller counts them. Their `end()`, and every span started later, do nothing.
   */
  close(): number;
}
