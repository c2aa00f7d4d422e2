/**
 * Row 8c of `npm run bench`: the whole process of one exec-sized session (400 spans, 60 metric
 * points, 10 session events, close()) through the thin client vs the same through the SDK
 * exporting over OTLP/gRPC, and vs `node -e 0`; delivery checked on both sides.
 */
import { join } from 'node:path';

import type { ClientStats } from '../../dist/client/index.js';
import { check } from '../lib/checks.ts';
import { type BenchEnv, FIXTURES, ROOT, type RunningDaemon } from '../lib/daemon.ts';
import { delivered, laneDelta, settled } from '../lib/lanes.ts';
import { lastJsonLine, runTimed } from '../lib/processes.ts';
import type { OtlpReceiver } from '../lib/receiver.ts';
import { count, EXEC, type SpanConfig } from './spans-config.ts';

type ExecName = 'node' | 'client' | 'sdk';

export interface ExecResult {
  readonly nodeMs: number[];
  readonly clientMs: number[];
  readonly sdkMs: number[];
  /** Peak RSS (`process.resourceUsage().maxRSS`, KiB) of the untimed runs that report it. */
  readonly nodeRssKiB: number[];
  readonly clientRssKiB: number[];
  readonly sdkRssKiB: number[];
  /** Metric records one client run sends for its 60 points (the client sums equal counters). */
  readonly recordsPerRun: number;
}

const NODE_RSS = 'process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }) + "\\n")';

/**
 * Row 8c: the exec-sized CLIs against the running daemon and the OTLP receiver, interleaved with
 * `node -e 0` in one loop (order rotated every round), as rows 2 and 5 are. Before them, untimed
 * rounds with BENCH_VERIFY=1, in which each command reports its peak RSS (for `node`, a one-line
 * script doing only that) and the client its stats; then delivery is checked on both sides.
 */
export async function measureExec(config: SpanConfig, bench: BenchEnv, daemon: RunningDaemon, receiver: OtlpReceiver): Promise<ExecResult> {
  const env = { ...bench.env, BENCH_OTLP_ENDPOINT: receiver.endpoint };
  const commands: Record<ExecName, string[]> = { node: ['-e', '0'], client: [join(FIXTURES, 'cli-exec-client.mjs')], sdk: [join(FIXTURES, 'cli-exec-sdk.mjs')] };
  const names: ExecName[] = ['node', 'client', 'sdk'];
  const before = await daemon.status();
  const receiverBefore = {
    spans: receiver.spans().length,
    logs: receiver.logRecords().length,
    counterSum: receiver.sumOf('codex.tool.call'),
    histogramCount: receiver.histogramTotals('codex.tool.duration_ms').count,
  };
  const runs: Record<ExecName, number> = { node: 0, client: 0, sdk: 0 };
  const rss: Record<ExecName, number[]> = { node: [], client: [], sdk: [] };
  const clientStats: ClientStats[] = [];
  for (let round = 0; round < config.execRssRuns; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length] as ExecName;
      const args = name === 'node' ? ['-e', NODE_RSS] : commands[name];
      const result = await runTimed(args, { env: { ...env, BENCH_VERIFY: '1' }, cwd: ROOT });
      runs[name]++;
      const reported = lastJsonLine<{ maxRssKiB: number; stats?: ClientStats }>(result.stdout);
      rss[name].push(reported.maxRssKiB);
      if (reported.stats !== undefined) clientStats.push(reported.stats);
    }
  }
  const times: Record<ExecName, number[]> = { node: [], client: [], sdk: [] };
  for (let run = 0; run < config.execWarmup + config.execRuns; run++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(run + k) % names.length] as ExecName;
      const result = await runTimed(commands[name], { env, cwd: ROOT });
      runs[name]++;
      if (run >= config.execWarmup) times[name].push(result.wallMs);
    }
  }

  // The client side: every verified run sent all of it, dropped and handed over nothing.
  const recordsPerRun = clientStats[0]?.sent ?? 0;
  const clientExact = clientStats.every(
    (stats) =>
      stats.sent === recordsPerRun &&
      stats.handedOff + stats.events.handedOff + stats.spans.handedOff === 0 &&
      stats.events.sent === EXEC.events &&
      stats.spans.sent === EXEC.spans &&
      Object.keys(stats.dropped).length + Object.keys(stats.events.dropped).length + Object.keys(stats.spans.dropped).length + Object.keys(stats.spans.ignored).length === 0,
  );
  const statsText = (stats: ClientStats | undefined): string =>
    stats === undefined
      ? 'none'
      : `${stats.sent} records, ${stats.events.sent} events, ${stats.spans.sent} spans sent; handed over ${stats.handedOff}/${stats.events.handedOff}/${stats.spans.handedOff}; dropped ${JSON.stringify(stats.dropped)}/${JSON.stringify(stats.events.dropped)}/${JSON.stringify(stats.spans.dropped)}`;
  check(
    clientExact && clientStats.length === config.execRssRuns,
    `row 8c: each of ${clientStats.length} verified client runs sent its ${EXEC.spans} spans, ${EXEC.events} session events and ${EXEC.metrics} metric points (${recordsPerRun} records once the client summed equal counters), dropped nothing and handed nothing over (first run: ${statsText(clientStats[0])})`,
  );
  // The daemon counted every client run's spans, events and records, and exported the spans and events.
  const spansExpected = runs.client * (EXEC.spans + EXEC.events);
  const after = await settled(daemon, (status) => status.signals.traces.received - before.signals.traces.received >= spansExpected);
  const traces = laneDelta(delivered(before, 'traces'), delivered(after, 'traces'));
  const logs = laneDelta(delivered(before, 'logs'), delivered(after, 'logs'));
  const metrics = laneDelta(before.signals.metrics, after.signals.metrics);
  const derived = after.events.derivedMeasurements - before.events.derivedMeasurements;
  const withSession = (after.spans?.withSession ?? 0) - (before.spans?.withSession ?? 0);
  check(
    traces.received === spansExpected &&
      traces.accepted === spansExpected &&
      traces.exported === spansExpected &&
      logs.accepted === runs.client * EXEC.events &&
      logs.exported === logs.accepted &&
      withSession === runs.client * EXEC.spans &&
      metrics.received === runs.client * recordsPerRun + derived &&
      metrics.accepted === metrics.received &&
      traces.rejected + logs.rejected + metrics.rejected === 0 &&
      Object.keys(traces.dropped).length + Object.keys(logs.dropped).length + Object.keys(metrics.dropped).length === 0,
    `row 8c: from ${runs.client} client runs the daemon accepted and exported ${count(traces.exported)} spans on the trace lane (expected ${count(spansExpected)}: per run, ${EXEC.spans} host spans and one span per event; \`spans.withSession\` counted ${count(withSession)} host spans with the session's context) and ${count(logs.exported)} log records, ` +
      `and accepted ${count(metrics.accepted)} metric records (${recordsPerRun} per run + ${count(derived)} derived from the events); rejected ${traces.rejected}/${logs.rejected}/${metrics.rejected}, dropped ${JSON.stringify(traces.dropped)}/${JSON.stringify(logs.dropped)}/${JSON.stringify(metrics.dropped)}`,
  );
  // The SDK side: the receiver took every SDK run's spans, log records and metric points.
  const sdkSpans = receiver.spans().length - receiverBefore.spans;
  const sdkLogs = receiver.logRecords().length - receiverBefore.logs;
  const sdkCounter = receiver.sumOf('codex.tool.call') - receiverBefore.counterSum;
  const sdkHistogram = receiver.histogramTotals('codex.tool.duration_ms').count - receiverBefore.histogramCount;
  check(
    sdkSpans === runs.sdk * (EXEC.spans + EXEC.events) && sdkLogs === runs.sdk * EXEC.events && sdkCounter === runs.sdk * EXEC.counterSum && sdkHistogram === runs.sdk * (EXEC.metrics - EXEC.counterSum),
    `row 8c: from ${runs.sdk} SDK runs the OTLP receiver took ${count(sdkSpans)} spans (expected ${count(runs.sdk * (EXEC.spans + EXEC.events))}), ${count(sdkLogs)} log records (expected ${count(runs.sdk * EXEC.events)}), ` +
      `codex.tool.call summing to ${count(sdkCounter)} (expected ${count(runs.sdk * EXEC.counterSum)}) and ${count(sdkHistogram)} codex.tool.duration_ms values (expected ${count(runs.sdk * (EXEC.metrics - EXEC.counterSum))})`,
  );
  return { nodeMs: times.node, clientMs: times.client, sdkMs: times.sdk, nodeRssKiB: rss.node, clientRssKiB: rss.client, sdkRssKiB: rss.sdk, recordsPerRun };
}
