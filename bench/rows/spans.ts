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
 * bench/run.ts calls {@link rowSpans} with a daemon of its own and renders {@link spansDoc}.
 */
import type { ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ClientStats, SpanStats } from '../../dist/client/index.js';
import type { DaemonStatus } from '../../dist/protocol/index.js';
import { check, log, problems, rows } from '../lib/checks.ts';
import { type BenchEnv, ORPHAN_GUARD, ROOT, type RunningDaemon } from '../lib/daemon.ts';
import { delivered, type LaneDelta, laneDelta } from '../lib/lanes.ts';
import { finished, processCpuMs, runTimed, startChild, waitForLine } from '../lib/processes.ts';
import { loadReceiverModule, type OtlpReceiver } from '../lib/receiver.ts';
import { fmt, median, spread } from '../lib/report.ts';

const FIXTURES = join(ROOT, 'bench/fixtures');

/** Spans in one turn of bench/fixtures/span-tree.mjs (TURN_SPANS). */
const TURN_SPANS = 16;
/** One exec of bench/fixtures/exec-workload.mjs: spans, metric points, session events, and what its `codex.tool.call` counters add up to. */
const EXEC = { spans: 400, metrics: 60, events: 10, counterSum: 30 } as const;
/** Records per export of the daemon's trace lane (MAX_EXPORT_BATCH in daemon/event-lanes.ts). */
const LANE_EXPORT_BATCH = 512;

/** Target of row 8: a span costs the host at most this share of what an in-process SDK span costs, serialising included. */
const TARGET_COST_RATIO = 0.5;

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

type SpanConfig = ReturnType<typeof spanConfig>;

const spanRate = (value: number): string => `${Math.round(value).toLocaleString('en-US')} spans/s`;
const nsPerSpan = (value: number): string => `${value.toFixed(0)} ns/span`;
const mibOfKiB = (value: number): string => `${(value / 1024).toFixed(1)} MiB`;
const count = (value: number): string => value.toLocaleString('en-US');

// ---------------------------------------------------------------- row 8: per-span cost

interface SpanCostResult {
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
async function measureSpanCost(config: SpanConfig, bench: BenchEnv, daemon: RunningDaemon): Promise<SpanCostResult> {
  const before = await daemon.status();
  const run = await runTimed(
    [join(FIXTURES, 'span-cost.mjs'), String(config.costSpans), String(config.costRounds), String(config.costWarmup), String(config.costChunk)],
    { env: bench.env, cwd: ROOT },
    300_000,
  );
  const result = JSON.parse(run.stdout.trim().split('\n').pop() as string) as SpanCostResult;
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

/** Polls `daemon/status` until `ready(status)` and both event lanes hold nothing unexported (at most 10 s). */
async function settled(daemon: RunningDaemon, ready: (status: DaemonStatus.Result) => boolean): Promise<DaemonStatus.Result> {
  let status = await daemon.status();
  for (let attempt = 0; attempt < 1000; attempt++) {
    if (ready(status) && status.signals.logs.buffered === 0 && status.signals.traces.buffered === 0) break;
    await sleep(10);
    status = await daemon.status();
  }
  return status;
}

// ---------------------------------------------------------------- row 8b: spans through the daemon

interface SpanRateResult {
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
async function measureSpanRate(config: SpanConfig, bench: BenchEnv, daemon: RunningDaemon, label: string, seedBase: number, turnsEach: number): Promise<SpanRateResult> {
  const n = config.rateClients;
  const chunkTurns = config.rateChunkTurns;
  const perClient = turnsEach * TURN_SPANS;
  const total = n * perClient;
  const before = await daemon.status();
  const clients: ChildProcess[] = [];
  for (let index = 0; index < n; index++) {
    const child = startChild(['--import', ORPHAN_GUARD, join(FIXTURES, 'span-client.mjs'), String(turnsEach), String(chunkTurns), String(seedBase + index)], {
      env: bench.env,
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // A client that died has its stdin closed: writing a chunk to it must not end the benchmark.
    child.stdin?.on('error', () => undefined);
    clients.push(child);
  }
  const readies = clients.map((child) => waitForLine(child, 'ready', 20_000));
  let running = n;
  const exits = clients.map((child) =>
    finished(child).finally(() => {
      running--;
    }),
  );
  await Promise.all(readies);
  // Each client ended one readiness span; wait until the daemon has counted and exported them.
  let base = before;
  for (let attempt = 0; ; attempt++) {
    base = await daemon.status();
    if (base.signals.traces.received >= before.signals.traces.received + n && base.signals.traces.buffered === 0) break;
    if (attempt > 1000) throw new Error(`${label}: the daemon did not count and export the span clients' readiness spans`);
    await sleep(5);
  }

  const chunksEach = Math.ceil(turnsEach / chunkTurns);
  const left = clients.map(() => chunksEach);
  let handedOut = 0;
  let turn = 0;
  const handOut = (received: number, buffered: number): void => {
    while (left.some((chunks) => chunks > 0) && handedOut - received + buffered + chunkTurns * TURN_SPANS <= config.rateWindow) {
      while (left[turn % n] === 0) turn++;
      const index = turn % n;
      const chunkIndex = chunksEach - (left[index] as number);
      left[index] = (left[index] as number) - 1;
      const stdin = clients[index]?.stdin;
      if (left[index] === 0) stdin?.end('+');
      else stdin?.write('+');
      handedOut += Math.min(chunkTurns, turnsEach - chunkIndex * chunkTurns) * TURN_SPANS;
      turn++;
    }
  };

  const daemonCpuBefore = processCpuMs(daemon.pid);
  const started = performance.now();
  handOut(0, 0);
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
    handOut(traces.received, buffered);
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
    if (running === 0 && now - lastProgressAt > config.rateStallMs) break;
    await sleep(5);
  }
  const daemonCpuAfter = daemonCpuDrained ?? processCpuMs(daemon.pid);
  // Cut short (timeout, stall): hand out what is left, so that no client waits for a chunk forever.
  for (const [index, chunks] of left.entries()) {
    if (chunks > 0) clients[index]?.stdin?.end('+'.repeat(chunks));
  }
  const outcomes = await Promise.all(exits);
  let clientsCpuMs = 0;
  let sent = 0;
  const clientDropped: Record<string, number> = {};
  const clientIgnored: Record<string, number> = {};
  for (const outcome of outcomes) {
    if (outcome.code !== 0) {
      problems.push(`${label}: a span client exited with ${outcome.code ?? outcome.signal}: ${outcome.stderr.slice(-500)}`);
      continue;
    }
    const stats = JSON.parse(outcome.stdout.trim().split('\n').pop() as string) as SpanStats & { cpuMs: number };
    sent += stats.sent;
    clientsCpuMs += stats.cpuMs;
    for (const [reason, value] of Object.entries(stats.dropped)) clientDropped[reason] = (clientDropped[reason] ?? 0) + value;
    for (const [reason, value] of Object.entries(stats.ignored)) clientIgnored[reason] = (clientIgnored[reason] ?? 0) + value;
  }
  const traces: LaneDelta = laneDelta(delivered(base, 'traces'), delivered(last, 'traces'));
  const withSession = (last.spans?.withSession ?? 0) - (base.spans?.withSession ?? 0);
  const clientsExact = complete && sent === total + n && Object.keys(clientDropped).length + Object.keys(clientIgnored).length === 0;
  check(
    clientsExact,
    `${label}: ${n} clients sent ${count(sent - n)} of ${count(total)} spans (${count(turnsEach)} turns of ${TURN_SPANS} each), dropped ${JSON.stringify(clientDropped)}, left out parts of ${JSON.stringify(clientIgnored)}; ` +
      `the daemon received ${count(received)} within ${(acceptedMs / 1000).toFixed(2)} s` +
      (complete ? '' : ` (${count(total - received)} never counted${running === 0 ? ' although every client had written them and exited' : ''})`),
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

interface SdkSpanRate {
  readonly spans: number;
  readonly rates: number[];
}

/** Row 8b's context: bench/fixtures/span-sdk-rate.mjs, the same turns into one process's own SDK. */
async function measureSdkSpanRate(config: SpanConfig, bench: BenchEnv): Promise<SdkSpanRate> {
  const run = await runTimed([join(FIXTURES, 'span-sdk-rate.mjs'), String(config.sdkRateTurns), String(config.sdkRateRounds), String(config.rateChunkTurns)], { env: bench.env, cwd: ROOT }, 120_000);
  const result = JSON.parse(run.stdout.trim().split('\n').pop() as string) as SdkSpanRate & { made: number; exported: number };
  check(
    result.exported === result.made,
    `row 8b baseline: the in-process SDK's batch processor handed all of its ${count(result.made)} spans (warm-up round included) to the no-op exporter (${count(result.exported)}): its queue never dropped`,
  );
  return result;
}

// ---------------------------------------------------------------- row 8c: an exec-sized session

type ExecName = 'node' | 'client' | 'sdk';

interface ExecResult {
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
async function measureExec(config: SpanConfig, bench: BenchEnv, daemon: RunningDaemon, receiver: OtlpReceiver): Promise<ExecResult> {
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
      const reported = JSON.parse(result.stdout.trim().split('\n').pop() as string) as { maxRssKiB: number; stats?: ClientStats };
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

// ---------------------------------------------------------------- the row

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

// ---------------------------------------------------------------- the doc

/** Section 8 of docs/benchmarks.md: how row 8 was measured, with its spreads. */
export function spansDoc(details: SpanDetails): string[] {
  const { config, cost, rate, sdkRate, exec } = details;
  const n = config.rateClients;
  const total = n * config.rateTurns * TURN_SPANS;
  const cpus = rate.map((run) => run.daemonCpuMs).filter((ms): ms is number => ms !== null);
  const daemonCpu = cpus.length === 0 ? 'an unknown amount of CPU (no /proc)' : `${median(cpus).toFixed(0)} ms of CPU (${((median(cpus) * 1000) / total).toFixed(1)} µs per span)`;
  const nodeMs = median(exec.nodeMs);
  return [
    '### 8. Spans a host makes: their cost to the host (8), through the daemon into the trace lane (8b), and one exec-sized session (8c)',
    '',
    'A fresh daemon, set up as in row 3 (the file exporter for every signal; `export_interval_ms = 1000`, the scheduled delay of the trace lane\'s `BatchSpanProcessor`). ' +
      'A host-made span (`trace/span`) joins the trace lane as a session event\'s span does (row 6): exported in batches of up to 512 to traces.jsonl, refused as `queue_full` while the lane holds 20,000 unexported. ' +
      'The spans of rows 8b and 8c are turns of bench/fixtures/span-tree.mjs, 16 spans shaped after a Codex turn: `turn/start` (server) over `run_turn`, which holds `thread/items/list`, a `responses/stream` (client, with a span event and a status) and six `tool.call`s, each over an `exec` (the last failing, with an error status); ' +
      '2 or 3 attributes each (given at the start or with `setAttribute()`), every span ended before its parent at times the host took (epoch milliseconds, `startTime` and `end(time)`). ' +
      'The SDK side of every row makes the same calls on an OpenTelemetry tracer (bench/fixtures/sdk-spans.mjs: a parent becomes a context with `trace.setSpan()`); no fixture of the client side loads OpenTelemetry.',
    '',
    `Row 8: bench/fixtures/span-cost.mjs, one process with that daemon running. Each round makes ${count(cost.spans)} spans in chunks of ${cost.chunk}: a root \`turn/start\` (server) and ${cost.chunk - 1} \`tool.call\` children of it, each started, given three attributes with \`setAttribute()\` ` +
      '(a tool name out of four, a fresh `call_<i>` string, a number) and ended, with start and end times from each side\'s own clock. ' +
      'The client side (`client.startSpan(name, { parent: root })`) times the chunk and the `await client.flush()` after it, so its figure includes minting the ids, checking the attributes, serialising the `trace/span` batch and writing it to the socket. ' +
      'Not timed: after each chunk, `await session.summary()` on a session kept for that, a round trip the daemon answers once it has taken everything sent before it, so every chunk starts with the daemon caught up and the figure is the client\'s own work (8b is the daemon\'s); ' +
      'and before each client round a `daemon/flush`, so the trace lane starts every round empty. ' +
      'The SDK side calls `tracer.startSpan()` (the root with `kind: SERVER`, the children under the root\'s context, made once per chunk with `trace.setSpan()`), `setAttribute()` three times and `end()` on a `TracerProvider` with a `BatchSpanProcessor` (default queue of 2,048 and batches of 512, the daemon\'s scheduled delay of 1,000 ms) ' +
      'whose exporter serialises each batch as an OTLP protobuf request (`ProtobufTraceSerializer`, what the OTLP exporters do on the host\'s thread before they send), yielding one turn of the event loop (`setImmediate`) at the same points and ending each round with `forceFlush()`, so that, like the client\'s, its figure holds every span until it is ready to leave the process (none dropped: checked). ' +
      'That is the baseline of the target: each side\'s figure is all it does on the host\'s thread for its spans, short of the SDK\'s network send, which is left out (to the SDK\'s favour). ' +
      `Per-round spread: client ${spread(cost.clientNs, 0)} ns, SDK ${spread(cost.sdkSerialisedNs, 0)} ns. ` +
      'Row 8d, for context, is the SDK\'s floor: a third side in the same rounds (all three rotated) makes the same SDK calls on a second `TracerProvider` whose exporter only counts the spans, so they are never serialised; ' +
      `spread ${spread(cost.sdkNs, 0)} ns; a host whose spans are exported pays at least the serialising as well. Against the floor, the client's span costs ${fmt.ratio(median(cost.clientNs) / median(cost.sdkNs))} the SDK's. ` +
      `Client and SDK rounds alternate in one process (order rotated every round), ${config.costWarmup} warm-up rounds each, then the median of ${cost.clientNs.length} rounds: ns = timed wall time / spans. ` +
      `Of the client's figure, the calls alone (start, attributes, end, without the flush) took ${nsPerSpan(median(cost.clientCallsNs))} (median, spread ${spread(cost.clientCallsNs, 0)} ns); the rest is the flush: serialising the batch and writing it.`,
    '',
    `Row 8b: after one untimed (but checked) warm-up run (${n} × ${count(config.rateWarmupTurns * TURN_SPANS)} spans), ${rate.length} runs in which ${n} client processes (bench/fixtures/span-client.mjs) connect, name a resource (\`service.name\` \`bench-spans\`), start a session (Codex-like context: \`conversation.id\`, \`model\`, \`originator\`, \`session_source\`) and end one readiness span; ` +
      `once the daemon has counted and exported those, each makes ${count(config.rateTurns)} turns (${count(config.rateTurns * TURN_SPANS)} spans, every turn a new trace, every span \`session.startSpan()\`, so the daemon adds the session's context to each) in chunks of ${config.rateChunkTurns} turns (${config.rateChunkTurns * TURN_SPANS} spans), each followed by \`await client.flush()\`. ` +
      `Chunks are handed out as in row 6: to the clients in turn, while the spans handed out but not yet received plus the trace lane's unexported ones stay within ${count(config.rateWindow)}, half of what the lane holds (nothing tells a client that the lane is full: \`trace/span\` goes as a notification). ` +
      'Spans/s = spans the trace lane accepted (`signals.traces.accepted` from `daemon/status`, polled every ~5 ms over one control connection) / time from handing out the first chunk to the poll that saw the last span arrive; ' +
      `median of ${rate.length} runs (${rate.map((run) => spanRate(run.rate)).join(', ')}). Each run is checked exactly: the clients sent every span and dropped none; the lane received, accepted and then exported (\`signals.traces.exported\`) every one, none rejected or dropped, and \`spans.withSession\` counted each (see Checks). ` +
      `The lane had exported every span ${fmt.ms(median(rate.map((run) => run.exportedMs)) - median(rate.map((run) => run.acceptedMs)))} after the last one arrived (median; ` +
      (total % LANE_EXPORT_BATCH === 0
        ? `${count(total)} spans are ${count(total / LANE_EXPORT_BATCH)} full batches of ${LANE_EXPORT_BATCH}, so no partial batch waited for the scheduled delay`
        : `all but the last, partial batch, which waits for the scheduled delay, ${fmt.ms(median(rate.map((run) => run.drainedMs)) - median(rate.map((run) => run.acceptedMs)))} after`) +
      `); it held at most ${count(Math.max(...rate.map((run) => run.peakBuffered)))} unexported at a poll. ` +
      `CPU, medians over the runs: the daemon used ${daemonCpu} from the first chunk until the lane had exported all but its last batch (its answers to the polls included), the ${n} clients together ${median(rate.map((run) => run.clientsCpuMs)).toFixed(0)} ms (whole client processes, start-up included), on ${os.cpus().length} cores. ` +
      `The baseline column is, for context, the rate of one process making the same turns into its own SDK (bench/fixtures/span-sdk-rate.mjs: a \`TracerProvider\` with a \`BatchSpanProcessor\` as in row 8, one turn of the event loop after every ${config.rateChunkTurns} turns; ` +
      `${count(sdkRate.spans)} spans per round, median of ${sdkRate.rates.length} rounds after a warm-up: ${sdkRate.rates.map(spanRate).join(', ')}), which leaves out serialising and exporting them.`,
    '',
    'Row 8c: what one `codex exec` hands to telemetry, as one process (bench/fixtures/exec-workload.mjs): 25 turns of the tree above (400 spans), all under the remote parent a host is given in `TRACEPARENT`; 60 metric points (30 `codex.tool.call` counter increments and 30 `codex.tool.duration_ms` histogram values over six tag sets); ' +
      'and 10 session events of row 6 (an API request, SSE events, tool results, each under its turn\'s root span), spread over the turns. ' +
      'bench/fixtures/cli-exec-client.mjs imports `createClient` from `codexd/client`, names its resource, starts a session with Codex\'s context, records all that through the session (`session.startSpan()`, `session.counter()`, `session.histogram()`, `session.event()`), ends the session and awaits `close()` against the running daemon. ' +
      'bench/fixtures/cli-exec-sdk.mjs records the same into a `MeterProvider` (`PeriodicExportingMetricReader`, delta), a `TracerProvider` (`BatchSpanProcessor`) and a `LoggerProvider` (`BatchLogRecordProcessor`), each with its OTLP/gRPC exporter (`@opentelemetry/exporter-{metrics,trace,logs}-otlp-grpc` 0.301) pointed at a local OTLP receiver (test/support/otlp-receiver.ts, in the benchmark process), ' +
      'each event as a span and a log record in its context with the session\'s context as the daemon makes them; then it awaits the three providers\' `shutdown()`, which exports everything before the process may exit. ' +
      `Each command is timed from just before \`spawn()\` to its exit, interleaved with \`node -e 0\` (${config.execWarmup} untimed warm-up rounds, then ${exec.nodeMs.length} timed rounds, the order rotated every round, as in row 2); figures are medians ` +
      `(spread: node -e 0 ${spread(exec.nodeMs, 1)} ms, client ${spread(exec.clientMs, 1)} ms, SDK ${spread(exec.sdkMs, 1)} ms). Over \`node -e 0\`: the client ${fmt.signedMs(median(exec.clientMs) - nodeMs)}, the SDK ${fmt.signedMs(median(exec.sdkMs) - nodeMs)}. ` +
      `RSS is the peak resident set (\`process.resourceUsage().maxRSS\`) each process reports as it ends, from ${exec.clientRssKiB.length} separate untimed rounds before the timed ones (for \`node\`, a one-line script printing only that); medians ` +
      `(spread: node ${spread(exec.nodeRssKiB.map((value) => value / 1024), 1)} MiB, client ${spread(exec.clientRssKiB.map((value) => value / 1024), 1)} MiB, SDK ${spread(exec.sdkRssKiB.map((value) => value / 1024), 1)} MiB). ` +
      `Delivery is checked on both sides: the daemon counted every client run's spans, events and ${exec.recordsPerRun} metric records (the client sums equal counters) and exported the spans and log records; the receiver took every SDK run's spans, log records and points (see Checks). ` +
      'The daemon\'s own work (ingest, the metrics it derives from the events, export) runs in its own process, which the machine can run on another core, and is not in the client\'s figure; the SDK process does all of its exporting itself.',
  ];
}
