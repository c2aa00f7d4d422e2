/**
 * `npm run bench`: measures the thin client, short CLIs and the daemon against the in-process
 * OpenTelemetry SDK, prints one table and rewrites docs/benchmarks.md from that same run.
 *
 *   1. per-call cost of a counter increment (thin client incl. its flush vs SDK counter.add)
 *   2. wall time of a short CLI recording 1,000 metrics (thin client vs `node -e 0` and vs the SDK
 *      exporting over OTLP/gRPC to a local receiver)
 *   3. daemon ingest throughput from 8 concurrent client processes
 *
 * Every child runs on this process's Node (the pinned one under `npm run bench`). Every child
 * process and temp folder is removed at the end, also on failure or Ctrl-C.
 *
 *   node bench/run.ts [--quick] [--only=1,2,3]
 *
 * --quick: small counts; --only: some rows. Either prints only and leaves docs/benchmarks.md
 * alone. BENCH_DAEMON_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" passes Node options to the
 * daemons (for profiling; the figures are then not comparable).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { type BenchEnv, createBenchEnv, DAEMON_CLI, ORPHAN_GUARD, removeBenchEnvs, ROOT, type RunningDaemon, startDaemon } from './lib/daemon.ts';
import { finished, killAllChildren, runTimed, startChild } from './lib/processes.ts';
import { loadReceiverModule, type OtlpReceiver } from './lib/receiver.ts';
import { fmt, markdownTable, median, minMax, type Row, textTable } from './lib/report.ts';

const QUICK = process.argv.includes('--quick');
const ONLY = new Set((process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length) ?? '1,2,3').split(','));
const PARTIAL = QUICK || ONLY.size < 3 || process.env.BENCH_DAEMON_ARGS !== undefined;
const DAEMON_ARGS = (process.env.BENCH_DAEMON_ARGS ?? '').split(' ').filter((arg) => arg !== '');
const FIXTURES = join(ROOT, 'bench/fixtures');

const CONFIG = {
  /** Row 1: calls per round, measured rounds, warm-up rounds, calls between two flushes. */
  costCalls: QUICK ? 50_000 : 200_000,
  costRounds: QUICK ? 3 : 7,
  costWarmup: QUICK ? 1 : 3,
  costChunk: 1000,
  histogramCalls: QUICK ? 20_000 : 100_000,
  histogramRounds: QUICK ? 3 : 5,
  /** Row 2: timed runs of each command (interleaved), untimed warm-up runs of each. */
  cliRuns: QUICK ? 5 : 20,
  cliWarmup: 2,
  /** Row 3: concurrent client processes, records each, records per flush, repetitions. */
  loadClients: 8,
  loadRecords: QUICK ? 20_000 : 200_000,
  loadChunk: 4000,
  loadRepeats: QUICK ? 1 : 5,
  loadWarmupRecords: QUICK ? 5_000 : 25_000,
  loadTimeoutMs: 60_000,
  /** Once every client has exited, this long without a new record counted ends the wait. */
  loadStallMs: 2000,
  sdkRateRecords: QUICK ? 200_000 : 1_600_000,
  sdkRateRounds: 3,
};

const TARGETS = { costRatio: 0.25, cliOverNodeMs: 10, ingestRate: 300_000 };

const rows: Row[] = [];
/** Facts checked along the way (delivery, no drops); printed and written to the doc. */
const checks: string[] = [];
const problems: string[] = [];

function check(ok: boolean, text: string): void {
  checks.push(`${ok ? 'ok' : 'FAILED'}: ${text}`);
  if (!ok) problems.push(text);
}

function log(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

// ---------------------------------------------------------------- cleanup, on every path

let cleanedUp = false;
function cleanupSync(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  killAllChildren();
  removeBenchEnvs();
}
process.on('exit', cleanupSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping children and removing temp folders`);
    cleanupSync();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- row 1: per-call cost

interface CostResult {
  readonly kind: string;
  readonly calls: number;
  readonly chunk: number;
  readonly clientNs: number[];
  readonly sdkNs: number[];
  readonly sent: number;
  readonly dropped: Record<string, number>;
}

async function measureCost(bench: BenchEnv, kind: 'counter' | 'histogram', calls: number, rounds: number): Promise<CostResult> {
  const run = await runTimed(
    [join(FIXTURES, 'record-cost.mjs'), kind, String(calls), String(rounds), String(CONFIG.costWarmup), String(CONFIG.costChunk)],
    { env: bench.env, cwd: ROOT },
    120_000,
  );
  const result = JSON.parse(run.stdout.trim().split('\n').pop() as string) as CostResult;
  check(Object.keys(result.dropped).length === 0, `row 1 (${kind}): the client dropped nothing (${JSON.stringify(result.dropped)}), sent ${result.sent} records`);
  return result;
}

// ---------------------------------------------------------------- row 2: short CLIs

interface CliResult {
  /** Records one client CLI run sends for its 1,000 calls (after the client sums counters). */
  readonly sentPerRun: number;
  readonly nodeMs: number[];
  readonly clientMs: number[];
  readonly sdkMs: number[];
}

async function measureClis(bench: BenchEnv, daemon: RunningDaemon, receiver: OtlpReceiver): Promise<CliResult> {
  const env = { ...bench.env, BENCH_OTLP_ENDPOINT: receiver.endpoint };
  const commands = {
    node: ['-e', '0'],
    client: [join(FIXTURES, 'cli-client.mjs')],
    sdk: [join(FIXTURES, 'cli-sdk.mjs')],
  } as const;
  type Name = keyof typeof commands;
  const names: Name[] = ['node', 'client', 'sdk'];

  // One untimed run with BENCH_VERIFY=1: how many records one client CLI sends after summation.
  const receivedBefore = (await daemon.metrics()).received;
  const sdkRequestsBefore = receiver.metricsRequests.length;
  const sdkSumBefore = receiver.sumOf('codex.tool.call');
  const verify = await runTimed(commands.client, { env: { ...env, BENCH_VERIFY: '1' }, cwd: ROOT });
  const verified = JSON.parse(verify.stdout.trim()) as { sent: number; dropped: Record<string, number> };
  check(Object.keys(verified.dropped).length === 0, `row 2: a client CLI run dropped nothing; it sent ${verified.sent} records for its 1,000 calls (counters summed per tag set)`);

  const times: Record<Name, number[]> = { node: [], client: [], sdk: [] };
  let clientRuns = 1;
  let sdkRuns = 0;
  for (let run = 0; run < CONFIG.cliWarmup + CONFIG.cliRuns; run++) {
    // Rotate the order every run (node/client/sdk, client/sdk/node, ...) so drift and
    // "runs right after X" effects fall on every command alike.
    for (let k = 0; k < names.length; k++) {
      const name = names[(run + k) % names.length] as Name;
      const result = await runTimed(commands[name], { env, cwd: ROOT });
      if (name === 'client') clientRuns++;
      if (name === 'sdk') sdkRuns++;
      if (run >= CONFIG.cliWarmup) times[name].push(result.wallMs);
    }
  }

  // Delivery: the daemon got every client CLI's records; the receiver got every SDK CLI's export.
  const expected = clientRuns * verified.sent;
  let received = 0;
  for (let attempt = 0; attempt < 50; attempt++) {
    received = (await daemon.metrics()).received - receivedBefore;
    if (received >= expected) break;
    await sleep(20);
  }
  check(received === expected, `row 2: the daemon received ${received} of ${expected} records from ${clientRuns} client CLI runs`);
  const sdkRequests = receiver.metricsRequests.length - sdkRequestsBefore;
  const sdkSum = receiver.sumOf('codex.tool.call') - sdkSumBefore;
  check(
    sdkRequests === sdkRuns && sdkSum === sdkRuns * 500,
    `row 2: the OTLP receiver got ${sdkRequests} export requests from ${sdkRuns} SDK CLI runs, codex.tool.call summing to ${sdkSum} (expected ${sdkRuns * 500})`,
  );
  return { sentPerRun: verified.sent, nodeMs: times.node, clientMs: times.client, sdkMs: times.sdk };
}

// ---------------------------------------------------------------- row 3: daemon ingest

interface IngestResult {
  readonly rate: number;
  readonly elapsedMs: number;
  readonly records: number;
  readonly complete: boolean;
  readonly daemonCpuMs: number | null;
  readonly clientsCpuMs: number;
}

/** user+system CPU of a process from /proc, in ms; null where /proc is not there. */
function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

function waitForLine(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`a load client did not print "${text}" within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      if (seen.includes(`${text}\n`)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`a load client exited with ${code} before printing "${text}"`));
    });
  });
}

async function measureIngest(bench: BenchEnv, daemon: RunningDaemon, repeat: number, perClient = CONFIG.loadRecords): Promise<IngestResult> {
  const n = CONFIG.loadClients;
  const total = n * perClient;
  const before = await daemon.metrics();
  const clients: ChildProcess[] = [];
  for (let index = 0; index < n; index++) {
    clients.push(
      startChild(['--import', ORPHAN_GUARD, join(FIXTURES, 'load-client.mjs'), String(perClient), String(CONFIG.loadChunk), String((repeat + 1) * n + index)], {
        env: bench.env,
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
  }
  const readies = clients.map((child) => waitForLine(child, 'ready', 20_000));
  // Attach the collectors before anything can be missed; they resolve when each client exits.
  let running = n;
  const exits = clients.map((child) =>
    finished(child).finally(() => {
      running--;
    }),
  );
  await Promise.all(readies);
  // Each client sent one readiness record; wait until the daemon has counted them, so the
  // count below starts from a settled figure.
  const base = before.received + n;
  for (let attempt = 0; (await daemon.metrics()).received < base; attempt++) {
    if (attempt > 500) throw new Error('the daemon did not count the load clients\' readiness records');
    await sleep(5);
  }
  const daemonCpuBefore = processCpuMs(daemon.pid);
  const started = performance.now();
  for (const child of clients) child.stdin?.end('go\n');
  let received = 0;
  let elapsedMs = 0;
  let complete = false;
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
    if (received >= total) {
      complete = true;
      break;
    }
    if (now - started > CONFIG.loadTimeoutMs) break;
    // Every client has written everything and exited, yet nothing new arrives: records were lost.
    if (running === 0 && now - lastProgressAt > CONFIG.loadStallMs) break;
    await sleep(5);
  }
  const daemonCpuAfter = processCpuMs(daemon.pid);
  const outcomes = await Promise.all(exits);
  let clientsCpuMs = 0;
  let sent = 0;
  const dropped: Record<string, number> = {};
  for (const outcome of outcomes) {
    if (outcome.code !== 0) {
      problems.push(`row 3: a load client exited with ${outcome.code ?? outcome.signal}: ${outcome.stderr.slice(-500)}`);
      continue;
    }
    const stats = JSON.parse(outcome.stdout.trim().split('\n').pop() as string) as { sent: number; dropped: Record<string, number>; cpuMs: number };
    sent += stats.sent;
    clientsCpuMs += stats.cpuMs;
    for (const [reason, count] of Object.entries(stats.dropped)) dropped[reason] = (dropped[reason] ?? 0) + count;
  }
  const after = await daemon.metrics();
  const label = repeat < 0 ? 'row 3 warm-up' : `row 3 run ${repeat + 1}`;
  check(
    complete && sent === total + n && Object.keys(dropped).length === 0,
    `${label}: ${n} clients sent ${sent - n} of ${total} records, dropped ${JSON.stringify(dropped)}; the daemon counted ${received} within ${(elapsedMs / 1000).toFixed(2)} s` +
      (complete ? '' : ` (${total - received} never counted${running === 0 ? ' although every client had written them and exited' : ''})`),
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

// ---------------------------------------------------------------- the doc

const loadAtStart = os.loadavg()[0] ?? 0;

function machine(): { cpu: string; memory: string; os: string; node: string } {
  const list = os.cpus();
  return {
    cpu: `${list[0]?.model.trim() ?? 'unknown'} × ${list.length}`,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: `${process.version} (${process.execPath.startsWith(ROOT) ? 'the pinned node from node_modules' : process.execPath})`,
  };
}

interface Details {
  counter: CostResult;
  histogram: CostResult;
  cli: CliResult;
  ingest: IngestResult[];
  sdkRates: number[];
}

function spread(values: readonly number[], digits: number): string {
  const { min, max } = minMax(values);
  return `${min.toFixed(digits)}–${max.toFixed(digits)}`;
}

function renderDoc(details: Details, date: string): string {
  const m = machine();
  const { counter, histogram, cli, ingest, sdkRates } = details;
  const daemonCpus = ingest.map((run) => run.daemonCpuMs).filter((ms): ms is number => ms !== null);
  const daemonCpu =
    daemonCpus.length === 0
      ? 'an unknown amount of CPU (no /proc)'
      : `${median(daemonCpus).toFixed(0)} ms of CPU (${((median(daemonCpus) * 1000) / CONFIG.loadClients / CONFIG.loadRecords).toFixed(2)} µs per record)`;
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` (bench/run.ts) on ${date}. Every figure below comes from that one run; rerun the command rather than editing this file.`,
    '',
    markdownTable(rows),
    '',
    '## Machine',
    '',
    `- CPU: ${m.cpu}`,
    `- Memory: ${m.memory}`,
    `- OS: ${m.os}`,
    `- Node: ${m.node}`,
    `- Date: ${date}`,
    `- Load average (1 min) just before the run: ${loadAtStart.toFixed(2)}. ` +
      'Other work on the machine moves every absolute figure; the two sides of each row are measured interleaved in the same run, so the ratios and differences move less.',
    '',
    '## How measured',
    '',
    '### 1. Client cost per counter increment',
    '',
    `bench/fixtures/record-cost.mjs, one process with a daemon running. Each round makes ${counter.calls.toLocaleString('en-US')} calls of ` +
      "`counter('codex.tool.call', 1, { tool, status })` with a fresh tags object per call over four rotating tag sets; the client side " +
      `\`await client.flush()\`es after every ${counter.chunk.toLocaleString('en-US')} calls, so its figure includes serialising the batch and writing it to the socket ` +
      '(counters with equal tags are summed in the client, so each flush sends four records). The SDK side calls `counter.add(1, { tool, status })` on a ' +
      '`MeterProvider` with a `PeriodicExportingMetricReader` (in-memory exporter, one-hour interval) and awaits a resolved promise at the same points; ' +
      'its later collection and export are not in its figure; nor is the daemon\'s work on the client\'s records, which runs in the daemon\'s process. Client and SDK rounds alternate in one process (order swapped every round), ' +
      `${CONFIG.costWarmup} warm-up rounds each, then the median of ${counter.clientNs.length} rounds: ns = wall time of the round / calls. ` +
      `Per-round spread: client ${spread(counter.clientNs, 0)} ns, SDK ${spread(counter.sdkNs, 0)} ns. ` +
      `Row 1b is the same with \`histogram('codex.tool.duration_ms', value, tags)\` / \`histogram.record()\` (${histogram.calls.toLocaleString('en-US')} calls per round), where the client ` +
      `cannot sum and sends every call as one record (spread: client ${spread(histogram.clientNs, 0)} ns, SDK ${spread(histogram.sdkNs, 0)} ns).`,
    '',
    '### 2. Short CLI wall time',
    '',
    'Three commands, each spawned from bench/run.ts with the same Node binary (`process.execPath`) and timed from just before `spawn()` to the ' +
      "child's exit: `node -e 0`; bench/fixtures/cli-client.mjs, which imports `createClient` from `codexd/client` (the single-file bundle in dist/client), makes 1,000 calls " +
      `(500 \`codex.tool.call\` counter increments over four tag sets, 500 \`codex.tool.duration_ms\` histogram values; the client sums the counters and sends ${cli.sentPerRun} records) and awaits \`close()\` against the running daemon; ` +
      'bench/fixtures/cli-sdk.mjs, which makes the same calls through its own `MeterProvider` + `PeriodicExportingMetricReader` + OTLP/gRPC `OTLPMetricExporter` ' +
      `pointed at a local OTLP receiver (test/support/otlp-receiver.ts, running in the benchmark process) and awaits \`provider.shutdown()\`. ` +
      `${CONFIG.cliWarmup} untimed warm-up rounds, then ${cli.nodeMs.length} timed rounds; each round runs all three commands one after another, the order rotated every round. ` +
      `Figures are medians (spread: node -e 0 ${spread(cli.nodeMs, 1)} ms, client CLI ${spread(cli.clientMs, 1)} ms, SDK CLI ${spread(cli.sdkMs, 1)} ms). ` +
      'Delivery is checked: the daemon must have counted every client run\'s records and the receiver every SDK run\'s export (see Checks).',
    '',
    '### 3. Daemon ingest throughput',
    '',
    `A fresh \`node dist/daemon/cli.js run\` with HOME, XDG_*, CODEX_HOME in a temp folder, CODEXD_SOCKET at a short temp path, and a config.toml with ` +
      '`[codexd] export_interval_ms = 1000` and the file exporter (`metrics_exporter = "file"`, the default). The file exporter is chosen on purpose: with ' +
      '`"none"` the daemon skips the OpenTelemetry SDK entirely, so the figure would not cover socket → SDK. ' +
      `After one untimed warm-up run (${CONFIG.loadClients} × ${CONFIG.loadWarmupRecords.toLocaleString('en-US')} records; the daemon is long-lived, so its warmed-up state is what is measured), ` +
      `${CONFIG.loadClients} client processes (bench/fixtures/load-client.mjs) connect, send one readiness record and wait; then all get "go" at once and each records ` +
      `${CONFIG.loadRecords.toLocaleString('en-US')} \`histogram('codex.tool.duration_ms', value, tags)\` points with distinct values over eight tag sets ` +
      '(histograms, because the client sums equal counters and would collapse them), calling `await flush()` every ' +
      `${CONFIG.loadChunk.toLocaleString('en-US')} records as backpressure. ` +
      'Records/s = records counted by the daemon (`signals.metrics.received` from `daemon/status`, polled every ~5 ms over one control connection) / time from "go" ' +
      `to the poll that saw the last of them. The daemon counts \`received\` in the same synchronous handler that validates the batch and hands it to the SDK. Median of ${ingest.length} runs ` +
      `(${ingest.map((run) => fmt.rate(run.rate)).join(', ')}). ` +
      `CPU, medians over the runs: the daemon used ${daemonCpu} during the timed part, ` +
      `the ${CONFIG.loadClients} clients together ${median(ingest.map((run) => run.clientsCpuMs)).toFixed(0)} ms (whole client processes, start-up included), ` +
      `for ${median(ingest.map((run) => run.elapsedMs)).toFixed(0)} ms of wall time on ${os.cpus().length} cores. ` +
      `The baseline column is, for context, the rate of one process recording the same histogram points into its own in-process SDK ` +
      `(bench/fixtures/sdk-rate.mjs, ${CONFIG.sdkRateRecords.toLocaleString('en-US')} records per round, median of ${sdkRates.length} rounds after a warm-up).`,
    '',
    '## Checks',
    '',
    ...checks.map((line) => `- ${line}`),
    '',
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

async function rowCost(bench: BenchEnv): Promise<Pick<Details, 'counter' | 'histogram'>> {
  log('row 1: per-call cost (counter, then histogram for context)');
  const counter = await measureCost(bench, 'counter', CONFIG.costCalls, CONFIG.costRounds);
  const histogram = await measureCost(bench, 'histogram', CONFIG.histogramCalls, CONFIG.histogramRounds);
  const clientNs = median(counter.clientNs);
  const sdkNs = median(counter.sdkNs);
  rows.push({
    id: '1',
    what: 'counter increment: thin client (incl. flush)',
    measured: fmt.ns(clientNs),
    baseline: `SDK counter.add(): ${fmt.ns(sdkNs)}`,
    comparison: fmt.ratio(clientNs / sdkNs),
    target: `≤ ${TARGETS.costRatio.toFixed(2)}×`,
    met: clientNs / sdkNs <= TARGETS.costRatio,
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
  return { counter, histogram };
}

async function rowCli(bench: BenchEnv, daemon: RunningDaemon): Promise<Pick<Details, 'cli'>> {
  log('row 2: short CLI wall time (loading the OTLP receiver)');
  const loaded = await loadReceiverModule();
  const receiver = await loaded.module.startOtlpReceiver();
  let cli: CliResult;
  try {
    cli = await measureClis(bench, daemon, receiver);
  } finally {
    await receiver.close();
  }
  const nodeMs = median(cli.nodeMs);
  const clientMs = median(cli.clientMs);
  const sdkMs = median(cli.sdkMs);
  rows.push({
    id: '2a',
    what: 'CLI, 1,000 metrics + close(): thin client',
    measured: fmt.ms(clientMs),
    baseline: `node -e 0: ${fmt.ms(nodeMs)}`,
    comparison: fmt.signedMs(clientMs - nodeMs),
    target: `≤ +${TARGETS.cliOverNodeMs} ms`,
    met: clientMs - nodeMs <= TARGETS.cliOverNodeMs,
  });
  rows.push({
    id: '2b',
    what: 'same CLI: thin client',
    measured: fmt.ms(clientMs),
    baseline: `SDK + OTLP/gRPC + shutdown(): ${fmt.ms(sdkMs)}`,
    comparison: `${fmt.signedMs(clientMs - sdkMs)} (${fmt.ratio(clientMs / sdkMs)})`,
    target: '—',
    met: null,
  });
  rows.push({
    id: '2c',
    what: 'same CLI: in-process SDK + OTLP/gRPC + shutdown()',
    measured: fmt.ms(sdkMs),
    baseline: `node -e 0: ${fmt.ms(nodeMs)}`,
    comparison: fmt.signedMs(sdkMs - nodeMs),
    target: 'issue saw ≈ +200 ms',
    met: null,
  });
  return { cli };
}

async function rowIngest(bench: BenchEnv, daemon: RunningDaemon): Promise<Pick<Details, 'ingest' | 'sdkRates'>> {
  log('row 3: daemon ingest');
  // One short untimed run first: the daemon is a long-lived process, so its steady state (JIT
  // warmed up) is what is measured; the warm-up is still checked for delivery.
  await measureIngest(bench, daemon, -1, CONFIG.loadWarmupRecords);
  const ingest: IngestResult[] = [];
  for (let repeat = 0; repeat < CONFIG.loadRepeats; repeat++) {
    const result = await measureIngest(bench, daemon, repeat);
    log(`  run ${repeat + 1}: ${fmt.rate(result.rate)} (${result.records} records in ${result.elapsedMs.toFixed(0)} ms)`);
    ingest.push(result);
  }
  const sdkRun = await runTimed([join(FIXTURES, 'sdk-rate.mjs'), String(CONFIG.sdkRateRecords), String(CONFIG.sdkRateRounds)], { env: bench.env, cwd: ROOT }, 120_000);
  const sdkRates = (JSON.parse(sdkRun.stdout.trim()) as { rates: number[] }).rates;
  const rate = median(ingest.map((run) => run.rate));
  const sdkRate = median(sdkRates);
  rows.push({
    id: '3',
    what: `daemon ingest, ${CONFIG.loadClients} procs × ${CONFIG.loadRecords.toLocaleString('en-US')} histogram recs`,
    measured: fmt.rate(rate),
    baseline: `1 proc, in-process SDK: ${fmt.rate(sdkRate)}`,
    comparison: fmt.ratio(rate / sdkRate),
    target: `≥ ${fmt.rate(TARGETS.ingestRate)}`,
    met: rate >= TARGETS.ingestRate && ingest.every((run) => run.complete),
  });
  return { ingest, sdkRates };
}

async function main(): Promise<void> {
  if (!existsSync(DAEMON_CLI)) throw new Error(`${DAEMON_CLI} is missing: run \`npm run build\` first (npm run bench does)`);
  const started = performance.now();
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const bench = createBenchEnv();
  let daemon: RunningDaemon | null = null;
  const details: Partial<Details> = {};
  try {
    log(`temp folder ${bench.root}; starting codexd`);
    if (ONLY.has('1') || ONLY.has('2')) {
      daemon = await startDaemon(bench, DAEMON_ARGS);
      if (ONLY.has('1')) Object.assign(details, await rowCost(bench));
      if (ONLY.has('2')) Object.assign(details, await rowCli(bench, daemon));
      await daemon.stop();
      daemon = null;
    }
    if (ONLY.has('3')) {
      // A fresh daemon: nothing from rows 1 and 2 in its instruments or its heap.
      daemon = await startDaemon(bench, DAEMON_ARGS);
      Object.assign(details, await rowIngest(bench, daemon));
      await daemon.stop();
      daemon = null;
    }

    process.stdout.write(`\n${textTable(rows)}\n\n`);
    for (const line of checks) process.stdout.write(`  ${line}\n`);
    const m = machine();
    process.stdout.write(`\n  ${m.cpu}, ${m.memory}, ${m.os}, Node ${process.version}; ${date}; took ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    if (PARTIAL) {
      process.stdout.write('  (--quick, --only or BENCH_DAEMON_ARGS: docs/benchmarks.md left as it was)\n');
    } else {
      writeFileSync(join(ROOT, 'docs/benchmarks.md'), renderDoc(details as Details, date));
      process.stdout.write('  wrote docs/benchmarks.md\n');
    }
    if (problems.length > 0) {
      process.stdout.write(`\n  ${problems.length} check(s) failed; the figures above may not mean what they say.\n`);
      process.exitCode = 1;
    }
  } finally {
    await daemon?.stop().catch(() => undefined);
    cleanupSync();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
