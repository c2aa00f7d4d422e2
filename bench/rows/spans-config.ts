/** Row 8's settings, the shape of its workloads, and how its figures print. */
/** Spans in one turn of bench/fixtures/span-tree.mjs (TURN_SPANS). */
export const TURN_SPANS = 16;
/** One exec of bench/fixtures/exec-workload.mjs: spans, metric points, session events, and what its `codex.tool.call` counters add up to. */
export const EXEC = { spans: 400, metrics: 60, events: 10, counterSum: 30 } as const;
/** Records per export of the daemon's trace lane (MAX_EXPORT_BATCH in daemon/event-lanes.ts). */
export const LANE_EXPORT_BATCH = 512;

export function spanConfig(quick: boolean) {
  return {
    /** Row 8: spans per round (below a lane's 20,000), measured rounds, warm-up rounds, spans per flush. */
    costSpans: quick ? 5000 : 10_000,
    costRounds: quick ? 3 : 7,
    costWarmup: quick ? 1 : 3,
    costChunk: 250,
    /** Row 8b: concurrent client processes, turns each (16 spans a turn), turns per flush, repetitions. */
    rateClients: 4,
    rateTurns: quick ? 320 : 1600,
    rateChunkTurns: 16,
    rateRepeats: quick ? 1 : 3,
    rateWarmupTurns: quick ? 128 : 640,
    /**
     * Spans handed out but not yet received plus the trace lane's unexported ones, at most: half
     * of what the lane holds (MAX_LANE_QUEUE in daemon/event-lanes.ts) before it drops.
     */
    rateWindow: 10_000,
    /** From the first chunk handed out until the lane has exported every span, at most. */
    rateTimeoutMs: 60_000,
    /** Once every client has exited, this long without progress (received or exported) ends the wait. */
    rateStallMs: 5000,
    /** Row 8b's context: turns per round of the in-process SDK, measured rounds (after one warm-up). */
    sdkRateTurns: quick ? 1600 : 6400,
    sdkRateRounds: 3,
    /** Row 8c: timed runs of each command (interleaved), untimed warm-up runs of each, untimed runs of each that report peak RSS. */
    execRuns: quick ? 5 : 20,
    execWarmup: 2,
    execRssRuns: 3,
  };
}

export type SpanConfig = ReturnType<typeof spanConfig>;

export const spanRate = (value: number): string => `${Math.round(value).toLocaleString('en-US')} spans/s`;
export const nsPerSpan = (value: number): string => `${value.toFixed(0)} ns/span`;
export const mibOfKiB = (value: number): string => `${(value / 1024).toFixed(1)} MiB`;
export const count = (value: number): string => value.toLocaleString('en-US');
