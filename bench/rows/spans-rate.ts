/**
 * Row 8b of `npm run bench`: spans per second the daemon takes into its trace lane from client
 * processes sending turns of ended spans, every span accounted for; context: one process's own
 * SDK taking the same spans (bench/fixtures/span-sdk-rate.mjs).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import type { SpanStats } from '../../dist/client/index.js';
import { check } from '../lib/checks.ts';
import { addCounts, type ClientReport, createChunkFeeder, startClientGroup, sumReports } from '../lib/client-group.ts';
import { type BenchEnv, FIXTURES, ROOT, type RunningDaemon } from '../lib/daemon.ts';
import { delivered, type LaneDelta, laneDelta } from '../lib/lanes.ts';
import { lastJsonLine, processCpuMs, runTimed } from '../lib/processes.ts';
import { count, LANE_EXPORT_BATCH, type SpanConfig, TURN_SPANS } from './spans-config.ts';

export interface SpanRateResult {
  readonly total: number;
  /** Spans the trace lane accepted per second, from the first chunk handed out to the poll that saw the last span arrive. */
  readonly rate: number;
  readonly acceptedMs: number;
  readonly accepted: number;
  /** From the start until the lane had exported all but its last, partial batch, and every span. */
  readonly drainedMs: number;
  readonly exportedMs: number;
  readonly peakBuffered: number;
  readonly complete: boolean;
  readonly exported: boolean;
  /** Every span received was accepted and exported, none rejected or dropped, by the daemon or the clients. */
  readonly exact: boolean;
  readonly daemonCpuMs: number | null;
  readonly clientsCpuMs: number;
}

/**
 * Row 8b, one run: `rateClients` processes start a session each and end one readiness span;
 * once the daemon has counted and exported those, the benchmark hands out chunks of turns, one at
 * a time to the clients in turn, as long as the spans handed out but not yet received plus the
 * trace lane's unexported ones stay within `rateWindow`. Polls `daemon/status` until the lane has
 * received every span (the rate is taken at that poll), then until it has exported them all.
 */
export async function measureSpanRate(config: SpanConfig, bench: BenchEnv, daemon: RunningDaemon, label: string, seedBase: number, turnsEach: number): Promise<SpanRateResult> {
  const n = config.rateClients;
  const chunkTurns = config.rateChunkTurns;
  const perClient = turnsEach * TURN_SPANS;
  const total = n * perClient;
  const before = await daemon.status();
  const group = await startClientGroup(bench, {
    count: n,
    args: (index) => [join(FIXTURES, 'span-client.mjs'), String(turnsEach), String(chunkTurns), String(seedBase + index)],
    ignoreStdinErrors: true,
  });
  // Each client ended one readiness span; wait until the daemon has counted and exported them.
  let base = before;
  for (let attempt = 0; ; attempt++) {
    base = await daemon.status();
    if (base.signals.traces.received >= before.signals.traces.received + n && base.signals.traces.buffered === 0) break;
    if (attempt > 1000) throw new Error(`${label}: the daemon did not count and export the span clients' readiness spans`);
    await sleep(5);
  }

  const feeder = createChunkFeeder(group.clients, { unitsEach: turnsEach, chunkUnits: chunkTurns, itemsPerUnit: TURN_SPANS, window: config.rateWindow });

  const daemonCpuBefore = processCpuMs(daemon.pid);
  const started = performance.now();
  feeder.handOut(0, 0);
  let received = 0;
  let accepted = 0;
  let acceptedMs = 0;
  let drainedMs = Number.NaN;
  let daemonCpuDrained: number | null = null;
  let exportedMs = Number.NaN;
  let peakBuffered = 0;
  let complete = false;
  let exported = false;
  let lastProgressAt = started;
  let lastExported = 0;
  let last = base;
  for (;;) {
    const status = await daemon.status();
    const now = performance.now();
    last = status;
    const traces = laneDelta(delivered(base, 'traces'), delivered(status, 'traces'));
    const buffered = status.signals.traces.buffered;
    peakBuffered = Math.max(peakBuffered, buffered);
    if (!complete && traces.received > received) {
      received = traces.received;
      accepted = traces.accepted;
      // Taken at the poll that saw the latest spans, so a stall is not counted.
      acceptedMs = now - started;
      lastProgressAt = now;
      complete = received >= total;
    }
    feeder.handOut(traces.received, buffered);
    if (traces.exported > lastExported) {
      lastExported = traces.exported;
      lastProgressAt = now;
    }
    // The batch processor exports a full batch at once; the last, partial one waits for the
    // scheduled delay (export_interval_ms).
    if (complete && Number.isNaN(drainedMs) && traces.exported + LANE_EXPORT_BATCH > traces.accepted) {
      drainedMs = now - started;
      daemonCpuDrained = processCpuMs(daemon.pid);
    }
    if (complete && traces.exported >= traces.accepted && buffered === 0) {
      exported = true;
      exportedMs = now - started;
      break;
    }
    if (now - started > config.rateTimeoutMs) break;
    // Every client has written everything and exited, yet nothing moves: spans were lost or stuck.
    if (group.running() === 0 && now - lastProgressAt > config.rateStallMs) break;
    await sleep(5);
  }
  const daemonCpuAfter = daemonCpuDrained ?? processCpuMs(daemon.pid);
  feeder.handOutRest();
  const sums = sumReports<SpanStats & ClientReport>(await group.exits, `${label}: a span client`);
  const { sent, cpuMs: clientsCpuMs, dropped: clientDropped } = sums;
  const clientIgnored: Record<string, number> = {};
  for (const report of sums.reports) addCounts(clientIgnored, report.ignored);
  const traces: LaneDelta = laneDelta(delivered(base, 'traces'), delivered(last, 'traces'));
  const withSession = (last.spans?.withSession ?? 0) - (base.spans?.withSession ?? 0);
  const clientsExact = complete && sent === total + n && Object.keys(clientDropped).length + Object.keys(clientIgnored).length === 0;
  check(
    clientsExact,
    `${label}: ${n} clients sent ${count(sent - n)} of ${count(total)} spans (${count(turnsEach)} turns of ${TURN_SPANS} each), dropped ${JSON.stringify(clientDropped)}, left out parts of ${JSON.stringify(clientIgnored)}; ` +
      `the daemon received ${count(received)} within ${(acceptedMs / 1000).toFixed(2)} s` +
      (complete ? '' : ` (${count(total - received)} never counted${group.running() === 0 ? ' although every client had written them and exited' : ''})`),
  );
  const laneExact = traces.received === total && traces.accepted === total && traces.rejected === 0 && Object.keys(traces.dropped).length === 0 && withSession === total;
  check(
    laneExact,
    `${label}: the trace lane accepted every span it received, none rejected or dropped (received ${count(traces.received)}, accepted ${count(traces.accepted)}, rejected ${traces.rejected}, dropped ${JSON.stringify(traces.dropped)}; ` +
      `${count(withSession)} got their session's context, \`spans.withSession\`; the lane held at most ${count(peakBuffered)} unexported)`,
  );
  const exportedExact = exported && traces.exported === traces.accepted && traces.failed === 0;
  check(
    exportedExact,
    `${label}: the trace lane exported every accepted span to traces.jsonl within ${(exportedMs / 1000).toFixed(2)} s (exported ${count(traces.exported)} of ${count(traces.accepted)}, buffered at the end ${last.signals.traces.buffered}, failed ${traces.failed})`,
  );
  return {
    total,
    rate: accepted / (acceptedMs / 1000),
    acceptedMs,
    accepted,
    drainedMs,
    exportedMs,
    peakBuffered,
    complete,
    exported,
    exact: clientsExact && laneExact && exportedExact,
    daemonCpuMs: daemonCpuBefore === null || daemonCpuAfter === null ? null : daemonCpuAfter - daemonCpuBefore,
    clientsCpuMs,
  };
}

export interface SdkSpanRate {
  readonly spans: number;
  readonly rates: number[];
}

/** Row 8b's context: bench/fixtures/span-sdk-rate.mjs, the same turns into one process's own SDK. */
export async function measureSdkSpanRate(config: SpanConfig, bench: BenchEnv): Promise<SdkSpanRate> {
  const run = await runTimed([join(FIXTURES, 'span-sdk-rate.mjs'), String(config.sdkRateTurns), String(config.sdkRateRounds), String(config.rateChunkTurns)], { env: bench.env, cwd: ROOT }, 120_000);
  const result = lastJsonLine<SdkSpanRate & { made: number; exported: number }>(run.stdout);
  check(
    result.exported === result.made,
    `row 8b baseline: the in-process SDK's batch processor handed all of its ${count(result.made)} spans (warm-up round included) to the no-op exporter (${count(result.exported)}): its queue never dropped`,
  );
  return result;
}
