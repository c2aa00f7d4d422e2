/**
 * Rows 1 and 1b of `npm run bench`: what one metric call costs the host, the thin client's flush
 * included, against the in-process OpenTelemetry SDK in the same process (bench/fixtures/record-cost.mjs).
 *
 *   1   `counter('codex.tool.call', 1, tags)` vs `counter.add()`
 *   1b  `histogram('codex.tool.duration_ms', value, tags)` vs `histogram.record()`, for context
 */
import { join } from 'node:path';

import { check, log, rows } from '../lib/checks.ts';
import { type BenchEnv, FIXTURES, ROOT } from '../lib/daemon.ts';
import { lastJsonLine, runTimed } from '../lib/processes.ts';
import { fmt, median, spread } from '../lib/report.ts';

export function clientCostConfig(quick: boolean) {
  return {
    /** Row 1: calls per round, measured rounds, warm-up rounds, calls between two flushes. */
    costCalls: quick ? 50_000 : 200_000,
    costRounds: quick ? 3 : 7,
    costWarmup: quick ? 1 : 3,
    costChunk: 1000,
    histogramCalls: quick ? 20_000 : 100_000,
    histogramRounds: quick ? 3 : 5,
  };
}

type ClientCostConfig = ReturnType<typeof clientCostConfig>;

/** Target of row 1: a counter increment costs the host at most this share of an SDK `counter.add()`. */
const TARGET_COST_RATIO = 0.25;

interface CostResult {
  readonly kind: string;
  readonly calls: number;
  readonly chunk: number;
  readonly clientNs: number[];
  readonly sdkNs: number[];
  readonly sent: number;
  readonly dropped: Record<string, number>;
}

/** One of rows 1 and 1b: bench/fixtures/record-cost.mjs against the running daemon; checks the client dropped nothing. */
async function measureCost(config: ClientCostConfig, bench: BenchEnv, kind: 'counter' | 'histogram', calls: number, rounds: number): Promise<CostResult> {
  const run = await runTimed(
    [join(FIXTURES, 'record-cost.mjs'), kind, String(calls), String(rounds), String(config.costWarmup), String(config.costChunk)],
    { env: bench.env, cwd: ROOT },
    120_000,
  );
  const result = lastJsonLine<CostResult>(run.stdout);
  check(Object.keys(result.dropped).length === 0, `row 1 (${kind}): the client dropped nothing (${JSON.stringify(result.dropped)}), sent ${result.sent} records`);
  return result;
}

export interface ClientCostDetails {
  readonly config: ClientCostConfig;
  readonly counter: CostResult;
  readonly histogram: CostResult;
}

/** Rows 1 and 1b against the running daemon of run.ts (the one rows 2 and 5 use after them). */
export async function rowClientCost(quick: boolean, bench: BenchEnv): Promise<ClientCostDetails> {
  const config = clientCostConfig(quick);
  log('row 1: per-call cost (counter, then histogram for context)');
  const counter = await measureCost(config, bench, 'counter', config.costCalls, config.costRounds);
  const histogram = await measureCost(config, bench, 'histogram', config.histogramCalls, config.histogramRounds);
  const clientNs = median(counter.clientNs);
  const sdkNs = median(counter.sdkNs);
  rows.push({
    id: '1',
    what: 'counter increment: thin client (incl. flush)',
    measured: fmt.ns(clientNs),
    baseline: `SDK counter.add(): ${fmt.ns(sdkNs)}`,
    comparison: fmt.ratio(clientNs / sdkNs),
    target: `≤ ${TARGET_COST_RATIO.toFixed(2)}×`,
    met: clientNs / sdkNs <= TARGET_COST_RATIO,
  });
  const hClient = median(histogram.clientNs);
  const hSdk = median(histogram.sdkNs);
  rows.push({
    id: '1b',
    what: 'histogram value: thin client (incl. flush)',
    measured: fmt.ns(hClient),
    baseline: `SDK histogram.record(): ${fmt.ns(hSdk)}`,
    comparison: fmt.ratio(hClient / hSdk),
    target: '—',
    met: null,
  });
  return { config, counter, histogram };
}

/** Section 1 of docs/benchmarks.md: how rows 1 and 1b were measured, with their spreads. */
export function clientCostDoc(details: ClientCostDetails): string[] {
  const { config, counter, histogram } = details;
  return [
    '### 1. Client cost per counter increment',
    '',
    `bench/fixtures/record-cost.mjs, one process with a daemon running. Each round makes ${counter.calls.toLocaleString('en-US')} calls of ` +
      "`counter('codex.tool.call', 1, { tool, status })` with a fresh tags object per call over four rotating tag sets; the client side " +
      `\`await client.flush()\`es after every ${counter.chunk.toLocaleString('en-US')} calls, so its figure includes serialising the batch and writing it to the socket ` +
      '(counters with equal tags are summed in the client, so each flush sends four records). The SDK side calls `counter.add(1, { tool, status })` on a ' +
      '`MeterProvider` with a `PeriodicExportingMetricReader` (in-memory exporter, one-hour interval) and awaits a resolved promise at the same points; ' +
      'its later collection and export are not in its figure; nor is the daemon\'s work on the client\'s records, which runs in the daemon\'s process. Client and SDK rounds alternate in one process (order swapped every round), ' +
      `${config.costWarmup} warm-up rounds each, then the median of ${counter.clientNs.length} rounds: ns = wall time of the round / calls. ` +
      `Per-round spread: client ${spread(counter.clientNs, 0)} ns, SDK ${spread(counter.sdkNs, 0)} ns. ` +
      `Row 1b is the same with \`histogram('codex.tool.duration_ms', value, tags)\` / \`histogram.record()\` (${histogram.calls.toLocaleString('en-US')} calls per round), where the client ` +
      `cannot sum and sends every call as one record (spread: client ${spread(histogram.clientNs, 0)} ns, SDK ${spread(histogram.sdkNs, 0)} ns).`,
  ];
}
