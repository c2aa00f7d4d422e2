/**
 * Row 3 of `npm run bench`: the daemon's ingest throughput, records per second from 8 client
 * processes recording histogram points at once, every record counted; context: one process
 * recording the same points into its own in-process SDK (bench/fixtures/sdk-rate.mjs).
 */
import * as os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { check, log, rows } from '../lib/checks.ts';
import { type ClientGroup, type ClientReport, startClientGroup, sumReports } from '../lib/client-group.ts';
import { type BenchEnv, FIXTURES, ROOT, type RunningDaemon } from '../lib/daemon.ts';
import { processCpuMs, runTimed } from '../lib/processes.ts';
import { fmt, median } from '../lib/report.ts';

export function ingestConfig(quick: boolean) {
  return {
    /** Concurrent client processes, records each, records per flush, repetitions. */
    loadClients: 8,
    loadRecords: quick ? 20_000 : 200_000,
    loadChunk: 4000,
    loadRepeats: quick ? 1 : 5,
    loadWarmupRecords: quick ? 5_000 : 25_000,
    loadTimeoutMs: 60_000,
    /** Once every client has exited, this long without a new record counted ends the wait. */
    loadStallMs: 2000,
    sdkRateRecords: quick ? 200_000 : 1_600_000,
    sdkRateRounds: 3,
  };
}

type IngestConfig = ReturnType<typeof ingestConfig>;

/** Target of row 3: records per second the daemon counts from all clients together. */
const TARGET_RATE = 300_000;

interface IngestResult {
  readonly rate: number;
  readonly elapsedMs: number;
  readonly records: number;
  readonly complete: boolean;
  readonly daemonCpuMs: number | null;
  readonly clientsCpuMs: number;
}

/**
 * Row 3, one run: `loadClients` processes connect and send one readiness record; once the daemon
 * has counted those, all get "go" at once; the daemon's count is polled until it has every record.
 */
async function measureIngest(config: IngestConfig, bench: BenchEnv, daemon: RunningDaemon, repeat: number, perClient = config.loadRecords): Promise<IngestResult> {
  const n = config.loadClients;
  const total = n * perClient;
  const before = await daemon.metrics();
  const group = await startClientGroup(bench, {
    count: n,
    args: (index) => [join(FIXTURES, 'load-client.mjs'), String(perClient), String(config.loadChunk), String((repeat + 1) * n + index)],
    ignoreStdinErrors: false,
  });
  // Each client sent one readiness record; wait until the daemon has counted them, so the
  // count below starts from a settled figure.
  const base = before.received + n;
  for (let attempt = 0; (await daemon.metrics()).received < base; attempt++) {
    if (attempt > 500) throw new Error('the daemon did not count the load clients\' readiness records');
    await sleep(5);
  }
  const daemonCpuBefore = processCpuMs(daemon.pid);
  const started = performance.now();
  for (const child of group.clients) child.stdin?.end('go\n');
  const { received, elapsedMs, complete } = await countUntilDone(config, daemon, group, base, total, started);
  const daemonCpuAfter = processCpuMs(daemon.pid);
  const { sent, cpuMs: clientsCpuMs, dropped } = sumReports<ClientReport>(await group.exits, 'row 3: a load client');
  const after = await daemon.metrics();
  const label = repeat < 0 ? 'row 3 warm-up' : `row 3 run ${repeat + 1}`;
  check(
    complete && sent === total + n && Object.keys(dropped).length === 0,
    `${label}: ${n} clients sent ${sent - n} of ${total} records, dropped ${JSON.stringify(dropped)}; the daemon counted ${received} within ${(elapsedMs / 1000).toFixed(2)} s` +
      (complete ? '' : ` (${total - received} never counted${group.running() === 0 ? ' although every client had written them and exited' : ''})`),
  );
  check(
    after.rejectedTotal === before.rejectedTotal && after.accepted - before.accepted === after.received - before.received,
    `${label}: the daemon accepted every record it received (accepted +${after.accepted - before.accepted}, received +${after.received - before.received}, rejected +${after.rejectedTotal - before.rejectedTotal})`,
  );
  return {
    rate: received / (elapsedMs / 1000),
    elapsedMs,
    records: received,
    complete,
    daemonCpuMs: daemonCpuBefore === null || daemonCpuAfter === null ? null : daemonCpuAfter - daemonCpuBefore,
    clientsCpuMs,
  };
}

/** Polls the daemon's count (every ~5 ms) until it has all `total` records past `base`, the run times out, or it stalls. */
async function countUntilDone(config: IngestConfig, daemon: RunningDaemon, group: ClientGroup, base: number, total: number, started: number): Promise<{ received: number; elapsedMs: number; complete: boolean }> {
  let received = 0;
  let elapsedMs = 0;
  let lastProgressAt = started;
  for (;;) {
    const metrics = await daemon.metrics();
    const now = performance.now();
    if (metrics.received - base > received) {
      received = metrics.received - base;
      // The rate is taken at the poll that saw the latest records, so a stall is not counted.
      elapsedMs = now - started;
      lastProgressAt = now;
    }
    if (received >= total) return { received, elapsedMs, complete: true };
    if (now - started > config.loadTimeoutMs) break;
    // Every client has written everything and exited, yet nothing new arrives: records were lost.
    if (group.running() === 0 && now - lastProgressAt > config.loadStallMs) break;
    await sleep(5);
  }
  return { received, elapsedMs, complete: false };
}


export interface IngestDetails {
  readonly config: IngestConfig;
  readonly ingest: IngestResult[];
  readonly sdkRates: number[];
}

/** Row 3 on a fresh daemon of run.ts's: a checked warm-up run, the timed runs, then the SDK's rate. */
export async function rowIngest(quick: boolean, bench: BenchEnv, daemon: RunningDaemon): Promise<IngestDetails> {
  const config = ingestConfig(quick);
  log('row 3: daemon ingest');
  // One short untimed run first: the daemon is a long-lived process, so its steady state (JIT
  // warmed up) is what is measured; the warm-up is still checked for delivery.
  await measureIngest(config, bench, daemon, -1, config.loadWarmupRecords);
  const ingest: IngestResult[] = [];
  for (let repeat = 0; repeat < config.loadRepeats; repeat++) {
    const result = await measureIngest(config, bench, daemon, repeat);
    log(`  run ${repeat + 1}: ${fmt.rate(result.rate)} (${result.records} records in ${result.elapsedMs.toFixed(0)} ms)`);
    ingest.push(result);
  }
  const sdkRun = await runTimed([join(FIXTURES, 'sdk-rate.mjs'), String(config.sdkRateRecords), String(config.sdkRateRounds)], { env: bench.env, cwd: ROOT }, 120_000);
  const sdkRates = (JSON.parse(sdkRun.stdout.trim()) as { rates: number[] }).rates;
  const rate = median(ingest.map((run) => run.rate));
  const sdkRate = median(sdkRates);
  rows.push({
    id: '3',
    what: `daemon ingest, ${config.loadClients} procs × ${config.loadRecords.toLocaleString('en-US')} histogram recs`,
    measured: fmt.rate(rate),
    baseline: `1 proc, in-process SDK: ${fmt.rate(sdkRate)}`,
    comparison: fmt.ratio(rate / sdkRate),
    target: `≥ ${fmt.rate(TARGET_RATE)}`,
    met: rate >= TARGET_RATE && ingest.every((run) => run.complete),
  });
  return { config, ingest, sdkRates };
}

/** Section 3 of docs/benchmarks.md: how row 3 was measured, with every run's rate and the CPU it took. */
export function ingestDoc(details: IngestDetails): string[] {
  const { config, ingest, sdkRates } = details;
  const daemonCpus = ingest.map((run) => run.daemonCpuMs).filter((ms): ms is number => ms !== null);
  const daemonCpu =
    daemonCpus.length === 0
      ? 'an unknown amount of CPU (no /proc)'
      : `${median(daemonCpus).toFixed(0)} ms of CPU (${((median(daemonCpus) * 1000) / config.loadClients / config.loadRecords).toFixed(2)} µs per record)`;
  return [
    '### 3. Daemon ingest throughput',
    '',
    `A fresh \`node dist/codexd/codexd.js run\` with HOME, XDG_*, CODEX_HOME in a temp folder, CODEXD_SOCKET at a short temp path, and a config.toml with ` +
      '`[codexd] export_interval_ms = 1000` and the file exporter named for every signal (`[otel] metrics_exporter`, `exporter` and `trace_exporter` all `"file"`, the defaults). The file exporter is chosen on purpose: with ' +
      '`"none"` the daemon skips the OpenTelemetry SDK entirely, so the figure would not cover socket → SDK. ' +
      `After one untimed warm-up run (${config.loadClients} × ${config.loadWarmupRecords.toLocaleString('en-US')} records; the daemon is long-lived, so its warmed-up state is what is measured), ` +
      `${config.loadClients} client processes (bench/fixtures/load-client.mjs) connect, send one readiness record and wait; then all get "go" at once and each records ` +
      `${config.loadRecords.toLocaleString('en-US')} \`histogram('codex.tool.duration_ms', value, tags)\` points with distinct values over eight tag sets ` +
      '(histograms, because the client sums equal counters and would collapse them), calling `await flush()` every ' +
      `${config.loadChunk.toLocaleString('en-US')} records as backpressure. ` +
      'Records/s = records counted by the daemon (`signals.metrics.received` from `daemon/status`, polled every ~5 ms over one control connection) / time from "go" ' +
      `to the poll that saw the last of them. The daemon counts \`received\` in the same synchronous handler that validates the batch and hands it to the SDK. Median of ${ingest.length} runs ` +
      `(${ingest.map((run) => fmt.rate(run.rate)).join(', ')}). ` +
      `CPU, medians over the runs: the daemon used ${daemonCpu} during the timed part, ` +
      `the ${config.loadClients} clients together ${median(ingest.map((run) => run.clientsCpuMs)).toFixed(0)} ms (whole client processes, start-up included), ` +
      `for ${median(ingest.map((run) => run.elapsedMs)).toFixed(0)} ms of wall time on ${os.cpus().length} cores. ` +
      `The baseline column is, for context, the rate of one process recording the same histogram points into its own in-process SDK ` +
      `(bench/fixtures/sdk-rate.mjs, ${config.sdkRateRecords.toLocaleString('en-US')} records per round, median of ${sdkRates.length} rounds after a warm-up).`,
  ];
}
