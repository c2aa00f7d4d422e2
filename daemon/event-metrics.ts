/**
 * The metrics the catalog derives from session events, as Codex records them in process
 * (codex-rs `otel` crate, `SessionTelemetry`): a tool call's, an API request's and an SSE event's
 * counter and histogram of durations, a startup phase's and a turn's time to first token. An
 * event's metrics go into the batch's series (derived-series.ts) before its session's tags; a
 * metric an event lacks a field for is counted, never silently left out.
 */
import { type AttributeValue, type EventAttributes, sanitizeTagValue, type SessionEvent } from '../protocol/index.js';
import type { DerivedSeries } from './derived-series.js';

/** What a derivation that wants a duration reports when the event has neither form of it. */
const NO_DURATION = 'no durationMs or duration_ms';

type Tags = Readonly<Record<string, string>>;
const NO_TAGS: Tags = Object.freeze({});
/** A first tag's value's two tag sets, `success` "true" and "false", each made when first needed. */
type TagPair = [Tags | undefined, Tags | undefined];
/** The counter and the histogram of durations Codex records for a tool call, an API request, an SSE event. */
const TOOL_CALL = ['codex.tool.call', 'codex.tool.call.duration_ms'] as const;
const API_REQUEST = ['codex.api_request', 'codex.api_request.duration_ms'] as const;
const SSE_EVENT = ['codex.sse_event', 'codex.sse_event.duration_ms'] as const;
/** Values of a first tag kept (tool names, statuses, SSE kinds); past it, the sets are made afresh. */
const TAG_SETS_KEPT = 1024;

/** `{ [key]: value, success }`, the same object each time for the same value and success. */
function tagsOf(sets: Map<string, TagPair>, key: string, value: string, success: boolean): Tags {
  let pair = sets.get(value);
  if (pair === undefined) {
    if (sets.size >= TAG_SETS_KEPT) sets.clear();
    pair = [undefined, undefined];
    sets.set(value, pair);
  }
  const at = success ? 0 : 1;
  return (pair[at] ??= Object.freeze({ [key]: value, success: String(success) }));
}

/** A field's value as text, for a tool's error. */
function textOf(value: AttributeValue | undefined): string | undefined {
  return value === undefined ? undefined : String(value);
}

/** A field's value as a metric tag, sanitised as session tags are (a tool name may hold spaces). */
function tagOf(value: AttributeValue | undefined): string | undefined {
  return value === undefined ? undefined : (sanitizeTagValue(String(value)) ?? undefined);
}

export interface EventMetrics {
  /**
   * Adds the metrics the catalog derives from an event (`all`: its fields, whatever bag they came
   * in) to `series`. A metric not made for want of a field is counted in {@link missed}, once per
   * event.
   */
  derive(event: SessionEvent, all: EventAttributes, durationMs: number | undefined, time: number, series: DerivedSeries): void;
  /** The failed tool calls derived since the last call, each with its error, in order. */
  takeToolErrors(): [tool: string, message: string][];
  /** Derivations that found none of their keys, by `<event name>: no <field>`. */
  missed(): Record<string, number>;
}

export function createEventMetrics(): EventMetrics {
  /** Derivations that found none of their keys, by `<event name>: no <field>`: never silent. */
  const derivationsMissed = new Map<string, number>();
  /** Failed tool calls of the batch being ingested, noted after their derived metrics (which record a bare `failed`). */
  let toolErrors: [tool: string, message: string][] = [];

  /**
   * Tag sets of derived metrics, by the value of their first tag, each made once and shared by
   * every event that has it: an event otherwise made one (and its series key) for its metrics.
   */
  const tagSets = { tool: new Map<string, TagPair>(), status: new Map<string, TagPair>(), kind: new Map<string, TagPair>() };

  /** Counts a metric an event could not derive, for want of `what`. */
  function missed(event: SessionEvent, what: string): void {
    const key = `${event.name}: ${what}`;
    derivationsMissed.set(key, (derivationsMissed.get(key) ?? 0) + 1);
  }

  /** A duration's histogram, or the miss counted when the event has none. */
  function histogram(series: DerivedSeries, event: SessionEvent, time: number, metric: string, durationMs: number | undefined, tags: Tags): void {
    if (durationMs === undefined) missed(event, NO_DURATION);
    else series.add(event.sessionId, time, metric, 'histogram', durationMs, tags);
  }

  /** A counter's increment and a duration's histogram under the same tags, as Codex records a call. */
  function counted(series: DerivedSeries, event: SessionEvent, time: number, [counter, durations]: readonly [string, string], durationMs: number | undefined, tags: Tags): void {
    series.add(event.sessionId, time, counter, 'counter', 1, tags);
    histogram(series, event, time, durations, durationMs, tags);
  }

  /** See {@link EventMetrics.derive}. */
  function derive(event: SessionEvent, all: EventAttributes, durationMs: number | undefined, time: number, series: DerivedSeries): void {
    switch (event.name) {
      case 'codex.startup_phase': {
        // Codex 0.169 sends `startup.phase` and `startup.status`; the older `phase` and `status`
        // (the client's `startPhase` helper) are still read. Codex tags no `status` it was not given.
        const phase = tagOf(all['startup.phase']) ?? tagOf(all.phase);
        if (phase === undefined) return missed(event, 'no startup.phase');
        const status = tagOf(all['startup.status']) ?? tagOf(all.status);
        return histogram(series, event, time, 'codex.startup.phase.duration_ms', durationMs, status === undefined ? { phase } : { phase, status });
      }
      case 'codex.turn_ttft':
        return histogram(series, event, time, 'codex.turn.ttft.duration_ms', durationMs, NO_TAGS);
      case 'codex.tool_result': {
        const tool = tagOf(all.tool_name);
        if (tool === undefined) return missed(event, 'no tool_name');
        const success = all.success !== false && all.success !== 'false';
        if (!success) toolErrors.push([tool, textOf(all['error.message']) ?? 'failed']);
        return counted(series, event, time, TOOL_CALL, durationMs, tagsOf(tagSets.tool, 'tool', tool, success));
      }
      case 'codex.api_request': {
        const status = tagOf(all['http.response.status_code']) ?? 'none';
        return counted(series, event, time, API_REQUEST, durationMs, tagsOf(tagSets.status, 'status', status, all['error.message'] === undefined && /^2\d\d$/.test(status)));
      }
      case 'codex.sse_event': {
        // Codex counts and times each SSE event it waited for, `unknown` when it has no kind; the
        // `response.completed` summary with the token counts has no duration and no metric there.
        const kind = tagOf(all['event.kind']) ?? 'unknown';
        if (durationMs === undefined) return kind === 'response.completed' ? undefined : missed(event, NO_DURATION);
        return counted(series, event, time, SSE_EVENT, durationMs, tagsOf(tagSets.kind, 'kind', kind, all['error.message'] === undefined));
      }
      default:
        return undefined;
    }
  }

  return {
    derive,
    takeToolErrors() {
      const taken = toolErrors;
      if (taken.length > 0) toolErrors = [];
      return taken;
    },
    missed: () => Object.fromEntries(derivationsMissed),
  };
}
