/**
 * Row 8 of `npm run bench`: what one span costs the host (bench/fixtures/span-cost.mjs), the
 * client's flush included, against SDK spans serialised as OTLP and, for 8d, never serialised.
 */
import { join } from 'node:path';

import { check } from '../lib/checks.ts';
import { type BenchEnv, FIXTURES, ROOT, type RunningDaemon } from '../lib/daemon.ts';
import { delivered, laneDelta, settled } from '../lib/lanes.ts';
import { lastJsonLine, runTimed } from '../lib/processes.ts';
import { count, type SpanConfig } from './spans-config.ts';

export interface SpanCostResult {
  readonly spans: number;
  readonly chunk: number;
  readonly clientNs: number[];
  /** The client's calls alone (start, attributes, end), without the flush. */
  readonly clientCallsNs: number[];
  readonly sdkNs: number[];
  readonly sent: number;
  readonly dropped: Record<string, number>;
  readonly ignored: Record<string, number>;
  readonly open: number;
  readonly daemonFlushesIncomplete: number;
  readonly sdkMade: number;
  readonly sdkExported: number;
  /** The same SDK spans with an exporter that serialises each batch as OTLP protobuf. */
  readonly sdkSerialisedNs: number[];
  readonly sdkSerialisedExported: number;
}

/** Row 8: bench/fixtures/span-cost.mjs against the running daemon; checks what both sides delivered. */
export async function measureSpanCost(config: SpanConfig, bench: BenchEnv, daemon: RunningDaemon): Promise<SpanCostResult> {
  const before = await daemon.status();
  const run = await runTimed(
    [join(FIXTURES, 'span-cost.mjs'), String(config.costSpans), String(config.costRounds), String(config.costWarmup), String(config.costChunk)],
    { env: bench.env, cwd: ROOT },
    300_000,
  );
  const result = lastJsonLine<SpanCostResult>(run.stdout);
  // close() has written everything; wait until the daemon has exported it too.
  const after = await settled(daemon, (status) => status.signals.traces.received - before.signals.traces.received >= result.sent);
  const traces = laneDelta(delivered(before, 'traces'), delivered(after, 'traces'));
  const rounds = config.costWarmup + config.costRounds;
  const expected = rounds * config.costSpans + 1;
  check(
    result.sent === expected &&
      Object.keys(result.dropped).length + Object.keys(result.ignored).length === 0 &&
      result.open === 0 &&
      result.daemonFlushesIncomplete === 0 &&
      traces.received === result.sent &&
      traces.accepted === result.sent &&
      traces.exported === traces.accepted &&
      traces.rejected === 0 &&
      Object.keys(traces.dropped).length === 0,
    `row 8: the client sent ${count(result.sent)} spans (${rounds} rounds × ${count(config.costSpans)} and one readiness span; expected ${count(expected)}), dropped ${JSON.stringify(result.dropped)}, left out parts of ${JSON.stringify(result.ignored)}, ${result.open} left open; ` +
      `the trace lane received ${count(traces.received)}, accepted ${count(traces.accepted)}, exported ${count(traces.exported)}, rejected ${traces.rejected}, dropped ${JSON.stringify(traces.dropped)}; every \`daemon/flush\` between rounds completed (${result.daemonFlushesIncomplete} did not)`,
  );
  check(
    result.sdkExported === result.sdkMade && result.sdkSerialisedExported === result.sdkMade,
    `row 8: the in-process SDK's batch processors handed all of their ${count(result.sdkMade)} spans to the no-op exporter (${count(result.sdkExported)}) and to the serialising one (${count(result.sdkSerialisedExported)}): their queues never dropped`,
  );
  return result;
}
