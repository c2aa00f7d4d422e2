/**
 * A session's handle in the thin client: records and events bound to one session, and the
 * helpers for Codex's session events (start-up phases, time to first token, the end-of-session
 * summary). It holds only the session's own state; queueing, sending and counting are the
 * client's, reached through {@link SessionDeps}.
 */
import { checkSessionStartParams, type EventAttributes, type MetricKind, type SessionStart, type SessionSummary } from '../protocol/index.js';
import { monotonicMs } from './clock.js';
import type { ClientSpan, SpanOptions } from './span.js';

export type Tags = Readonly<Record<string, string>>;

export interface Timer {
  /** Records the elapsed milliseconds as a histogram and returns them; later calls do nothing and return `undefined`. */
  stop(extraTags?: Tags): number | undefined;
}

/** What an event carries besides its name (see `session/event` in PROTOCOL.md). */
export interface EventFields {
  /** Fields for both lanes; a field the daemon's catalog marks log-only goes to logs alone. */
  readonly attributes?: EventAttributes;
  /** Content for the log lane only: prompt text, tool arguments and output. */
  readonly logOnly?: EventAttributes;
  /** Content-free fields for spans too. */
  readonly traceSafe?: EventAttributes;
  readonly durationMs?: number;
  /** W3C trace context of the operation; the event's span goes under it. */
  readonly traceparent?: string;
  readonly tracestate?: string;
  /** Milliseconds since the Unix epoch; default now. */
  readonly time?: number;
}

/** A start-up phase being timed. */
export interface Phase {
  /**
   * Sends `codex.startup_phase` with the elapsed time, `startup.phase` and `startup.status` (as
   * Codex does) and returns the milliseconds; later calls do nothing.
   */
  end(status?: string): number | undefined;
}

/** A session's context, as `session/start` takes it. */
export interface SessionOptions {
  readonly sessionId: string;
  /** Codex's session context keys: `model`, `auth_mode`, `originator`, `session_source`, `service_name`, `app.version`, ... */
  readonly attributes?: Readonly<Record<string, string>>;
  readonly logUserPrompt?: boolean;
}

/** Records bound to one session: each carries the session's tags in the daemon. */
export interface SessionHandle {
  readonly sessionId: string;
  counter(name: string, value?: number, tags?: Tags): void;
  histogram(name: string, value: number, tags?: Tags): void;
  gauge(name: string, value: number, tags?: Tags): void;
  startTimer(name: string, tags?: Tags): Timer;
  /**
   * Sends a session event (`codex.tool_result`, `codex.api_request`, ...). Queued and batched
   * like records; string values over the protocol's limit are cut and marked. Never throws.
   */
  event(name: string, fields?: EventFields): void;
  /** Starts timing a start-up phase (`thread_start_create_thread`, `startup_prewarm_total`, ...). */
  startPhase(phase: string): Phase;
  /** Sends `codex.turn_ttft`: the time to the first token of a turn. */
  ttft(durationMs: number, fields?: EventFields): void;
  /**
   * Starts a span of this session (`sessionId` on the span: the daemon adds the session's
   * context to it). Never throws. A span ending after the session's `end()` is dropped and
   * counted (`unknown_session`): the daemon no longer knows the session.
   */
  startSpan(name: string, options?: SpanOptions): ClientSpan;
  /**
   * The daemon's runtime summary of this session, after everything sent before the call; `null`
   * when the daemon does not answer within the request timeout. Never rejects.
   */
  summary(): Promise<SessionSummary.Result | null>;
  /** Ends the session after what it recorded; later calls on the handle are dropped and counted. */
  end(): void;
}

/** What a session handle needs from its client. */
export interface SessionDeps {
  record(kind: MetricKind, name: string, value: number, tags: Tags | undefined, sessionId: string): void;
  timer(name: string, tags: Tags | undefined, sessionId: string | undefined): Timer;
  sendEvent(sessionId: string, name: string, fields: EventFields | undefined): void;
  drop(reason: string, count: number, message: string): void;
  dropEvents(reason: string, count: number, message: string): void;
  report(kind: string, message: string): void;
  startSpan(name: string, options: SpanOptions | undefined, sessionId: string): ClientSpan;
  /** Counts a span that may not be recorded and returns a non-recording one in its place. */
  refuseSpan(reason: string, message: string, options: SpanOptions | undefined): ClientSpan;
  /** Registers the session and queues its `session/start`. */
  start(params: SessionStart.Params): void;
  /** Forgets the session and queues its `session/end` behind everything it sent. */
  end(sessionId: string): void;
  summary(sessionId: string): Promise<SessionSummary.Result | null>;
}

/** A handle whose session failed the protocol's checks: everything it is given is dropped and counted. */
function invalidSession(options: SessionOptions, message: string, deps: SessionDeps): SessionHandle {
  deps.report('invalid_session', `codexd: session ${JSON.stringify(String(options.sessionId)).slice(0, 80)} is invalid (${message}); dropping its records`);
  const dropRecord = (): void => deps.drop('invalid_session_id', 1, 'codexd: a record of an invalid session was dropped');
  const dropEvent = (): void => deps.dropEvents('invalid_session_id', 1, 'codexd: an event of an invalid session was dropped');
  return {
    sessionId: String(options.sessionId),
    counter: dropRecord,
    histogram: dropRecord,
    gauge: dropRecord,
    startTimer: () => ({ stop: () => (dropRecord(), undefined) }),
    event: dropEvent,
    startPhase: () => ({ end: () => (dropEvent(), undefined) }),
    ttft: dropEvent,
    startSpan: (_name, spanOptions) => deps.refuseSpan('invalid_session_id', 'codexd: a span of an invalid session was dropped', spanOptions),
    summary: () => Promise.resolve(null),
    end: () => undefined,
  };
}

/** Checks the session, starts it, and returns its handle. Never throws. */
export function createSessionHandle(options: SessionOptions, deps: SessionDeps): SessionHandle {
  const checked = checkSessionStartParams(options);
  if (!checked.ok) return invalidSession(options, checked.message, deps);
  const sessionId = checked.value.sessionId;
  deps.start(checked.value);
  let ended = false;
  const bound = (kind: MetricKind) => (name: string, value: number, tags?: Tags) => {
    if (ended) deps.drop('unknown_session', 1, `codexd: session ${sessionId} has ended; dropping its records`);
    else deps.record(kind, name, value, tags, sessionId);
  };
  const counter = bound('counter');
  const event = (name: string, fields?: EventFields): void => {
    if (ended) deps.dropEvents('unknown_session', 1, `codexd: session ${sessionId} has ended; dropping its events`);
    else deps.sendEvent(sessionId, name, fields);
  };
  return {
    sessionId,
    counter: (name, value = 1, tags) => counter(name, value, tags),
    histogram: bound('histogram'),
    gauge: bound('gauge'),
    startTimer: (name, tags) => (ended ? { stop: () => (deps.drop('unknown_session', 1, `codexd: session ${sessionId} has ended; dropping its records`), undefined) } : deps.timer(name, tags, sessionId)),
    event,
    startPhase(phase) {
      const started = monotonicMs();
      let done = false;
      return {
        end(status = 'ok') {
          if (done) return undefined;
          done = true;
          const durationMs = monotonicMs() - started;
          // Codex 0.169's keys, which the daemon derives codex.startup.phase.duration_ms from.
          event('codex.startup_phase', { traceSafe: { 'startup.phase': phase, 'startup.status': status, duration_ms: durationMs }, durationMs });
          return durationMs;
        },
      };
    },
    ttft(durationMs, fields) {
      event('codex.turn_ttft', { ...fields, traceSafe: { ...fields?.traceSafe, duration_ms: durationMs }, durationMs });
    },
    startSpan(name, spanOptions) {
      if (ended) return deps.refuseSpan('unknown_session', `codexd: session ${sessionId} has ended; dropping its spans`, spanOptions);
      return deps.startSpan(name, spanOptions, sessionId);
    },
    // The daemon keeps a summary past the session's end: a TUI may ask once it has ended it.
    summary: () => deps.summary(sessionId),
    end() {
      if (ended) return;
      ended = true;
      deps.end(sessionId);
    },
  };
}
