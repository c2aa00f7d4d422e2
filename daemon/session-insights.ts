/**
 * What the daemon learns from the metrics it takes in, for the queries a TUI asks at the end of
 * a session: per-session counts and durations (`session/summary`) and per-tool outcomes and
 * latencies (`tools/metrics`). Computed from Codex's own metric names as records arrive, the
 * way Codex's in-process RuntimeMetricsSummary reads its metrics; bounded in sessions and tools.
 */
import type { CountAndDuration, MetricRecord, SessionSummary, ToolsMetrics, ToolStats } from '../protocol/index.js';

/** Summaries kept, the oldest forgotten first; a TUI asks for its summary right at the end. */
export const MAX_SUMMARIES = 1000;
/** Distinct tools tracked; further tools are not tracked until a reset. */
export const MAX_TOOLS = 1000;
/** Longest `lastError` kept per tool. */
const MAX_ERROR_LENGTH = 512;

type Category = 'toolCalls' | 'apiCalls' | 'streamingEvents' | 'websocketCalls' | 'websocketEvents';

/** Metric name -> what it counts or times. */
const COUNTERS: ReadonlyMap<string, Category> = new Map([
  ['codex.tool.call', 'toolCalls'],
  ['codex.api_request', 'apiCalls'],
  ['codex.sse_event', 'streamingEvents'],
  ['codex.websocket.request', 'websocketCalls'],
  ['codex.websocket.event', 'websocketEvents'],
]);
const DURATIONS: ReadonlyMap<string, Category> = new Map([
  ['codex.tool.call.duration_ms', 'toolCalls'],
  ['codex.api_request.duration_ms', 'apiCalls'],
  ['codex.sse_event.duration_ms', 'streamingEvents'],
  ['codex.websocket.request.duration_ms', 'websocketCalls'],
  ['codex.websocket.event.duration_ms', 'websocketEvents'],
]);
const TTFT = 'codex.turn.ttft.duration_ms';
const TTFM = 'codex.turn.ttfm.duration_ms';

type MutableSummary = { [K in Category]: { count: number; totalDurationMs: number } };

interface MutableTool {
  success: number;
  failure: number;
  lastError: string | null;
  lastLatencyMs: number | null;
  totalLatencyMs: number;
}

export interface SessionInsights {
  /** Takes in one accepted record (its session tags already added). Cheap for names it does not know. */
  observe(record: MetricRecord): void;
  summary(sessionId: string): SessionSummary.Result | undefined;
  tools(): ToolsMetrics.Result;
  resetTools(): void;
  /** A failed tool call's error message (from a `codex.tool_result` event), kept as the tool's `lastError`. */
  toolError(tool: string, message: string): void;
}

function valuesOf(record: MetricRecord): readonly number[] {
  return record.values ?? [record.value as number];
}

/** A tool call's outcome from Codex's tags: `success` (`true`/`false`) or `status` (`ok` or the error). */
function outcomeOf(tags: Readonly<Record<string, string>> | undefined): { ok: boolean; error: string | null } {
  const success = tags?.success;
  if (success !== undefined) return { ok: success === 'true', error: success === 'true' ? null : (tags?.status ?? 'failed') };
  const status = tags?.status;
  if (status === undefined || status === 'ok' || status === 'success') return { ok: true, error: null };
  return { ok: false, error: status };
}

export function createSessionInsights(): SessionInsights {
  const summaries = new Map<string, { categories: MutableSummary; ttft: number | null; ttfm: number | null }>();
  const tools = new Map<string, MutableTool>();

  function summaryFor(sessionId: string): { categories: MutableSummary; ttft: number | null; ttfm: number | null } {
    let entry = summaries.get(sessionId);
    if (entry === undefined) {
      if (summaries.size >= MAX_SUMMARIES) summaries.delete(summaries.keys().next().value as string);
      const zero = (): { count: number; totalDurationMs: number } => ({ count: 0, totalDurationMs: 0 });
      entry = { categories: { toolCalls: zero(), apiCalls: zero(), streamingEvents: zero(), websocketCalls: zero(), websocketEvents: zero() }, ttft: null, ttfm: null };
      summaries.set(sessionId, entry);
    }
    return entry;
  }

  function toolFor(name: string): MutableTool | undefined {
    let tool = tools.get(name);
    if (tool === undefined && tools.size < MAX_TOOLS) {
      tool = { success: 0, failure: 0, lastError: null, lastLatencyMs: null, totalLatencyMs: 0 };
      tools.set(name, tool);
    }
    return tool;
  }

  return {
    observe(record) {
      const counted = COUNTERS.get(record.name);
      const timed = counted === undefined ? DURATIONS.get(record.name) : undefined;
      if (counted === undefined && timed === undefined && record.name !== TTFT && record.name !== TTFM) return;
      const values = valuesOf(record);
      if (record.sessionId !== undefined) {
        const summary = summaryFor(record.sessionId);
        if (counted !== undefined) for (const value of values) summary.categories[counted].count += value;
        if (timed !== undefined) for (const value of values) summary.categories[timed].totalDurationMs += value;
        if (record.name === TTFT) summary.ttft = values[values.length - 1] as number;
        if (record.name === TTFM) summary.ttfm = values[values.length - 1] as number;
      }
      const toolName = record.tags?.tool;
      if (toolName === undefined) return;
      if (counted === 'toolCalls') {
        const tool = toolFor(toolName);
        if (tool === undefined) return;
        const outcome = outcomeOf(record.tags);
        const calls = values.reduce((sum, value) => sum + value, 0);
        if (outcome.ok) tool.success += calls;
        else {
          tool.failure += calls;
          tool.lastError = outcome.error;
        }
      } else if (timed === 'toolCalls') {
        const tool = toolFor(toolName);
        if (tool === undefined) return;
        for (const value of values) tool.totalLatencyMs += value;
        tool.lastLatencyMs = values[values.length - 1] as number;
      }
    },
    summary(sessionId) {
      const entry = summaries.get(sessionId);
      if (entry === undefined) return undefined;
      const copy = (value: { count: number; totalDurationMs: number }): CountAndDuration => ({ ...value });
      const { categories } = entry;
      return {
        sessionId,
        toolCalls: copy(categories.toolCalls),
        apiCalls: copy(categories.apiCalls),
        streamingEvents: copy(categories.streamingEvents),
        websocketCalls: copy(categories.websocketCalls),
        websocketEvents: copy(categories.websocketEvents),
        lastTtftMs: entry.ttft,
        lastTtfmMs: entry.ttfm,
      };
    },
    tools() {
      const result: Record<string, ToolStats> = {};
      for (const [name, tool] of tools) result[name] = { ...tool };
      return { tools: result };
    },
    resetTools() {
      tools.clear();
    },
    toolError(name, message) {
      const tool = toolFor(name);
      if (tool !== undefined) tool.lastError = message.slice(0, MAX_ERROR_LENGTH);
    },
  };
}
