/**
 * Row 8 of `npm run bench`: spans a host makes itself (`startSpan()` ... `end()`), each figure
 * measured side by side with the in-process OpenTelemetry SDK in the same run.
 *
 *   8   per-span cost on the host's thread: start, three attributes, end, the client's flush
 *       included (bench/fixtures/span-cost.mjs) vs an SDK span through a BatchSpanProcessor
 *       whose exporter serialises it as OTLP, forceFlush() included; 8d: vs the same SDK with a
 *       no-op exporter, its floor
 *   8b  spans/s the daemon takes into its trace lane from 4 client processes sending turns of
 *       ended spans (span-client.mjs, span-tree.mjs), every span accounted for; context: one
 *       process's own SDK taking the same spans (span-sdk-rate.mjs)
 *   8c  the whole process of one exec-sized session (400 spans, 60 metric points, 10 session
 *       events, close()) vs the same through the SDK exporting over OTLP/gRPC, and vs `node -e 0`
 *
 * bench/run.ts calls {@link rowSpans} with a daemon of its own and renders {@link spansDoc}. 8 is
 * in spans-cost.ts, 8b in spans-rate.ts, 8c in spans-exec.ts, the doc section in spans-doc.ts.
 */
import { log, rows } from '../lib/checks.ts';
import type { BenchEnv, RunningDaemon } from '../lib/daemon.ts';
import { loadReceiverModule } from '../lib/receiver.ts';
import { fmt, median } from '../lib/report.ts';
import { type SpanCostResult, measureSpanCost } from './spans-cost.ts';
import { count, EXEC, mibOfKiB, nsPerSpan, type SpanConfig, spanConfig, spanRate, TURN_SPANS } from './spans-config.ts';
import { type ExecResult, measureExec } from './spans-exec.ts';
import { measureSdkSpanRate, type SdkSpanRate, type SpanRateResult, measureSpanRate } from './spans-rate.ts';

export { spanConfig } from './spans-config.ts';
export { spansDoc } from './spans-doc.ts';

/** Target of row 8: a span costs the host at most this share of what an in-process SDK span costs, serialising included. */
const TARGET_COST_RATIO = 0.5;

export interface SpanDetails {
  readonly config: SpanConfig;
  readonly cost: SpanCostResult;
  readonly rate: SpanRateResult[];
  readonly sdkRate: SdkSpanRate;
  readonly exec: ExecResult;
}

/** Row 8 on a fresh daemon of run.ts's (file exporters, `export_interval_ms = 1000`): 8b, then 8, then 8c. */
export async function rowSpans(quick: boolean, bench: BenchEnv, daemon: RunningDaemon): Promise<SpanDetails> {
  const config = spanConfig(quick);
  const n = config.rateClients;
  log('row 8b: host spans through the daemon into the trace lane');
  // As in rows 3 and 6: one short untimed (but checked) run first, so the daemon's steady state is measured.
  await measureSpanRate(config, bench, daemon, 'row 8b warm-up', 0, config.rateWarmupTurns);
  const rate: SpanRateResult[] = [];
  for (let repeat = 0; repeat < config.rateRepeats; repeat++) {
    const result = await measureSpanRate(config, bench, daemon, `row 8b run ${repeat + 1}`, (repeat + 1) * n, config.rateTurns);
    log(`  run ${repeat + 1}: ${spanRate(result.rate)} (${result.accepted} spans in ${result.acceptedMs.toFixed(0)} ms; exported after ${result.exportedMs.toFixed(0)} ms)`);
    rate.push(result);
  }
  const sdkRate = await measureSdkSpanRate(config, bench);
  log('row 8: per-span cost, thin client vs in-process SDK');
  const cost = await measureSpanCost(config, bench, daemon);
  log('row 8c: an exec-sized session, whole process (loading the OTLP receiver)');
  const receiver = await (await loadReceiverModule()).module.startOtlpReceiver();
  let exec: ExecResult;
  try {
    exec = await measureExec(config, bench, daemon, receiver);
  } finally {
    await receiver.close();
  }

  const clientNs = median(cost.clientNs);
  const sdkNs = median(cost.sdkNs);
  const sdkSerialisedNs = median(cost.sdkSerialisedNs);
  // Like with like: each side's figure holds all it does on the host's thread until its spans
  // are ready to leave the process (the client: written to the socket; the SDK: serialised as
  // the OTLP request its exporter sends). The SDK's network send is left out, to its favour.
  rows.push({
    id: '8',
    what: 'span (start, 3 attributes, end): thin client (incl. flush)',
    measured: nsPerSpan(clientNs),
    baseline: `SDK span + BatchSpanProcessor + OTLP serialising (incl. forceFlush): ${nsPerSpan(sdkSerialisedNs)}`,
    comparison: fmt.ratio(clientNs / sdkSerialisedNs),
    target: `≤ ${TARGET_COST_RATIO.toFixed(2)}×`,
    met: clientNs / sdkSerialisedNs <= TARGET_COST_RATIO,
  });
  rows.push({
    id: '8d',
    what: "same span: thin client (incl. flush), against the SDK's floor",
    measured: nsPerSpan(clientNs),
    baseline: `SDK span + BatchSpanProcessor, no-op exporter (never serialised): ${nsPerSpan(sdkNs)}`,
    comparison: fmt.ratio(clientNs / sdkNs),
    target: '—',
    met: null,
  });
  const accepted = median(rate.map((run) => run.rate));
  const sdk = median(sdkRate.rates);
  rows.push({
    id: '8b',
    what: `host spans, ${n} procs × ${count(config.rateTurns * TURN_SPANS)}, into the trace lane (windowed)`,
    measured: spanRate(accepted),
    baseline: `1 proc, in-process SDK: ${spanRate(sdk)}`,
    comparison: fmt.ratio(accepted / sdk),
    target: 'received = accepted = exported',
    met: rate.every((run) => run.exact),
  });
  const nodeMs = median(exec.nodeMs);
  const execClientMs = median(exec.clientMs);
  const execSdkMs = median(exec.sdkMs);
  rows.push({
    id: '8c',
    what: `exec-sized session (${EXEC.spans} spans, ${EXEC.metrics} metrics, ${EXEC.events} events) + close(): thin client`,
    measured: `${fmt.ms(execClientMs)}, RSS ${mibOfKiB(median(exec.clientRssKiB))}`,
    baseline: `SDK + OTLP/gRPC + shutdown(): ${fmt.ms(execSdkMs)}, RSS ${mibOfKiB(median(exec.sdkRssKiB))}; node -e 0: ${fmt.ms(nodeMs)}, RSS ${mibOfKiB(median(exec.nodeRssKiB))}`,
    comparison: `${fmt.signedMs(execClientMs - nodeMs)} over node -e 0 (SDK: ${fmt.signedMs(execSdkMs - nodeMs)}); ${fmt.ratio(execClientMs / execSdkMs)} the SDK's`,
    target: '—',
    met: null,
  });
  return { config, cost, rate, sdkRate, exec };
}
