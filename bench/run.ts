/**
 * `npm run bench`: measures the thin client, short CLIs and the daemon against the in-process
 * OpenTelemetry SDK, prints one table and rewrites docs/benchmarks.md from that same run.
 *
 *   1. per-call cost of a counter increment (thin client incl. its flush vs SDK counter.add)
 *   2. wall time of a short CLI recording 1,000 metrics (thin client vs `node -e 0` and vs the SDK
 *      exporting over OTLP/gRPC to a local receiver; 2d: the floor of any socket client)
 *   3. daemon ingest throughput from 8 concurrent client processes
 *   4. the same short CLI on first use: no daemon running, the client auto-spawns one and hands
 *      its records over as a file (vs the same CLI with the daemon up)
 *   5. the fixed cost of connecting: a CLI recording one counter (vs `node -e 0`)
 *   6. session events through the daemon into the log and trace lanes from 4 concurrent client
 *      processes, kept within what the lanes hold (6: accepted, 6c: exported by both lanes; 6d:
 *      the same clients unthrottled, and what the lanes drop); 6b: per-event cost of
 *      `session.event()` incl. its flush vs the in-process SDK emitting the same log record and span
 *   7. a one-hour outage at accelerated rate: a daemon exporting over OTLP/gRPC while its receiver
 *      answers UNAVAILABLE, 4 client processes recording 1,000,000 histogram records (and session
 *      events); what arrived, exactly, vs an in-process SDK through the same outage; its memory and
 *      disk against the configured bounds (7b, 7c; baseline: the same hour with the receiver up),
 *      its drain once the receiver is back (7d); 7e: the same outage with a spool too small for it
 *   8. spans a host makes itself (bench/spans.ts): per-span cost incl. the client's flush vs an SDK
 *      span (8); spans/s into the daemon's trace lane from 4 client processes, every span
 *      accounted for (8b); the whole process of one exec-sized session vs the SDK over OTLP/gRPC (8c);
 *      the span of row 8 vs the SDK's floor, an SDK that never serialises its spans (8d)
 *   9. the daemon's memory with its defaults (bench/memory.ts): peak RSS while 8 hosts flood it
 *      for 30 s with the collector up (9) and hanging (9b), RSS over time, every count delivered
 *  10. the real Codex CLI (bench/codex.ts): codex exec's wall time exporting traces, logs and
 *      metrics through codexd vs straight to a local collector vs telemetry off; and with the
 *      collector hanging (10b); through codexd over OTLP/HTTP instead of gRPC (10c)
 *  11. OTLP/gRPC ingest (bench/otlp-ingest.ts): spans and metric points per second from 4
 *      senders at once, codexd vs a bare OTLP/gRPC receiver, every one exported
 *
 * Every child runs on this process's Node (the pinned one under `npm run bench`). Every child
 * process, every daemon a client auto-spawned and every temp folder is removed at the end, also
 * on failure or Ctrl-C.
 *
 *   node bench/run.ts [--quick] [--only=1,2,3,4,5,6,7,8,9,10,11]
 *
 * --quick: small counts; --only: some rows. Either prints only and leaves docs/benchmarks.md
 * alone. BENCH_DAEMON_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" passes Node options to the
 * daemons (for profiling; the figures are then not comparable).
 */
import type { ChildProcess } from 'node:child_process';
import { type Dirent, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ClientStats } from '../dist/client/index.js';
import { type ControlConnection, openControlConnection } from '../dist/cli/control-client.js';
import type { DaemonStatus, QueueStatus, Signal } from '../dist/protocol/index.js';
import { type BenchEnv, createBenchEnv, DAEMON_CLI, ORPHAN_GUARD, removeBenchEnvs, ROOT, type RunningDaemon, startDaemon } from './lib/daemon.ts';
import { check, checks, log, problems, rows } from './lib/checks.ts';
import { delivered, type LaneDelta, laneDelta } from './lib/lanes.ts';
import { type Finished, finished, killAllChildren, processCpuMs, runTimed, startChild, waitForLine } from './lib/processes.ts';
import { loadReceiverModule, type OtlpReceiver, type ReceivedPoint, type ReceiverModule } from './lib/receiver.ts';
import { fmt, markdownTable, median, spread, textTable } from './lib/report.ts';
import { findSpawnedDaemons, killSpawnedDaemonsSync, stopSpawnedDaemon, trackSpawnedPid, watchSocketFolder } from './lib/spawned.ts';
import { type CodexDetails, codexDoc, rowCodex } from './codex.ts';
import { type MemoryDetails, memoryDoc, rowMemory } from './memory.ts';
import { type OtlpIngestDetails, otlpIngestDoc, rowOtlpIngest } from './otlp-ingest.ts';
import { rowSpans, type SpanDetails, spansDoc } from './spans.ts';

const QUICK = process.argv.includes('--quick');
const ALL_ROWS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'];
const ONLY = new Set((process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length) ?? ALL_ROWS.join(',')).split(','));
const PARTIAL = QUICK || !ALL_ROWS.every((row) => ONLY.has(row)) || process.env.BENCH_DAEMON_ARGS !== undefined;
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
  /** Row 4: timed first-use rounds, untimed (but checked) warm-up rounds before them. */
  spawnRuns: QUICK ? 5 : 20,
  spawnWarmup: 2,
  /** How long a spawned daemon may take to answer and to count the round's records. */
  spawnUpTimeoutMs: 15_000,
  spawnCountTimeoutMs: 5000,
  /** `[codexd] idle_timeout_ms` for row 4's daemons: should the benchmark be killed, they end themselves. */
  spawnIdleTimeoutMs: 60_000,
  /** Row 6: concurrent event client processes, events each, events per flush, repetitions. */
  eventClients: 4,
  eventCount: QUICK ? 5000 : 25_000,
  eventChunk: 250,
  eventRepeats: QUICK ? 1 : 3,
  eventWarmupCount: QUICK ? 2000 : 10_000,
  /**
   * Events handed out but not yet received plus the larger lane's unexported records, at most:
   * half of what a lane holds (MAX_LANE_QUEUE in daemon/event-lanes.ts) before it drops.
   */
  eventWindow: 10_000,
  /** From the first chunk handed out until both lanes have exported every event, at most. */
  eventTimeoutMs: 60_000,
  /** Once every client has exited, this long without progress (received or exported) ends the wait. */
  eventStallMs: 5000,
  /** Row 6b: events per round (below a lane's 20,000), measured rounds, warm-up rounds (events per flush: eventChunk). */
  eventCostEvents: QUICK ? 5000 : 10_000,
  eventCostRounds: QUICK ? 3 : 7,
  eventCostWarmup: QUICK ? 1 : 3,
  /** Row 7: client processes, histogram records and session events they record in all, over this much wall time (the "hour"). */
  outageClients: 4,
  outageRecords: QUICK ? 100_000 : 1_000_000,
  outageEvents: QUICK ? 2000 : 10_000,
  outageRecordMs: QUICK ? 4000 : 20_000,
  /** The outage lasts this much longer than the recording (and at least 5 collections past the last record counted). */
  outageTailMs: 2000,
  /** Status, memory and folder sizes are polled this often during the outage, and during the drain. */
  outagePollMs: 50,
  drainPollMs: 20,
  /** From the recovery until every signal has sent everything, at most. */
  drainTimeoutMs: 60_000,
};

const TARGETS = { costRatio: 0.25, cliOverNodeMs: 10, ingestRate: 300_000 };

// ---------------------------------------------------------------- cleanup, on every path

let cleanedUp = false;
function cleanupSync(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  killAllChildren();
  // Before the folders go: a spawned daemon is found by its working directory, the socket folder.
  const killed = killSpawnedDaemonsSync();
  if (killed.length > 0) log(`killed auto-spawned daemon(s) still running: pid ${killed.join(', ')}`);
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

type CliName = 'node' | 'client' | 'sdk' | 'floor' | 'one';

interface CliResult {
  /** Records one client CLI run sends for its 1,000 calls (after the client sums counters). */
  readonly sentPerRun: number;
  readonly nodeMs: number[];
  readonly clientMs: number[];
  readonly sdkMs: number[];
  /** Row 2d: load node:net, connect, write one frame. */
  readonly floorMs: number[];
  /** Row 5: import the client, record one counter, close(). */
  readonly oneMs: number[];
}

function parseStats(stdout: string): ClientStats {
  return JSON.parse(stdout.trim().split('\n').pop() as string) as ClientStats;
}

/**
 * Rows 2 and 5: short CLIs against the running daemon, all interleaved with `node -e 0` in one
 * loop, so every command shares one baseline and the same drift of the machine.
 */
async function measureClis(bench: BenchEnv, daemon: RunningDaemon, receiver: OtlpReceiver | null): Promise<CliResult> {
  const env = { ...bench.env, ...(receiver === null ? {} : { BENCH_OTLP_ENDPOINT: receiver.endpoint }) };
  const commands: Record<CliName, string[]> = {
    node: ['-e', '0'],
    client: [join(FIXTURES, 'cli-client.mjs')],
    sdk: [join(FIXTURES, 'cli-sdk.mjs')],
    floor: [join(FIXTURES, 'socket-floor.mjs')],
    one: [join(FIXTURES, 'cli-one.mjs')],
  };
  const names: CliName[] = ['node'];
  if (ONLY.has('2')) names.push('client', 'sdk', 'floor');
  if (ONLY.has('5')) names.push('one');

  // One untimed run of each client CLI with BENCH_VERIFY=1: how many records one run sends.
  const before = await daemon.status();
  const sdkRequestsBefore = receiver?.metricsRequests.length ?? 0;
  const sdkSumBefore = receiver?.sumOf('codex.tool.call') ?? 0;
  const runs: Record<CliName, number> = { node: 0, client: 0, sdk: 0, floor: 0, one: 0 };
  const sentPer: Record<CliName, number> = { node: 0, client: 0, sdk: 0, floor: 0, one: 0 };
  for (const name of ['client', 'one'] as const) {
    if (!names.includes(name)) continue;
    const verified = parseStats((await runTimed(commands[name], { env: { ...env, BENCH_VERIFY: '1' }, cwd: ROOT })).stdout);
    runs[name]++;
    sentPer[name] = verified.sent;
    const row = name === 'client' ? 'row 2' : 'row 5';
    const calls = name === 'client' ? 'its 1,000 calls (counters summed per tag set)' : 'its one counter';
    check(
      Object.keys(verified.dropped).length === 0 && verified.handedOff === 0 && (name === 'client' || verified.sent === 1),
      `${row}: a ${name === 'client' ? 'client CLI' : 'one-counter CLI'} run dropped nothing and handed nothing over; it sent ${verified.sent} record${verified.sent === 1 ? '' : 's'} for ${calls}`,
    );
  }

  const times: Record<CliName, number[]> = { node: [], client: [], sdk: [], floor: [], one: [] };
  for (let run = 0; run < CONFIG.cliWarmup + CONFIG.cliRuns; run++) {
    // Rotate the order every run (node/client/sdk/..., client/sdk/.../node, ...) so drift and
    // "runs right after X" effects fall on every command alike.
    for (let k = 0; k < names.length; k++) {
      const name = names[(run + k) % names.length] as CliName;
      const result = await runTimed(commands[name], { env, cwd: ROOT });
      runs[name]++;
      if (run >= CONFIG.cliWarmup) times[name].push(result.wallMs);
    }
  }

  // Delivery: the daemon got every client CLI's records; the receiver got every SDK CLI's export.
  const expected = runs.client * sentPer.client + runs.one * sentPer.one;
  let received = 0;
  for (let attempt = 0; attempt < 50; attempt++) {
    received = (await daemon.metrics()).received - before.signals.metrics.received;
    if (received >= expected) break;
    await sleep(20);
  }
  const parts = [
    ...(runs.client > 0 ? [`${runs.client} client CLI runs (${sentPer.client} each)`] : []),
    ...(runs.one > 0 ? [`${runs.one} one-counter CLI runs (${sentPer.one} each)`] : []),
  ];
  check(received === expected, `row${names.includes('client') && names.includes('one') ? 's 2 and 5' : names.includes('one') ? ' 5' : ' 2'}: the daemon received ${received} of ${expected} records from ${parts.join(' and ')}`);
  if (receiver !== null) {
    const sdkRequests = receiver.metricsRequests.length - sdkRequestsBefore;
    const sdkSum = receiver.sumOf('codex.tool.call') - sdkSumBefore;
    check(
      sdkRequests === runs.sdk && sdkSum === runs.sdk * 500,
      `row 2: the OTLP receiver got ${sdkRequests} export requests from ${runs.sdk} SDK CLI runs, codex.tool.call summing to ${sdkSum} (expected ${runs.sdk * 500})`,
    );
  }
  if (runs.floor > 0) {
    const after = await daemon.status();
    const errorsBefore = Object.values(before.protocolErrors).reduce((a, b) => a + b, 0);
    const errorsAfter = Object.values(after.protocolErrors).reduce((a, b) => a + b, 0);
    check(
      errorsAfter === errorsBefore,
      `row 2d: ${runs.floor} floor runs each connected and wrote one initialize frame, exiting 0; the daemon counted no protocol error (${JSON.stringify(after.protocolErrors)})`,
    );
  }
  return { sentPerRun: sentPer.client, nodeMs: times.node, clientMs: times.client, sdkMs: times.sdk, floorMs: times.floor, oneMs: times.one };
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

// ---------------------------------------------------------------- row 4: first use, auto-spawn

interface FirstUseResult {
  /** Records one CLI run gives the daemon (sent or handed over). */
  readonly recordsPerRun: number;
  readonly rounds: number;
  /** Timed: the CLI with no daemon (it spawns one and hands its records over), and the same CLI with that daemon up. */
  readonly firstMs: number[];
  readonly warmMs: number[];
  /** Every round: from the first-use CLI's spawn() to the daemon it started having counted its records. */
  readonly deliveredMs: number[];
  /** Every round: SIGTERM to the spawned daemon's exit. */
  readonly stopMs: number[];
  /** Every round: the spawned daemon's uptime once it had counted the warm runs. */
  readonly warmUptimeMs: number[];
}

/** Connects to a daemon that is starting: retries until it answers or `timeoutMs` passes. */
async function waitForDaemon(socketPath: string, timeoutMs: number): Promise<ControlConnection> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await openControlConnection(socketPath, 1000);
    } catch (error) {
      if (performance.now() > deadline) throw new Error(`no daemon answered on ${socketPath} within ${timeoutMs} ms: ${(error as Error).message}`);
      await sleep(5);
    }
  }
}

/** Polls `daemon/status` until `received` reaches `atLeast` (or `timeoutMs` passes). */
async function statusWhenCounted(control: ControlConnection, atLeast: number, timeoutMs: number): Promise<DaemonStatus.Result> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = await control.request<DaemonStatus.Result>('daemon/status', {}, 10_000);
    if (status.signals.metrics.received >= atLeast || performance.now() > deadline) return status;
    await sleep(5);
  }
}

function handoffFiles(socketDir: string): string[] {
  try {
    return readdirSync(join(socketDir, 'handoff'));
  } catch {
    return [];
  }
}

/**
 * Row 4. Its own temp folder and socket, spawning on (no CODEXD_NO_SPAWN), nothing running there
 * to begin with. Each round: check that nothing runs on the socket; run the CLI (timed: first
 * use); wait for the daemon it started and for that daemon to count the CLI's records; run the
 * same CLI twice against it (untimed, then timed: warm); check those records too; stop the
 * daemon (SIGTERM, SIGKILL after 8 s) and remove whatever it left in the socket folder.
 */
async function measureFirstUse(): Promise<FirstUseResult> {
  const bench = createBenchEnv({ idleTimeoutMs: CONFIG.spawnIdleTimeoutMs });
  const socketDir = dirname(bench.socketPath);
  watchSocketFolder(socketDir);
  const env: NodeJS.ProcessEnv = { ...bench.env, BENCH_VERIFY: '1' };
  delete env.CODEXD_NO_SPAWN;
  const command = [join(FIXTURES, 'cli-client.mjs')];
  const rounds = CONFIG.spawnWarmup + CONFIG.spawnRuns;
  const firstMs: number[] = [];
  const warmMs: number[] = [];
  const deliveredMs: number[] = [];
  const stopMs: number[] = [];
  const warmUptimeMs: number[] = [];
  const failures = { fromNothing: [] as string[], firstUse: [] as string[], warm: [] as string[], stop: [] as string[] };
  let recordsPerRun = -1;
  let handedOffTotal = 0;
  let ingestedTotal = 0;
  const daemonPids = new Set<number>();
  try {
    for (let round = 0; round < rounds; round++) {
      const label = `round ${round + 1}${round < CONFIG.spawnWarmup ? ' (warm-up)' : ''}`;
      // 1. Nothing runs: no socket file, no spawned daemon in the folder, no hand-off waiting.
      const leftDaemons = findSpawnedDaemons(socketDir);
      const waiting = handoffFiles(socketDir);
      if (existsSync(bench.socketPath) || leftDaemons.length > 0 || waiting.length > 0) {
        failures.fromNothing.push(`${label}: socket ${existsSync(bench.socketPath) ? 'present' : 'absent'}, spawned daemons [${leftDaemons.join(', ')}], hand-off files [${waiting.join(', ')}]`);
        throw new Error(`row 4 ${label} would not start from nothing`);
      }

      // 2. First use, timed: no daemon, the client spawns one and hands its records over.
      const startedAt = performance.now();
      const first = await runTimed(command, { env, cwd: ROOT });
      const firstStats = parseStats(first.stdout);

      // 3. The daemon that CLI started comes up and counts its records (from the hand-off file).
      const control = await waitForDaemon(bench.socketPath, CONFIG.spawnUpTimeoutMs);
      let pid: number;
      try {
        let status = await control.request<DaemonStatus.Result>('daemon/status', {}, 10_000);
        pid = status.pid;
        trackSpawnedPid(pid, socketDir);
        const firstRecords = firstStats.sent + firstStats.handedOff;
        if (recordsPerRun < 0) recordsPerRun = firstRecords;
        status = await statusWhenCounted(control, firstRecords, CONFIG.spawnCountTimeoutMs);
        deliveredMs.push(performance.now() - startedAt);
        const counted = status.signals.metrics;
        handedOffTotal += firstStats.handedOff;
        ingestedTotal += status.handoff.recordsIngested;
        if (
          status.startedBy !== 'auto-spawn' ||
          daemonPids.has(pid) ||
          firstRecords !== recordsPerRun ||
          firstStats.handedOff === 0 ||
          Object.keys(firstStats.dropped).length > 0 ||
          counted.received !== firstRecords ||
          status.handoff.recordsIngested !== firstStats.handedOff ||
          counted.rejectedTotal !== 0
        ) {
          failures.firstUse.push(
            `${label}: CLI sent ${firstStats.sent}, handed over ${firstStats.handedOff}, dropped ${JSON.stringify(firstStats.dropped)}; ` +
              `daemon pid ${pid} (${status.startedBy}) received ${counted.received}, handoff.recordsIngested ${status.handoff.recordsIngested}, rejected ${counted.rejectedTotal}`,
          );
        }
        daemonPids.add(pid);

        // 4. Warm: the same CLI with that daemon up; one untimed run first (the daemon just started).
        await runTimed(command, { env, cwd: ROOT });
        const warm = await runTimed(command, { env, cwd: ROOT });
        const warmStats = parseStats(warm.stdout);
        const after = await statusWhenCounted(control, firstRecords + 2 * recordsPerRun, CONFIG.spawnCountTimeoutMs);
        warmUptimeMs.push(after.uptimeMs);
        if (
          after.pid !== pid ||
          warmStats.sent !== recordsPerRun ||
          warmStats.handedOff !== 0 ||
          Object.keys(warmStats.dropped).length > 0 ||
          after.signals.metrics.received !== firstRecords + 2 * recordsPerRun ||
          after.handoff.recordsIngested !== status.handoff.recordsIngested
        ) {
          failures.warm.push(
            `${label}: warm CLI sent ${warmStats.sent}, handed over ${warmStats.handedOff}; daemon pid ${after.pid} received ${after.signals.metrics.received} (expected ${firstRecords + 2 * recordsPerRun}), handoff.recordsIngested ${after.handoff.recordsIngested}`,
          );
        }
        if (round >= CONFIG.spawnWarmup) {
          firstMs.push(first.wallMs);
          warmMs.push(warm.wallMs);
        }
      } finally {
        control.close();
      }

      // 5. Stop it: exactly that one daemon runs in the folder; SIGTERM, wait for its exit.
      const running = findSpawnedDaemons(socketDir);
      if (running.length !== 1 || running[0] !== pid) failures.stop.push(`${label}: spawned daemons in the folder [${running.join(', ')}], status said pid ${pid}`);
      for (const other of new Set([pid, ...running])) {
        const outcome = await stopSpawnedDaemon(other, bench.socketPath);
        stopMs.push(outcome.ms);
        if (outcome.how !== 'sigterm' || outcome.leftOver.length > 0) failures.stop.push(`${label}: pid ${other} ${outcome.how} after ${outcome.ms} ms, left ${JSON.stringify(outcome.leftOver)}`);
      }
    }
  } finally {
    // Whatever happened, nothing spawned stays up.
    for (const pid of findSpawnedDaemons(socketDir)) await stopSpawnedDaemon(pid, bench.socketPath, 2000);
  }
  const some = (list: string[]): string => (list.length === 0 ? '' : `; ${list.length} did not: ${list.slice(0, 3).join(' | ')}${list.length > 3 ? ' | …' : ''}`);
  check(
    failures.fromNothing.length === 0,
    `row 4: each of ${rounds} rounds (${CONFIG.spawnWarmup} warm-up) started from nothing: no socket file, no \`--spawned\` daemon with the socket folder as its cwd, no hand-off file waiting${some(failures.fromNothing)}`,
  );
  check(
    failures.firstUse.length === 0,
    `row 4: in each round the first-use CLI handed its ${recordsPerRun} records over as a file, dropped none and exited, and a new auto-spawned daemon counted them: ` +
      `received ${recordsPerRun}, handoff.recordsIngested ${recordsPerRun} (in all: ${handedOffTotal} handed over, ${ingestedTotal} ingested by ${daemonPids.size} daemons)${some(failures.firstUse)}`,
  );
  check(
    failures.warm.length === 0,
    `row 4: in each round the same daemon then counted 2 warm runs of the CLI, which sent ${recordsPerRun} records each over the socket (received ${3 * recordsPerRun} per round)${some(failures.warm)}`,
  );
  check(
    failures.stop.length === 0 && stopMs.length === rounds,
    `row 4: after each round the one spawned daemon in the folder (the pid its daemon/status gave) exited on SIGTERM (${spread(stopMs, 0)} ms) and left no socket, lock or spawn marker behind${some(failures.stop)}`,
  );
  const leftAtEnd = findSpawnedDaemons(socketDir);
  check(leftAtEnd.length === 0 && !existsSync(bench.socketPath), `row 4: no spawned daemon left at the end (/proc scan of the socket folder: [${leftAtEnd.join(', ')}])`);
  return { recordsPerRun, rounds, firstMs, warmMs, deliveredMs, stopMs, warmUptimeMs };
}

// ---------------------------------------------------------------- row 6: session events

/** Records per export of the daemon's event lanes (MAX_EXPORT_BATCH in daemon/event-lanes.ts). */
const LANE_EXPORT_BATCH = 512;

/** How one row 6 run hands out chunks: as the lanes make room, or all at once. */
type EventLoad = 'window' | 'flood';

interface EventsResult {
  readonly load: EventLoad;
  readonly total: number;
  /** Events the log lane accepted per second, from the first chunk handed out to the poll that saw the last event arrive. */
  readonly rate: number;
  /** Events received (valid or not, accepted or dropped by a full lane) per second, same interval. */
  readonly receivedRate: number;
  readonly acceptedMs: number;
  /** Log records accepted, and those dropped as `queue_full` on each lane. */
  readonly accepted: number;
  readonly queueFull: { readonly logs: number; readonly traces: number };
  /** Log records already exported when the last event arrived. */
  readonly exportedOnArrival: number;
  /** From the start until both lanes had exported all but their last, partial batch. */
  readonly drainedMs: number;
  /** From the start until both lanes had exported every accepted event, nothing buffered. */
  readonly exportedMs: number;
  /** The most either lane held unexported at a poll. */
  readonly peakBuffered: number;
  readonly complete: boolean;
  readonly exported: boolean;
  /** The daemon's CPU time from the start until `drainedMs` (or the end of the run, when it never got there). */
  readonly daemonCpuMs: number | null;
  readonly clientsCpuMs: number;
  /** Events the clients themselves did not send, all reasons. */
  readonly clientDropped: number;
}

/** What changed in `events` (redactions, lane overrides, ...) between two `daemon/status` answers. */
function eventCountsDelta(before: DaemonStatus.Result, after: DaemonStatus.Result): { redacted: Record<string, number>; laneOverrides: number; invalidTraceContext: number; derived: number } {
  const redacted: Record<string, number> = {};
  for (const [field, count] of Object.entries(after.events.redacted)) {
    const more = count - (before.events.redacted[field] ?? 0);
    if (more > 0) redacted[field] = more;
  }
  let laneOverrides = 0;
  for (const [field, count] of Object.entries(after.events.laneOverrides)) laneOverrides += count - (before.events.laneOverrides[field] ?? 0);
  return {
    redacted,
    laneOverrides,
    invalidTraceContext: after.events.invalidTraceContext - before.events.invalidTraceContext,
    derived: after.events.derivedMeasurements - before.events.derivedMeasurements,
  };
}

/**
 * Row 6, one run: `eventClients` processes start a session each and send one readiness event;
 * once the daemon has counted and exported those, the benchmark hands out chunks: with `window`,
 * one at a time to the clients in turn, as long as the events handed out but not yet received
 * plus the larger of the two lanes' unexported records stay within `eventWindow`; with `flood`,
 * all at once. Polls `daemon/status` until the log lane has received every event (the rate is
 * taken at that poll), then until both lanes have exported every accepted one.
 */
async function measureEvents(bench: BenchEnv, daemon: RunningDaemon, label: string, seedBase: number, perClient: number, load: EventLoad): Promise<EventsResult> {
  const n = CONFIG.eventClients;
  const chunk = CONFIG.eventChunk;
  const total = n * perClient;
  const before = await daemon.status();
  const clients: ChildProcess[] = [];
  for (let index = 0; index < n; index++) {
    clients.push(
      startChild(['--import', ORPHAN_GUARD, join(FIXTURES, 'event-client.mjs'), String(perClient), String(chunk), String(seedBase + index)], {
        env: bench.env,
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    // A client that died has its stdin closed: writing a chunk to it must not end the benchmark
    // (the exit is reported below).
    clients[index]?.stdin?.on('error', () => undefined);
  }
  const readies = clients.map((child) => waitForLine(child, 'ready', 20_000));
  let running = n;
  const exits = clients.map((child) =>
    finished(child).finally(() => {
      running--;
    }),
  );
  await Promise.all(readies);
  // Each client sent one readiness event; wait until the daemon has counted and exported them
  // (the lanes' scheduled delay, up to a second), so every count below starts from settled figures.
  let base = before;
  for (let attempt = 0; ; attempt++) {
    base = await daemon.status();
    if (base.signals.logs.received >= before.signals.logs.received + n && base.signals.logs.buffered === 0 && base.signals.traces.buffered === 0) break;
    if (attempt > 1000) throw new Error(`${label}: the daemon did not count and export the event clients' readiness events`);
    await sleep(5);
  }

  // Chunks not yet handed out, per client; handed out in turn.
  const chunksEach = Math.ceil(perClient / chunk);
  const left = clients.map(() => chunksEach);
  let handedOut = 0;
  let turn = 0;
  const handOut = (received: number, buffered: number): void => {
    while (left.some((count) => count > 0) && (load === 'flood' || handedOut - received + buffered + chunk <= CONFIG.eventWindow)) {
      while (left[turn % n] === 0) turn++;
      const index = turn % n;
      left[index] = (left[index] as number) - 1;
      const stdin = clients[index]?.stdin;
      if (left[index] === 0) stdin?.end('+');
      else stdin?.write('+');
      handedOut += Math.min(chunk, perClient - (chunksEach - 1 - (left[index] as number)) * chunk);
      turn++;
    }
  };

  const daemonCpuBefore = processCpuMs(daemon.pid);
  const started = performance.now();
  handOut(0, 0);
  let received = 0;
  let accepted = 0;
  let acceptedMs = 0;
  let exportedOnArrival = 0;
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
    const logs = laneDelta(delivered(base, 'logs'), delivered(status, 'logs'));
    const traces = laneDelta(delivered(base, 'traces'), delivered(status, 'traces'));
    const buffered = Math.max(status.signals.logs.buffered, status.signals.traces.buffered);
    peakBuffered = Math.max(peakBuffered, buffered);
    if (!complete && logs.received > received) {
      received = logs.received;
      accepted = logs.accepted;
      // Taken at the poll that saw the latest events, so a stall is not counted.
      acceptedMs = now - started;
      lastProgressAt = now;
      exportedOnArrival = logs.exported;
      complete = received >= total;
    }
    handOut(logs.received, buffered);
    if (logs.exported + traces.exported > lastExported) {
      lastExported = logs.exported + traces.exported;
      lastProgressAt = now;
    }
    // The batch processors export a full batch at once; the last, partial one waits for their
    // scheduled delay (export_interval_ms).
    if (complete && Number.isNaN(drainedMs) && logs.exported + LANE_EXPORT_BATCH > logs.accepted && traces.exported + LANE_EXPORT_BATCH > traces.accepted) {
      drainedMs = now - started;
      // The daemon's CPU up to here: what remains is one partial batch and a second of waiting.
      daemonCpuDrained = processCpuMs(daemon.pid);
    }
    if (complete && logs.exported >= logs.accepted && traces.exported >= traces.accepted && status.signals.logs.buffered === 0 && status.signals.traces.buffered === 0) {
      exported = true;
      exportedMs = now - started;
      break;
    }
    if (now - started > CONFIG.eventTimeoutMs) break;
    // Every client has written everything and exited, yet nothing moves: events were lost or stuck.
    if (running === 0 && now - lastProgressAt > CONFIG.eventStallMs) break;
    await sleep(5);
  }
  const daemonCpuAfter = daemonCpuDrained ?? processCpuMs(daemon.pid);
  // Cut short (timeout, stall): hand out what is left, so that no client waits for a chunk forever.
  for (const [index, count] of left.entries()) {
    if (count > 0) clients[index]?.stdin?.end('+'.repeat(count));
  }
  const outcomes = await Promise.all(exits);
  let clientsCpuMs = 0;
  let sent = 0;
  const dropped: Record<string, number> = {};
  const byName: Record<string, number> = {};
  for (const outcome of outcomes) {
    if (outcome.code !== 0) {
      problems.push(`${label}: an event client exited with ${outcome.code ?? outcome.signal}: ${outcome.stderr.slice(-500)}`);
      continue;
    }
    const stats = JSON.parse(outcome.stdout.trim().split('\n').pop() as string) as ClientStats['events'] & { byName: Record<string, number>; cpuMs: number };
    sent += stats.sent;
    clientsCpuMs += stats.cpuMs;
    for (const [reason, count] of Object.entries(stats.dropped)) dropped[reason] = (dropped[reason] ?? 0) + count;
    for (const [name, count] of Object.entries(stats.byName)) byName[name] = (byName[name] ?? 0) + count;
  }
  const logs = laneDelta(delivered(base, 'logs'), delivered(last, 'logs'));
  const traces = laneDelta(delivered(base, 'traces'), delivered(last, 'traces'));
  const queueFull = { logs: logs.dropped.queue_full ?? 0, traces: traces.dropped.queue_full ?? 0 };
  const events = eventCountsDelta(base, last);
  check(
    complete && sent === total + n && Object.keys(dropped).length === 0,
    `${label}: ${n} clients sent ${sent - n} of ${total} events, dropped ${JSON.stringify(dropped)}; the daemon received ${received} within ${(acceptedMs / 1000).toFixed(2)} s` +
      (complete ? '' : ` (${total - received} never counted${running === 0 ? ' although every client had written them and exited' : ''})`),
  );
  const otherDrops = (delta: LaneDelta): number => Object.entries(delta.dropped).reduce((sum, [reason, count]) => sum + (reason === 'queue_full' ? 0 : count), 0);
  const laneBooks =
    `log lane: accepted ${logs.accepted}, queue_full ${queueFull.logs}, exported ${logs.exported}; trace lane: accepted ${traces.accepted}, queue_full ${queueFull.traces}, exported ${traces.exported}; ` +
    `rejected ${logs.rejected}/${traces.rejected}, dropped by reason ${JSON.stringify(logs.dropped)}/${JSON.stringify(traces.dropped)}`;
  if (load === 'window') {
    check(
      logs.accepted === total && traces.accepted === total && logs.rejected + traces.rejected === 0 && queueFull.logs + queueFull.traces + otherDrops(logs) + otherDrops(traces) === 0,
      `${label}: both lanes accepted every event, none dropped (${laneBooks}; the lanes held at most ${peakBuffered} unexported)`,
    );
  } else {
    // Expected to overflow the lanes: what is checked is that every event is accounted for.
    check(
      logs.accepted + queueFull.logs === received && traces.accepted + queueFull.traces === received && logs.rejected + traces.rejected + otherDrops(logs) + otherDrops(traces) === 0,
      `${label}: every event received is accounted for on each lane as accepted or dropped \`queue_full\` (${laneBooks})`,
    );
  }
  check(
    exported && logs.exported === logs.accepted && traces.exported === traces.accepted && logs.failed + traces.failed === 0,
    `${label}: both lanes exported every accepted event to logs.jsonl / traces.jsonl within ${(exportedMs / 1000).toFixed(2)} s (buffered at the end: ${last.signals.logs.buffered}/${last.signals.traces.buffered}, failed ${logs.failed}/${traces.failed})`,
  );
  // What the daemon did to the events on the way, against what the fixture sends (session-events.mjs).
  const toolResults = byName['codex.tool_result'] ?? 0;
  const apiRequests = byName['codex.api_request'] ?? 0;
  // Every SSE event the fixture sends has a duration, so each derives Codex's count and timing.
  const sseEvents = byName['codex.sse_event'] ?? 0;
  // The daemon does all this before a lane admits the event, so it holds in the flood run too.
  check(
    events.redacted.arguments === toolResults && events.redacted.output === toolResults && Object.keys(events.redacted).length === 2 && events.laneOverrides === 0 && events.invalidTraceContext === 0 && events.derived === 2 * (toolResults + apiRequests + sseEvents),
    `${label}: the daemon redacted \`arguments\` and \`output\` of every tool result on the log lane (log_tool_content off, the default: ${JSON.stringify(events.redacted)} for ${toolResults} tool results), ` +
      `overrode no lane (${events.laneOverrides}), found no malformed trace context (${events.invalidTraceContext}) and derived ${events.derived} metric measurements (2 per tool result, API request and SSE event: ${2 * (toolResults + apiRequests + sseEvents)})`,
  );
  return {
    load,
    total,
    rate: accepted / (acceptedMs / 1000),
    receivedRate: received / (acceptedMs / 1000),
    acceptedMs,
    accepted,
    queueFull,
    exportedOnArrival,
    drainedMs,
    exportedMs,
    peakBuffered,
    complete,
    exported,
    daemonCpuMs: daemonCpuBefore === null || daemonCpuAfter === null ? null : daemonCpuAfter - daemonCpuBefore,
    clientsCpuMs,
    clientDropped: Object.values(dropped).reduce((sum, count) => sum + count, 0),
  };
}

interface EventCostResult {
  readonly events: number;
  readonly chunk: number;
  readonly clientNs: number[];
  readonly sdkNs: number[];
  readonly sent: number;
  readonly dropped: Record<string, number>;
  readonly daemonFlushesIncomplete: number;
  readonly sdkEmitted: number;
  readonly sdkExported: { readonly logs: number; readonly spans: number };
}

/** Row 6b: bench/fixtures/event-cost.mjs against the running daemon; checks what both sides delivered. */
async function measureEventCost(bench: BenchEnv, daemon: RunningDaemon): Promise<EventCostResult> {
  const before = await daemon.status();
  const run = await runTimed(
    [join(FIXTURES, 'event-cost.mjs'), String(CONFIG.eventCostEvents), String(CONFIG.eventCostRounds), String(CONFIG.eventCostWarmup), String(CONFIG.eventChunk)],
    { env: bench.env, cwd: ROOT },
    300_000,
  );
  const result = JSON.parse(run.stdout.trim().split('\n').pop() as string) as EventCostResult;
  // The client's close() has written everything; wait until the daemon has exported it too.
  let after = await daemon.status();
  for (let attempt = 0; attempt < 1000; attempt++) {
    if (after.signals.logs.received - before.signals.logs.received >= result.sent && after.signals.logs.buffered === 0 && after.signals.traces.buffered === 0) break;
    await sleep(10);
    after = await daemon.status();
  }
  const logs = laneDelta(delivered(before, 'logs'), delivered(after, 'logs'));
  const traces = laneDelta(delivered(before, 'traces'), delivered(after, 'traces'));
  check(
    Object.keys(result.dropped).length === 0 &&
      result.daemonFlushesIncomplete === 0 &&
      logs.received === result.sent &&
      logs.accepted === result.sent &&
      traces.accepted === result.sent &&
      logs.exported === logs.accepted &&
      traces.exported === traces.accepted &&
      Object.keys(logs.dropped).length + Object.keys(traces.dropped).length === 0,
    `row 6b: the client sent ${result.sent} events and dropped ${JSON.stringify(result.dropped)}; the daemon received ${logs.received}, accepted ${logs.accepted} log records and ${traces.accepted} spans, ` +
      `exported ${logs.exported} and ${traces.exported}, dropped ${JSON.stringify(logs.dropped)}/${JSON.stringify(traces.dropped)}; every \`daemon/flush\` between rounds completed (${result.daemonFlushesIncomplete} did not)`,
  );
  check(
    result.sdkExported.logs === result.sdkEmitted && result.sdkExported.spans === result.sdkEmitted,
    `row 6b: the in-process SDK's batch processors handed all of its ${result.sdkEmitted} log records and spans to the no-op exporters (${result.sdkExported.logs} and ${result.sdkExported.spans}): their queues never dropped`,
  );
  return result;
}

// ---------------------------------------------------------------- row 7: an outage

const SIGNALS = ['metrics', 'logs', 'traces'] as const satisfies readonly Signal[];
type PerSignal<T> = Record<Signal, T>;
const MIB = 1024 * 1024;

function perSignal<T>(make: (signal: Signal) => T): PerSignal<T> {
  return { metrics: make('metrics'), logs: make('logs'), traces: make('traces') };
}

/**
 * Row 7's `[codexd]` keys: collections every 200 ms, so batches keep coming during the outage;
 * a memory bound small enough that the accelerated hour's batches (≈ 1 MiB/s) pass it every
 * couple of seconds and spill; a spool that holds the whole hour; fast retries. Row 7e runs the
 * same hour with a spool too small for it.
 */
const OUTAGE_DAEMON_CONFIG = {
  export_interval_ms: 200,
  export_queue_max_bytes: 2 * MIB,
  export_spool_max_bytes: 64 * MIB,
  export_retry_initial_ms: 100,
  export_retry_max_ms: 1000,
} as const;
/** Row 7e's `export_spool_max_bytes`: less than the hour's batches take (about 1 MiB per second of recording). */
const OUTAGE_SMALL_SPOOL_BYTES = (QUICK ? 2 : 16) * MIB;

/** Resident set size of a process (VmRSS), in bytes; null without /proc. */
function memoryOf(pid: number): { rss: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: Number(/^VmRSS:\s+(\d+) kB$/m.exec(text)?.[1] ?? Number.NaN) * 1024 };
  } catch {
    return null;
  }
}

/** Bytes of the files under a folder, subfolders included (the journal keeps one per daemon); 0 when it does not exist. */
function folderBytes(dir: string): number {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      total += folderBytes(path);
      continue;
    }
    try {
      total += statSync(path).size;
    } catch {
      // Removed between the listing and the stat (a segment sent, a journal file trimmed).
    }
  }
  return total;
}

/** The largest journal file (`*.jnl`) under the journal folder (one subfolder per daemon), in bytes. */
function largestJournalFile(dir: string): number {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let largest = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) largest = Math.max(largest, largestJournalFile(path));
    else if (entry.name.endsWith('.jnl')) {
      try {
        largest = Math.max(largest, statSync(path).size);
      } catch {
        // Trimmed meanwhile.
      }
    }
  }
  return largest;
}

/**
 * The records a set of received metric points stands for: each histogram point's count, plus
 * each sum point's value (every counter here, the clients' readiness counter and the daemon's
 * derived ones, adds 1 per record, and all points are delta).
 */
function recordsInPoints(points: readonly ReceivedPoint[]): number {
  let records = 0;
  for (const point of points) {
    if (point.temporality === 'cumulative') throw new Error(`row 7: ${point.name} arrived as a cumulative point; delta was expected`);
    if (point.kind === 'histogram') records += point.count ?? 0;
    else if (point.kind === 'sum') records += point.value ?? 0;
  }
  return records;
}

function queueOf(status: DaemonStatus.Result, signal: Signal): QueueStatus | undefined {
  return status.exporters.find((exporter) => exporter.signal === signal)?.queue;
}

/** Records of one signal the daemon lost after accepting them: export failures, the spool's bound, damaged spool batches, replays refused. */
function lostAfterAcceptance(before: DaemonStatus.Result, after: DaemonStatus.Result, signal: Signal): { total: number; byReason: Record<string, number> } {
  const delta = laneDelta(before.signals[signal], after.signals[signal]);
  const byReason: Record<string, number> = {};
  // `failed` reasons are in `dropped` too; spool_full and spool_corrupt only there.
  for (const [reason, count] of Object.entries(delta.dropped)) byReason[reason] = count;
  const replayedDropped = (queueOf(after, signal)?.replayed.dropped ?? 0) - (queueOf(before, signal)?.replayed.dropped ?? 0);
  if (replayedDropped > 0) byReason.replay_refused = replayedDropped;
  return { total: Object.values(byReason).reduce((sum, count) => sum + count, 0), byReason };
}

/** Metric records a daemon has sent: `exported` (from memory) + `queue.replayed.exported` (from its spool). */
function sentByStatus(status: DaemonStatus.Result, signal: Signal): number {
  return status.signals[signal].exported + (queueOf(status, signal)?.replayed.exported ?? 0);
}

/** Every signal has sent everything: nothing buffered, no batch in memory, no spool segment. */
function drainedStatus(status: DaemonStatus.Result): boolean {
  return SIGNALS.every((signal) => status.signals[signal].buffered === 0 && (queueOf(status, signal)?.memoryBatches ?? 0) === 0 && (queueOf(status, signal)?.spooledSegments ?? 0) === 0);
}

/** One run of row 7: the hour recorded while the receiver is down (or, for comparison, up). */
interface OutageVariant {
  readonly label: string;
  readonly receiverDown: boolean;
  readonly spoolMaxBytes: number;
  /** Runs the in-process SDK baseline alongside, to its own receiver, down and back at the same moments. */
  readonly withSdk: boolean;
}

interface OutageSdkResult {
  readonly records: number;
  readonly valueSum: number;
  readonly exportsOk: number;
  readonly exportsFailed: number;
  readonly recordsOk: number;
  readonly recordsFailed: number;
  readonly firstError: string | null;
  readonly shutdownMs: number;
  /** What its receiver took. */
  readonly delivered: number;
  readonly rejectedCalls: number;
}

interface OutageResult {
  readonly variant: OutageVariant;
  /** Histogram records the clients recorded during the outage, and session events they sent. */
  readonly records: number;
  readonly events: number;
  /** Metric measurements the daemon derived from those events (2 per tool result and API request). */
  readonly derived: number;
  /** From "go" to the last client's exit, and from the receiver going down to coming back. */
  readonly recordMs: number;
  readonly outageMs: number;
  /** Export calls the daemon's receiver answered UNAVAILABLE. */
  readonly rejectedCalls: number;
  readonly rssBefore: number | null;
  /** The highest VmRSS seen at a poll during the outage, and during the drain. */
  readonly rssPeakOutage: number | null;
  readonly rssPeakDrain: number | null;
  readonly polls: number;
  /** Peaks seen at the polls: `queue.memoryBytes`, `queue.spooledBytes`, the spool folders' files, the journal folder's files. */
  readonly peakMemory: PerSignal<number>;
  readonly peakSpooledStatus: PerSignal<number>;
  readonly peakSpoolFolder: PerSignal<number>;
  readonly peakJournal: number;
  /** The largest single journal file seen at a poll (a file holds one 2 s rotation). */
  readonly peakJournalFile: number;
  readonly journalAtEnd: number;
  /** Bytes left in each spool folder once drained. */
  readonly spoolAtEnd: PerSignal<number>;
  /** Records each signal spilled to disk (`queue.spooled`), and batches its receiver took after the recovery. */
  readonly spooled: PerSignal<number>;
  readonly drainBatches: PerSignal<number>;
  /** From the recovery to the first batch the receiver took, and to the poll that saw everything sent. */
  readonly firstDeliveryMs: number;
  readonly drainMs: number;
  readonly drained: boolean;
  /** Metric records sent during the drain (`exported` + `queue.replayed.exported`). */
  readonly drainRecords: number;
  /** Per signal: accepted during the outage, lost after acceptance (by reason), delivered as the receiver counts it, and as status counts it. */
  readonly accepted: PerSignal<number>;
  readonly lost: PerSignal<{ total: number; byReason: Record<string, number> }>;
  readonly delivered: PerSignal<number>;
  readonly deliveredByStatus: PerSignal<number>;
  /** The clients' histogram alone: count and sum of values at the receiver, and the sum the clients recorded. */
  readonly histogramCount: number;
  readonly histogramSum: number;
  readonly recordedSum: number;
  readonly clientDropped: Record<string, number>;
  readonly sdk: OutageSdkResult | null;
}

/**
 * Row 7, one run. A fresh daemon exporting every signal over OTLP/gRPC to a receiver of its
 * own; with `withSdk`, an in-process SDK process exporting to a second receiver. Once the
 * clients' readiness counters are exported, the receivers go down (UNAVAILABLE) together, the
 * clients and the SDK process record the same accelerated hour, and the receivers come back
 * together; the daemon's status, memory and folders are polled all along. Then what arrived is
 * checked against what was recorded, on each side.
 */
async function measureOutage(module: ReceiverModule, variant: OutageVariant): Promise<OutageResult> {
  const n = CONFIG.outageClients;
  const perClient = Math.floor(CONFIG.outageRecords / n);
  const eventsPerClient = Math.floor(CONFIG.outageEvents / n);
  const receiver = await module.startOtlpReceiver();
  const sdkReceiver = variant.withSdk ? await module.startOtlpReceiver() : null;
  const receivers = [receiver, ...(sdkReceiver === null ? [] : [sdkReceiver])];
  let daemon: RunningDaemon | null = null;
  try {
    const bench = createBenchEnv({ otlpEndpoint: receiver.endpoint, codexd: { ...OUTAGE_DAEMON_CONFIG, export_spool_max_bytes: variant.spoolMaxBytes } });
    const spoolDirs = perSignal((signal) => join(bench.stateDir, 'spool', signal));
    const journalDir = join(bench.stateDir, 'journal');
    daemon = await startDaemon(bench, DAEMON_ARGS);
    const running = daemon;
    const kinds = (await running.status()).exporters.map((exporter) => `${exporter.signal}:${exporter.kind}`);
    if (!kinds.every((kind) => kind.endsWith(':otlp-grpc'))) throw new Error(`${variant.label}: the daemon does not export over OTLP/gRPC (${kinds.join(', ')})`);

    const clients: ChildProcess[] = [];
    for (let index = 0; index < n; index++) {
      clients.push(
        startChild(['--import', ORPHAN_GUARD, join(FIXTURES, 'outage-client.mjs'), String(perClient), String(eventsPerClient), String(CONFIG.outageRecordMs), String(index)], {
          env: bench.env,
          cwd: ROOT,
          stdio: ['pipe', 'pipe', 'pipe'],
        }),
      );
    }
    const sdk =
      sdkReceiver === null
        ? null
        : startChild(['--import', ORPHAN_GUARD, join(FIXTURES, 'outage-sdk.mjs'), String(perClient), String(n), String(CONFIG.outageRecordMs), String(OUTAGE_DAEMON_CONFIG.export_interval_ms)], {
            env: { ...bench.env, BENCH_OTLP_ENDPOINT: sdkReceiver.endpoint },
            cwd: ROOT,
            stdio: ['pipe', 'pipe', 'pipe'],
          });
    sdk?.stdin?.on('error', () => undefined);
    const recorders = [...clients, ...(sdk === null ? [] : [sdk])];
    const readies = recorders.map((child) => waitForLine(child, 'ready', 20_000));
    let clientsRunning = n;
    const exits = clients.map((child) =>
      finished(child).finally(() => {
        clientsRunning--;
      }),
    );
    // Attached before "go", so the line cannot be missed.
    const sdkRecorded = sdk === null ? Promise.resolve() : waitForLine(sdk, 'recorded', CONFIG.outageRecordMs + 60_000);
    // Awaited only after the outage: until then, a rejection must not count as unhandled.
    sdkRecorded.catch(() => undefined);
    const sdkExit = sdk === null ? null : finished(sdk);
    await Promise.all(readies);

    // Before the outage: each client's readiness counter is exported while the receiver is up
    // (which also opens the daemon's gRPC channel), and nothing waits in any queue.
    let pre = await running.status();
    for (let attempt = 0; !(pre.signals.metrics.accepted >= n && drainedStatus(pre) && recordsInPoints(receiver.points()) >= n); attempt++) {
      if (attempt > 500) throw new Error(`${variant.label}: the clients' readiness counters were not exported before the outage`);
      await sleep(20);
      pre = await running.status();
    }
    const preDelivered = { metrics: recordsInPoints(receiver.points()), logs: receiver.logRecords().length, traces: receiver.spans().length };
    const rssBefore = memoryOf(running.pid)?.rss ?? null;

    // The outage: the receivers answer UNAVAILABLE; then the hour is recorded.
    if (variant.receiverDown) for (const each of receivers) each.setBehavior('unavailable');
    const outageStarted = performance.now();
    for (const child of recorders) child.stdin?.write('go\n');
    for (const child of clients) child.stdin?.end();

    const peakMemory = perSignal(() => 0);
    const peakSpooledStatus = perSignal(() => 0);
    const peakSpoolFolder = perSignal(() => 0);
    let peakJournal = 0;
    let peakJournalFile = 0;
    let rssPeak: number | null = null;
    let polls = 0;
    const poll = async (): Promise<DaemonStatus.Result> => {
      const status = await running.status();
      polls++;
      const memory = memoryOf(running.pid);
      if (memory !== null) rssPeak = Math.max(rssPeak ?? 0, memory.rss);
      for (const signal of SIGNALS) {
        const queue = queueOf(status, signal);
        peakMemory[signal] = Math.max(peakMemory[signal], queue?.memoryBytes ?? 0);
        peakSpooledStatus[signal] = Math.max(peakSpooledStatus[signal], queue?.spooledBytes ?? 0);
        peakSpoolFolder[signal] = Math.max(peakSpoolFolder[signal], folderBytes(spoolDirs[signal]));
      }
      peakJournal = Math.max(peakJournal, folderBytes(journalDir));
      peakJournalFile = Math.max(peakJournalFile, largestJournalFile(journalDir));
      return status;
    };

    let recordMs = Number.NaN;
    let outcomes: Finished[] | null = null;
    const clientStats: (ClientStats & { valueSum: number })[] = [];
    let countedAt = Number.NaN;
    let last = pre;
    const sent = { records: 0, events: 0 };
    for (;;) {
      last = await poll();
      const now = performance.now();
      if (clientsRunning === 0 && outcomes === null) {
        recordMs = now - outageStarted;
        outcomes = await Promise.all(exits);
        for (const outcome of outcomes) {
          if (outcome.code !== 0) throw new Error(`${variant.label}: an outage client exited with ${outcome.code ?? outcome.signal}: ${outcome.stderr.slice(-500)}`);
          const stats = JSON.parse(outcome.stdout.trim().split('\n').pop() as string) as ClientStats & { valueSum: number };
          clientStats.push(stats);
          sent.records += stats.sent - 1; // its readiness counter went before the outage
          sent.events += stats.events.sent;
        }
      }
      // Once the daemon has counted everything the clients sent, the outage lasts its full
      // length, and at least 5 more collections, so the last records are collected and queued.
      if (outcomes !== null && Number.isNaN(countedAt)) {
        const derived = last.events.derivedMeasurements - pre.events.derivedMeasurements;
        if (last.signals.metrics.received - pre.signals.metrics.received >= sent.records + derived && last.signals.logs.received - pre.signals.logs.received >= sent.events) countedAt = now;
      }
      if (!Number.isNaN(countedAt) && now - outageStarted >= CONFIG.outageRecordMs + CONFIG.outageTailMs && now - countedAt >= 5 * OUTAGE_DAEMON_CONFIG.export_interval_ms) break;
      if (now - outageStarted > CONFIG.outageRecordMs + 60_000) throw new Error(`${variant.label}: the clients did not record and deliver their hour within a minute of its end`);
      await sleep(CONFIG.outagePollMs);
    }
    await sdkRecorded;
    const rssPeakOutage = rssPeak;
    rssPeak = null;

    // The recovery: the receivers take exports again, at the same moment.
    const beforeDrain = last;
    const requestsBefore = { metrics: receiver.metricsRequests.length, logs: receiver.logsRequests.length, traces: receiver.tracesRequests.length };
    for (const each of receivers) each.setBehavior('ok');
    const recoveredAt = performance.now();
    const outageMs = recoveredAt - outageStarted;
    let firstDeliveryMs = Number.NaN;
    let drainMs = Number.NaN;
    let drained = false;
    for (;;) {
      last = await poll();
      const now = performance.now();
      if (Number.isNaN(firstDeliveryMs) && receiver.metricsRequests.length > requestsBefore.metrics) firstDeliveryMs = now - recoveredAt;
      if (drainedStatus(last)) {
        drainMs = now - recoveredAt;
        drained = true;
        break;
      }
      if (now - recoveredAt > CONFIG.drainTimeoutMs) break;
      await sleep(CONFIG.drainPollMs);
    }
    const end = last;
    const drainBatches = {
      metrics: receiver.metricsRequests.length - requestsBefore.metrics,
      logs: receiver.logsRequests.length - requestsBefore.logs,
      traces: receiver.tracesRequests.length - requestsBefore.traces,
    };
    const spoolAtEnd = perSignal((signal) => folderBytes(spoolDirs[signal]));
    const journalAtEnd = folderBytes(journalDir);

    // The SDK process shuts down now that its receiver is back: a last collection and export.
    let sdkResult: OutageSdkResult | null = null;
    if (sdk !== null && sdkExit !== null && sdkReceiver !== null) {
      sdk.stdin?.end('stop\n');
      const outcome = await sdkExit;
      if (outcome.code !== 0) throw new Error(`${variant.label}: the SDK baseline exited with ${outcome.code ?? outcome.signal}: ${outcome.stderr.slice(-500)}`);
      const reported = JSON.parse(outcome.stdout.trim().split('\n').pop() as string) as Omit<OutageSdkResult, 'delivered' | 'rejectedCalls'>;
      sdkResult = { ...reported, delivered: sdkReceiver.histogramTotals('codex.tool.duration_ms').count, rejectedCalls: sdkReceiver.rejectedCalls };
    }

    // What arrived, against what was recorded.
    const histogram = receiver.histogramTotals('codex.tool.duration_ms');
    const clientDropped: Record<string, number> = {};
    for (const stats of clientStats) {
      for (const [reason, count] of [...Object.entries(stats.dropped), ...Object.entries(stats.events.dropped)]) clientDropped[reason] = (clientDropped[reason] ?? 0) + count;
    }
    return {
      variant,
      records: sent.records,
      events: sent.events,
      derived: end.events.derivedMeasurements - pre.events.derivedMeasurements,
      recordMs,
      outageMs,
      rejectedCalls: receiver.rejectedCalls,
      rssBefore,
      rssPeakOutage,
      rssPeakDrain: rssPeak,
      polls,
      peakMemory,
      peakSpooledStatus,
      peakSpoolFolder,
      peakJournal,
      peakJournalFile,
      journalAtEnd,
      spoolAtEnd,
      spooled: perSignal((signal) => (queueOf(end, signal)?.spooled ?? 0) - (queueOf(pre, signal)?.spooled ?? 0)),
      drainBatches,
      firstDeliveryMs,
      drainMs,
      drained,
      drainRecords: sentByStatus(end, 'metrics') - sentByStatus(beforeDrain, 'metrics'),
      accepted: perSignal((signal) => end.signals[signal].accepted - pre.signals[signal].accepted),
      lost: perSignal((signal) => lostAfterAcceptance(pre, end, signal)),
      delivered: {
        metrics: recordsInPoints(receiver.points()) - preDelivered.metrics,
        logs: receiver.logRecords().length - preDelivered.logs,
        traces: receiver.spans().length - preDelivered.traces,
      },
      deliveredByStatus: perSignal((signal) => sentByStatus(end, signal) - sentByStatus(pre, signal)),
      histogramCount: histogram.count,
      histogramSum: histogram.sum,
      recordedSum: clientStats.reduce((sum, stats) => sum + stats.valueSum, 0),
      clientDropped,
      sdk: sdkResult,
    };
  } finally {
    await daemon?.stop().catch(() => undefined);
    for (const each of receivers) await each.close();
  }
}

const mib = (bytes: number | null): string => (bytes === null ? 'n/a' : `${(bytes / MIB).toFixed(1)} MiB`);
const count = (value: number): string => value.toLocaleString('en-US');
const bySignal = (values: PerSignal<number>, format: (value: number) => string): string => SIGNALS.map((signal) => `${signal} ${format(values[signal])}`).join(', ');
const rssPeakOf = (run: OutageResult): number | null => (run.rssPeakOutage === null ? null : Math.max(run.rssPeakOutage, run.rssPeakDrain ?? 0));

/** Row 7's checks for one run: what the clients sent, the bounds, the drain, and delivery, exactly. */
function checkOutage(run: OutageResult): { exact: boolean; withinMemory: boolean; withinSpool: boolean } {
  const { label, receiverDown, spoolMaxBytes } = run.variant;
  const n = CONFIG.outageClients;
  const expectedRecords = Math.floor(CONFIG.outageRecords / n) * n;
  const expectedEvents = Math.floor(CONFIG.outageEvents / n) * n;
  const memoryBound = OUTAGE_DAEMON_CONFIG.export_queue_max_bytes;
  log(
    `  ${label}: ${receiverDown ? `outage ${(run.outageMs / 1000).toFixed(1)} s, ${count(run.rejectedCalls)} exports refused` : `receiver up, ${(run.outageMs / 1000).toFixed(1)} s`}; ` +
      `peaks: queue memory ${bySignal(run.peakMemory, mib)}; spool ${bySignal(run.peakSpoolFolder, mib)}; journal ${mib(run.peakJournal)}; RSS ${mib(run.rssPeakOutage)} then ${mib(run.rssPeakDrain)} (before ${mib(run.rssBefore)})`,
  );
  log(
    `  ${label}: drain ${count(run.drainRecords)} metric records in ${run.drainMs.toFixed(0)} ms (first batch after ${run.firstDeliveryMs.toFixed(0)} ms), batches ${bySignal(run.drainBatches, count)}; ` +
      `delivered ${bySignal(run.delivered, count)}, lost ${bySignal(perSignal((signal) => run.lost[signal].total), count)}` +
      (run.sdk === null ? '' : `; SDK delivered ${count(run.sdk.delivered)} of ${count(run.sdk.records)}`),
  );
  check(
    run.records === expectedRecords &&
      run.events === expectedEvents &&
      Object.keys(run.clientDropped).length === 0 &&
      run.accepted.metrics === run.records + run.derived &&
      run.accepted.logs === run.events &&
      run.accepted.traces === run.events,
    `${label}: ${n} clients sent ${count(run.records)} of ${count(expectedRecords)} histogram records and ${count(run.events)} of ${count(expectedEvents)} session events in ${(run.recordMs / 1000).toFixed(1)} s, dropped ${JSON.stringify(run.clientDropped)}; ` +
      `the daemon accepted ${count(run.accepted.metrics)} metric records (theirs + ${count(run.derived)} derived from the events), ${count(run.accepted.logs)} log records and ${count(run.accepted.traces)} spans`,
  );
  if (receiverDown) {
    check(
      run.rejectedCalls > 0 && run.spooled.metrics > 0,
      `${label}: the outage was real and spilled to disk: the receiver answered ${count(run.rejectedCalls)} export calls UNAVAILABLE (and took none) over ${(run.outageMs / 1000).toFixed(1)} s; ` +
        `the daemon spilled ${bySignal(run.spooled, count)} records to its spool (\`queue.spooled\`)`,
    );
  } else {
    // What matters here is that nothing was refused; a spill by journal pressure is reported, not
    // failed: it breaks no bound and loses nothing (see the doc's section 7).
    check(
      run.rejectedCalls === 0,
      `${label}: with the receiver up no export was refused (${run.rejectedCalls}); the daemon still spilled ${bySignal(run.spooled, count)} records to disk ` +
        `(the journal peaked at ${count(run.peakJournal)} B at a poll, against its pressure threshold of ${count(run.variant.spoolMaxBytes / 4)} B, a quarter of export_spool_max_bytes; spool folders at most ${bySignal(run.peakSpoolFolder, (bytes) => `${count(bytes)} B`)} at a poll)`,
    );
  }
  const withinMemory = SIGNALS.every((signal) => run.peakMemory[signal] <= memoryBound);
  check(
    withinMemory,
    `${label}: each export queue kept within export_queue_max_bytes = ${mib(memoryBound)} in memory at every one of ${run.polls} polls (peak \`queue.memoryBytes\`: ${bySignal(run.peakMemory, (bytes) => `${count(bytes)} B`)})`,
  );
  const withinSpool = SIGNALS.every((signal) => run.peakSpoolFolder[signal] <= spoolMaxBytes && run.peakSpooledStatus[signal] <= spoolMaxBytes);
  check(
    withinSpool,
    `${label}: each spool kept within export_spool_max_bytes = ${mib(spoolMaxBytes)} on disk at every poll (peak folder size: ${bySignal(run.peakSpoolFolder, (bytes) => `${count(bytes)} B`)}; ` +
      `peak \`queue.spooledBytes\`: ${bySignal(run.peakSpooledStatus, (bytes) => `${count(bytes)} B`)}); the journal peaked at ${count(run.peakJournal)} B and held ${count(run.journalAtEnd)} B once drained`,
  );
  check(
    run.drained && SIGNALS.every((signal) => run.spoolAtEnd[signal] === 0),
    `${label}: after the ${receiverDown ? 'recovery' : 'hour'} every signal drained within ${(CONFIG.drainTimeoutMs / 1000).toFixed(0)} s: buffered 0, no batch in memory, no spool segment ` +
      `(${run.drained ? `after ${run.drainMs.toFixed(0)} ms` : 'NOT drained'}; spool folders then: ${bySignal(run.spoolAtEnd, (bytes) => `${count(bytes)} B`)})`,
  );
  const exact = SIGNALS.every((signal) => run.delivered[signal] === run.accepted[signal] - run.lost[signal].total && run.delivered[signal] === run.deliveredByStatus[signal]);
  check(
    exact,
    `${label}: the receiver got exactly what the daemon accepted minus what its status counts as lost, and what its status counts as sent, for every signal: ` +
      SIGNALS.map(
        (signal) =>
          `${signal} ${count(run.delivered[signal])} = ${count(run.accepted[signal])} − ${count(run.lost[signal].total)} ${JSON.stringify(run.lost[signal].byReason)} (status: exported + replayed ${count(run.deliveredByStatus[signal])})`,
      ).join('; '),
  );
  const noLoss = SIGNALS.every((signal) => run.lost[signal].total === 0);
  if (noLoss) {
    const sumClose = Math.abs(run.histogramSum - run.recordedSum) <= 1e-9 * Math.max(1, run.recordedSum);
    check(
      run.histogramCount === run.records && sumClose,
      `${label}: nothing was lost, so the clients' histogram at the receiver matches what they recorded: count ${count(run.histogramCount)} of ${count(run.records)}, ` +
        `sum of values ${run.histogramSum.toFixed(3)} against ${run.recordedSum.toFixed(3)} recorded (no duplicate, no loss)`,
    );
  }
  if (run.sdk !== null) {
    check(
      run.sdk.records === run.records && run.sdk.delivered === run.sdk.recordsOk,
      `${label} baseline: the in-process SDK recorded the same ${count(run.sdk.records)} records; its exporter reported ${count(run.sdk.exportsOk)} exports ok (${count(run.sdk.recordsOk)} records) ` +
        `and ${count(run.sdk.exportsFailed)} failed (${count(run.sdk.recordsFailed)} records); its receiver answered ${count(run.sdk.rejectedCalls)} calls UNAVAILABLE and took ${count(run.sdk.delivered)} records`,
    );
  }
  return { exact, withinMemory, withinSpool };
}

async function rowOutage(): Promise<Pick<Details, 'outage' | 'outageUp' | 'outageSmallSpool'>> {
  const hour = `${count(CONFIG.outageRecords)} records in ${(CONFIG.outageRecordMs / 1000).toFixed(0)} s`;
  const { module } = await loadReceiverModule();
  const spool = OUTAGE_DAEMON_CONFIG.export_spool_max_bytes;
  log(`row 7: a one-hour outage at accelerated rate (${hour}, receiver UNAVAILABLE; the in-process SDK alongside)`);
  const outage = await measureOutage(module, { label: 'row 7', receiverDown: true, spoolMaxBytes: spool, withSdk: true });
  const main = checkOutage(outage);
  log('row 7: the same hour with the receiver up (the baseline of 7b and 7c)');
  const outageUp = await measureOutage(module, { label: 'row 7 (receiver up)', receiverDown: false, spoolMaxBytes: spool, withSdk: false });
  checkOutage(outageUp);
  log(`row 7e: the same outage with export_spool_max_bytes = ${mib(OUTAGE_SMALL_SPOOL_BYTES)}`);
  const outageSmallSpool = await measureOutage(module, { label: 'row 7e', receiverDown: true, spoolMaxBytes: OUTAGE_SMALL_SPOOL_BYTES, withSdk: false });
  const small = checkOutage(outageSmallSpool);
  check(
    (outageSmallSpool.lost.metrics.byReason.spool_full ?? 0) > 0,
    `row 7e: the smaller spool could not hold the hour, so its bound dropped the oldest batches, counted as \`spool_full\`: ${bySignal(perSignal((signal) => outageSmallSpool.lost[signal].byReason.spool_full ?? 0), count)} records`,
  );

  const n = CONFIG.outageClients;
  const share = (value: number, of: number): string => `${count(value)} of ${count(of)} (${((100 * value) / of).toFixed(value === of ? 0 : 1)}%)`;
  const sdk = outage.sdk as OutageSdkResult;
  rows.push({
    id: '7',
    what: `outage, accel. hour, ${n} procs × ${count(CONFIG.outageRecords / n)} histogram recs: delivered`,
    measured: `${share(outage.histogramCount, outage.records)}, ${count(outage.lost.metrics.total)} dropped`,
    baseline: `in-process SDK + OTLP/gRPC: ${share(sdk.delivered, sdk.records)}`,
    comparison: `+${count(outage.histogramCount - sdk.delivered)} recs`,
    target: 'recorded − dropped, exactly',
    met: main.exact,
  });
  const peak = rssPeakOf(outage);
  const peakUp = rssPeakOf(outageUp);
  rows.push({
    id: '7b',
    what: 'same outage: daemon memory, peak',
    measured: `RSS ${mib(peak)}; queues ${SIGNALS.map((signal) => (outage.peakMemory[signal] / MIB).toFixed(1)).join('/')} MiB`,
    baseline: `receiver up: RSS ${mib(peakUp)}`,
    comparison: peak === null || peakUp === null ? '—' : `${peak >= peakUp ? '+' : '−'}${mib(Math.abs(peak - peakUp))}`,
    target: `queue ≤ ${mib(OUTAGE_DAEMON_CONFIG.export_queue_max_bytes)} per signal`,
    met: main.withinMemory,
  });
  rows.push({
    id: '7c',
    what: 'same outage: disk, peak (spool per signal; journal)',
    measured: `spool ${SIGNALS.map((signal) => (outage.peakSpoolFolder[signal] / MIB).toFixed(1)).join('/')} MiB; journal ${mib(outage.peakJournal)}`,
    baseline: `receiver up: journal ${mib(outageUp.peakJournal)}`,
    comparison: '—',
    target: `spool ≤ ${mib(spool)} per signal`,
    met: main.withinSpool,
  });
  const drainRate = outage.drainRecords / (outage.drainMs / 1000);
  const recordRate = outage.records / (outage.recordMs / 1000);
  rows.push({
    id: '7d',
    what: 'after recovery: drain, metrics (until all signals empty)',
    measured: `${fmt.rate(drainRate)}, ${(outage.drainBatches.metrics / (outage.drainMs / 1000)).toFixed(0)} batches/s`,
    baseline: `recorded in the outage: ${fmt.rate(recordRate)}`,
    comparison: fmt.ratio(drainRate / recordRate),
    target: '—',
    met: null,
  });
  rows.push({
    id: '7e',
    what: `same outage, spool bound ${mib(OUTAGE_SMALL_SPOOL_BYTES)}: metric recs delivered`,
    measured: `${share(outageSmallSpool.delivered.metrics, outageSmallSpool.accepted.metrics)}, ${count(outageSmallSpool.lost.metrics.byReason.spool_full ?? 0)} dropped (spool_full)`,
    baseline: `${mib(spool)} spool (row 7): ${share(outage.delivered.metrics, outage.accepted.metrics)}`,
    comparison: `−${count(outage.delivered.metrics - outageSmallSpool.delivered.metrics)} recs`,
    target: `spool ≤ ${mib(OUTAGE_SMALL_SPOOL_BYTES)}; recorded − dropped, exactly`,
    met: small.exact && small.withinSpool && small.withinMemory,
  });
  return { outage, outageUp, outageSmallSpool };
}

// ---------------------------------------------------------------- the doc

/** Section 7 of the doc: how row 7 was measured, with the figures of its three runs. */
function outageDoc(outage: OutageResult, up: OutageResult, small: OutageResult): string[] {
  const n = CONFIG.outageClients;
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const hourFactor = 3600_000 / CONFIG.outageRecordMs;
  const sdk = outage.sdk as OutageSdkResult;
  const journalThreshold = (run: OutageResult): number => run.variant.spoolMaxBytes / 4;
  const batchKiB = outage.drainBatches.metrics === 0 ? Number.NaN : outage.peakSpooledStatus.metrics / outage.drainBatches.metrics / 1024;
  const sendingMs = outage.drainMs - outage.firstDeliveryMs;
  const spilledBy = (run: OutageResult): string => bySignal(run.spooled, count);
  const lostText = (run: OutageResult): string =>
    SIGNALS.map((signal) => `${signal} ${count(run.delivered[signal])} = ${count(run.accepted[signal])} accepted − ${count(run.lost[signal].total)} lost${run.lost[signal].total === 0 ? '' : ` (${JSON.stringify(run.lost[signal].byReason)})`}`).join('; ');
  return [
    `Three runs, each with a fresh daemon in a temp folder of its own, set up as in row 3 except that every signal (metrics, the log lane, the trace lane) is exported over OTLP/gRPC ` +
      '(`[otel] metrics_exporter`, `exporter` and `trace_exporter` all `{ otlp-grpc = { endpoint = … } }`) to a receiver of its own: test/support/otlp-receiver.ts, the real `@grpc/grpc-js` receiver, running in the benchmark process, ' +
      'which decodes every export it takes and can be told to answer every export with gRPC UNAVAILABLE. The `[codexd]` keys, chosen for this row: ' +
      `\`export_interval_ms = ${OUTAGE_DAEMON_CONFIG.export_interval_ms}\` (a collection every 200 ms, so batches keep coming through the outage), ` +
      `\`export_queue_max_bytes = ${OUTAGE_DAEMON_CONFIG.export_queue_max_bytes}\` (${mib(OUTAGE_DAEMON_CONFIG.export_queue_max_bytes)} per signal in memory: below what this hour's batches add up to within a few seconds, so that the memory bound is reached and spills), ` +
      `\`export_spool_max_bytes = ${OUTAGE_DAEMON_CONFIG.export_spool_max_bytes}\` (${mib(OUTAGE_DAEMON_CONFIG.export_spool_max_bytes)} per signal on disk: room for the whole hour; row 7e uses ${mib(OUTAGE_SMALL_SPOOL_BYTES)}), ` +
      `\`export_retry_initial_ms = ${OUTAGE_DAEMON_CONFIG.export_retry_initial_ms}\` and \`export_retry_max_ms = ${OUTAGE_DAEMON_CONFIG.export_retry_max_ms}\` (with the queue's jitter, an attempt every 0.5 to 1.5 s once the backoff has grown). ` +
      'The spool bound also sets the journal\'s pressure threshold, a quarter of it (daemon/run.ts): past it, the daemon moves every batch waiting in memory to the spool, which settles their records so that the journal\'s files can go.',
    '',
    `The hour: ${n} client processes (bench/fixtures/outage-client.mjs) connect, start a session and send one readiness counter, which the daemon exports while the receiver is up (it also opens the daemon's gRPC channel); ` +
      `then, after "go", each records ${count(CONFIG.outageRecords / n)} \`histogram('codex.tool.duration_ms', value, tags)\` values (distinct values) and sends ${count(CONFIG.outageEvents / n)} session events (bench/fixtures/session-events.mjs, as in row 6), ` +
      `paced evenly over ${seconds(CONFIG.outageRecordMs)}: every 20 ms it takes its due share and calls \`await flush()\`. The tags are tool (4) × status (2) × minute (60) = 480 series, the \`minute\` rotating every eighth record, ` +
      `so every 200 ms collection carries all 480 histogram points (a metrics batch of about ${batchKiB.toFixed(0)} KiB serialised) rather than a handful: ${count(CONFIG.outageRecords)} records at ${fmt.rate(outage.records / (outage.recordMs / 1000))}, ` +
      `an hour of a host recording ${(CONFIG.outageRecords / 3600).toFixed(0)} records a second compressed ${hourFactor.toFixed(0)}×. What the compression does not scale: the hour makes ${count(outage.drainBatches.metrics)} metrics batches here, where a real hour at the default 5 s interval makes 720 of the same kind; ` +
      `the backoff, the journal's 2 s rotation and its 200 ms sync run in real time; and the daemon ingests ${fmt.rate(outage.records / (outage.recordMs / 1000))} throughout, which is what sizes its journal (below).`,
    '',
    `Row 7: both receivers (the daemon's, and the SDK baseline's, below) answer UNAVAILABLE from just before "go" until the recording is over, the daemon has counted everything the clients sent and at least ${(CONFIG.outageTailMs / 1000).toFixed(0)} s more have passed ` +
      `(${seconds(outage.outageMs)} in all; the receiver refused ${count(outage.rejectedCalls)} export calls and took none). Every ${CONFIG.outagePollMs} ms meanwhile (${CONFIG.drainPollMs} ms during the drain) the benchmark reads \`daemon/status\`, ` +
      'the daemon\'s VmRSS from /proc/<pid>/status, and the sizes of the files under `$XDG_STATE_HOME/codexd/spool/<signal>/` and `$XDG_STATE_HOME/codexd/journal/`; peaks are the highest value seen at a poll. ' +
      `The daemon spilled ${spilledBy(outage)} records to its spool (\`queue.spooled\`). Memory (7b): \`queue.memoryBytes\` peaked at ${bySignal(outage.peakMemory, (bytes) => `${count(bytes)} B`)}, within the ${mib(OUTAGE_DAEMON_CONFIG.export_queue_max_bytes)} bound (past it, the queue moves its oldest batches to disk until it holds half). ` +
      `The daemon's RSS went from ${mib(outage.rssBefore)} before the outage to ${mib(outage.rssPeakOutage)} during it and ${mib(outage.rssPeakDrain)} during the drain; ` +
      `most of that is the load, not the outage: the same hour with the receiver up (the baseline column: another daemon, run right after) peaked at ${mib(rssPeakOf(up))} from ${mib(up.rssBefore)}. ` +
      `Disk (7c): the spool folders peaked at ${bySignal(outage.peakSpoolFolder, mib)} (\`queue.spooledBytes\` peaked within a few bytes of that; the folders also hold replay-progress files), within the ${mib(OUTAGE_DAEMON_CONFIG.export_spool_max_bytes)} bound; ` +
      `the journal peaked at ${mib(outage.peakJournal)} at a poll (threshold ${mib(journalThreshold(outage))}; a poll sees it between its 200 ms writes, and its pressure check follows a write, so its top is up to one write higher than any poll shows). The journal is not bounded by a key: its files rotate every 2 s and go once every record in them has settled, so it holds a few seconds of accepted records whatever the collector does. ` +
      `With the receiver up it peaked at ${mib(up.peakJournal)} at a poll` +
      (up.spooled.metrics + up.spooled.logs + up.spooled.traces === 0
        ? ', and nothing spilled.'
        : `, and its pressure made the daemon spill ${spilledBy(up)} records to disk although no export was refused (they were sent from the spool right away).`),
    '',
    `Row 7d: when both receivers come back, the daemon's next attempt comes after the backoff (its receiver took the first metrics batch ${fmt.ms(outage.firstDeliveryMs)} after the recovery); ` +
      `every signal had sent everything (\`buffered\` 0, no batch in memory, no spool segment; the spool folders empty) ${fmt.ms(outage.drainMs)} after the recovery. ` +
      `In that time the metrics queue sent ${count(outage.drainRecords)} records (\`exported\` + \`queue.replayed.exported\`) in ${count(outage.drainBatches.metrics)} batches, the log and trace queues ${count(outage.drainBatches.logs)} and ${count(outage.drainBatches.traces)} batches, ` +
      `the three side by side, each one batch at a time, oldest first, mostly read back from spool segments. The rate is taken over the whole time from the recovery, the wait for the first attempt included ` +
      `(from the first batch on: ${fmt.rate(outage.drainRecords / (sendingMs / 1000))}, ${(outage.drainBatches.metrics / (sendingMs / 1000)).toFixed(0)} batches/s); the receiver decodes every batch in the benchmark's process, on the same ${os.cpus().length} cores. ` +
      'The baseline column is the rate at which the clients recorded during the outage: the ratio is how many times faster than it accumulated the backlog drains. Records per second depend on how many records a batch aggregates; batches per second less so.',
    '',
    `Row 7, delivered: what the receiver took after the recovery (histogram counts plus counter sums, all points delta; log records; spans) against what the daemon accepted during the outage (its \`signals\` counts) minus what its status counts as lost after accepting ` +
      `(\`dropped\` by reason, which includes \`failed\`, plus \`queue.replayed.dropped\`): ${lostText(outage)}; and the same figure as status counts it sent. ` +
      'With delta temporality a batch sent twice would show as too many, one lost as too few' +
      (SIGNALS.every((signal) => outage.lost[signal].total === 0) ? '; the clients\' histogram alone matched too, count and sum of values (see Checks). ' : '. ') +
      `The baseline is what a host's own SDK delivers through the same outage: bench/fixtures/outage-sdk.mjs records the same ${count(sdk.records)} values (the ${n} clients' streams, at the same pace, from the same "go") into a \`MeterProvider\` whose \`PeriodicExportingMetricReader\` collects every ${OUTAGE_DAEMON_CONFIG.export_interval_ms} ms ` +
      'and exports with `@opentelemetry/exporter-metrics-otlp-grpc`\'s `OTLPMetricExporter` (delta temporality, default timeout) to a second receiver, which goes down and comes back at the same moments as the daemon\'s; once it is back, the process calls `provider.shutdown()` (a last collection and export). ' +
      `Its receiver took ${count(sdk.delivered)} of them. The exporter reported ${count(sdk.exportsFailed)} failed exports (${count(sdk.recordsFailed)} records) and ${count(sdk.exportsOk)} successful ones, and its receiver answered ${count(sdk.rejectedCalls)} calls UNAVAILABLE` +
      (sdk.rejectedCalls === sdk.exportsFailed ? ': one attempt per batch. ' : '. ') +
      'In this version (0.301) the gRPC transport reports every error as a failure, never as retryable, so the exporter\'s retrying transport does not retry at all (node_modules/@opentelemetry/otlp-grpc-exporter-base, `GrpcExporterTransport.send`); ' +
      'a failed batch is dropped, and with delta temporality its records are gone. So the comparison is about what survives an outage, not about speed; the HTTP exporters do retry (up to 5 times within their 10 s timeout), which would still lose everything but the outage\'s last seconds.',
    '',
    `Row 7e: the same outage (${seconds(small.outageMs)}, ${count(small.rejectedCalls)} calls refused) with \`export_spool_max_bytes = ${small.variant.spoolMaxBytes}\` (${mib(small.variant.spoolMaxBytes)}), less than the hour's metrics batches take, and so a journal threshold of ${mib(journalThreshold(small))}. ` +
      `The spool folders peaked at ${bySignal(small.peakSpoolFolder, mib)}, within the bound, which dropped the oldest segments to make room: \`spool_full\` ${count(small.lost.metrics.byReason.spool_full ?? 0)} metric records. ` +
      `Delivered after the recovery (drained within ${fmt.ms(small.drainMs)}): ${lostText(small)}, exactly. Queue memory peaked at ${bySignal(small.peakMemory, mib)}; ` +
      `the journal, though, peaked at ${mib(small.peakJournal)}, ${(small.peakJournal / journalThreshold(small)).toFixed(1)}× its threshold${small.peakJournal > small.variant.spoolMaxBytes ? ' and more than the spool bound itself' : ''}: ` +
      'the threshold is checked right after a rotation closes a file, and the spill it triggers then cannot settle that file\'s last records (accepted since the last 200 ms collection, not yet in any batch); ' +
      `pressure fires at most once per rotation, so that file waits for the next rotation's spill, and the journal holds about two rotations of accepted records (its largest file at a poll held ${mib(small.peakJournalFile)}, one rotation's worth). ` +
      'What the configured bounds cap is the spool, not the journal.',
  ];
}


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
  firstUse: FirstUseResult;
  events: EventsResult[];
  eventFlood: EventsResult;
  eventCost: EventCostResult;
  outage: OutageResult;
  outageUp: OutageResult;
  outageSmallSpool: OutageResult;
  spans: SpanDetails;
  memory: MemoryDetails;
  codex: CodexDetails;
  otlpIngest: OtlpIngestDetails;
}

function renderDoc(details: Details, date: string): string {
  const m = machine();
  const { counter, histogram, cli, ingest, sdkRates, firstUse, events, eventFlood, eventCost, outage, outageUp, outageSmallSpool } = details;
  const eventTotal = CONFIG.eventClients * CONFIG.eventCount;
  const eventDaemonCpus = events.map((run) => run.daemonCpuMs).filter((ms): ms is number => ms !== null);
  const eventDaemonCpu =
    eventDaemonCpus.length === 0
      ? 'an unknown amount of CPU (no /proc)'
      : `${median(eventDaemonCpus).toFixed(0)} ms of CPU (${((median(eventDaemonCpus) * 1000) / eventTotal).toFixed(1)} µs per event)`;
  const floodDropped = Math.max(eventFlood.queueFull.logs, eventFlood.queueFull.traces);
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
    'Row 2 compares three commands, each spawned from bench/run.ts with the same Node binary (`process.execPath`) and timed from just before `spawn()` to the ' +
      "child's exit: `node -e 0`; bench/fixtures/cli-client.mjs, which imports `createClient` from `codexd/client` (run with the repository as its working directory, " +
      "that resolves through the package's own `exports` to dist/client/codexd-client.js: one ES module that `npm run build` bundles from client/ and protocol/ with rolldown, " +
      'with no `import` statements left: it reaches the Node built-ins it needs through `process.getBuiltinModule()` where it uses them), makes 1,000 calls ' +
      `(500 \`codex.tool.call\` counter increments over four tag sets, 500 \`codex.tool.duration_ms\` histogram values; the client sums the counters and sends ${cli.sentPerRun} records) and awaits \`close()\` against the running daemon; ` +
      'bench/fixtures/cli-sdk.mjs, which makes the same calls through its own `MeterProvider` + `PeriodicExportingMetricReader` + OTLP/gRPC `OTLPMetricExporter` ' +
      `pointed at a local OTLP receiver (test/support/otlp-receiver.ts, running in the benchmark process) and awaits \`provider.shutdown()\`. ` +
      `${CONFIG.cliWarmup} untimed warm-up rounds, then ${cli.nodeMs.length} timed rounds; each round runs these three and the two commands of rows 2d and 5 one after another, the order rotated every round. ` +
      `Figures are medians (spread: node -e 0 ${spread(cli.nodeMs, 1)} ms, client CLI ${spread(cli.clientMs, 1)} ms, SDK CLI ${spread(cli.sdkMs, 1)} ms). ` +
      `For a floor, row 2d times bench/fixtures/socket-floor.mjs in the same rounds: it only loads node:net (through \`process.getBuiltinModule()\`), connects to the daemon's socket, writes one frame (the client's \`initialize\` request, framed by hand) and exits once the write is done, which is what any socket client pays over \`node -e 0\`: ` +
      `${fmt.signedMs(median(cli.floorMs) - median(cli.nodeMs))} (median ${fmt.ms(median(cli.floorMs))}, spread ${spread(cli.floorMs, 1)} ms), against ${fmt.signedMs(median(cli.clientMs) - median(cli.nodeMs))} for the client CLI. ` +
      'Delivery is checked: the daemon must have counted every client run\'s records and the receiver every SDK run\'s export (see Checks).',
    '',
    '### 3. Daemon ingest throughput',
    '',
    `A fresh \`node dist/cli/main.js run\` with HOME, XDG_*, CODEX_HOME in a temp folder, CODEXD_SOCKET at a short temp path, and a config.toml with ` +
      '`[codexd] export_interval_ms = 1000` and the file exporter named for every signal (`[otel] metrics_exporter`, `exporter` and `trace_exporter` all `"file"`, the defaults). The file exporter is chosen on purpose: with ' +
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
    '### 4. First use: the client starts the daemon',
    '',
    `The same bench/fixtures/cli-client.mjs (1,000 calls, ${firstUse.recordsPerRun} records, \`close()\`), in a temp folder and socket of its own, with spawning on ` +
      '(CODEXD_NO_SPAWN removed from its environment, which the other rows set to 1) and `[codexd] idle_timeout_ms = ' +
      `${CONFIG.spawnIdleTimeoutMs}\` in its config.toml (a safety net: a daemon left behind by a killed benchmark ends itself). ` +
      'Each round starts from nothing, checked: no socket file, no process running `--spawned` with the socket folder as its working directory, no hand-off file waiting. ' +
      'First use (timed): the CLI finds nothing on the socket, so its client starts `node dist/cli/main.js run --spawned` detached (cwd = the socket folder), and since `close()` ' +
      'comes before any daemon answers, it writes its records as a file in `<socket folder>/handoff/` and the CLI exits; the figure is that CLI\'s wall time from `spawn()` to exit, ' +
      'so it includes loading node:child_process, starting the detached daemon and writing the hand-off file, but not the daemon\'s own start-up, which runs on after the CLI has gone. ' +
      'The benchmark then connects to that daemon (retrying until it answers), reads its pid from `daemon/status` and waits until `signals.metrics.received` counts the round\'s records; ' +
      'the check requires exactly those records, all of them ingested from the hand-off file (`handoff.recordsIngested`). ' +
      `From the CLI's \`spawn()\` to that point took ${fmt.ms(median(firstUse.deliveredMs))} (median, spread ${spread(firstUse.deliveredMs, 0)} ms, polling included). ` +
      'Warm (timed): the same CLI, same environment, against that daemon, after one untimed run so the just-started daemon has served a client once; ' +
      `that daemon is young (its uptime once it had counted the warm runs: median ${median(firstUse.warmUptimeMs).toFixed(0)} ms) and runs in row 4's own folder, whereas` +
      ' row 2a\'s CLI talks to a long-lived daemon, so the two daemon-up figures need not match. ' +
      'Then the daemon gets SIGTERM (SIGKILL after 8 s; see Checks for how each one ended), the benchmark waits for the process to be gone and removes whatever it left ' +
      `(socket, lock, spawn marker). ${CONFIG.spawnWarmup} untimed warm-up rounds, then ${firstUse.firstMs.length} timed rounds; figures are medians ` +
      `(spread: first use ${spread(firstUse.firstMs, 1)} ms, daemon up ${spread(firstUse.warmMs, 1)} ms). ` +
      'Every auto-spawned daemon is ended by pid and by a /proc scan of the socket folder between rounds and again, with SIGKILL, on every exit path of the benchmark.',
    '',
    '### 5. Connecting: one counter',
    '',
    'bench/fixtures/cli-one.mjs imports `createClient` from `codexd/client` like the CLI of row 2, records one `codex.tool.call` counter increment and awaits `close()` against the running daemon: ' +
      'the fixed cost of loading the client, connecting, `initialize` and one write. It runs in the same rounds as row 2 (same daemon, order rotated), so its `node -e 0` baseline is the one of rows 2a and 2c ' +
      `(median of ${cli.oneMs.length}; spread ${spread(cli.oneMs, 1)} ms). The daemon's count of received records includes each run's one record (see Checks).`,
    '',
    '### 6. Session events: through the daemon into the log and trace lanes (6, 6c, 6d), and their cost to the host (6b)',
    '',
    'A fresh daemon, set up as in row 3 (the file exporter for every signal; `export_interval_ms = 1000`, which is also the scheduled delay of both lanes\' batch processors). ' +
      'Each event the daemon accepts becomes one log record (a `BatchLogRecordProcessor`, written to logs.jsonl) and one span (a `BatchSpanProcessor`, ' +
      'written to traces.jsonl), both exported in batches of up to 512 as OTLP JSON lines; a lane refuses records (`queue_full`) while it holds 20,000 unexported ones (or 32 Mi characters of their attributes, which these events never reach). ' +
      'The events (bench/fixtures/session-events.mjs) are what Codex sends while streaming a turn: every client\'s session starts with Codex\'s session context ' +
      '(`conversation.id`, `model`, `slug`, `auth_mode`, `originator`, `session_source`, `terminal.type`, `app.version`, and the log-only `user.account_id` and `user.email`), ' +
      'and its events repeat a turn of 16 under one `traceparent`: one `codex.api_request` (trace-safe `attempt`, `duration_ms`, `http.response.status_code`), eight `codex.sse_event` ' +
      '(`event.kind`, `duration_ms`; the last with token counts) and seven `codex.tool_result` (trace-safe `tool_name`, `call_id`, `success`, `duration_ms`; log-only `arguments`, ' +
      'a 107-character JSON command line, and `output`, 185 to 190 characters), each with `durationMs`. On the way the daemon redacts `arguments` and `output` on the log lane ' +
      '(`log_tool_content` is off by default) and derives two metric measurements from each tool result, API request and SSE event (checked against `daemon/status` `events` for every run, see Checks).',
    '',
    `Row 6: after one untimed (but checked) warm-up run (${CONFIG.eventClients} × ${CONFIG.eventWarmupCount.toLocaleString('en-US')} events), ${events.length} runs in which ` +
      `${CONFIG.eventClients} client processes (bench/fixtures/event-client.mjs) connect, start a session and send one readiness event; once the daemon has counted and exported those, ` +
      `each sends ${CONFIG.eventCount.toLocaleString('en-US')} events in chunks of ${CONFIG.eventChunk}, each chunk followed by \`await client.flush()\`. ` +
      'A client sends a chunk only when the benchmark hands it one (a "+" on its stdin): chunks go to the clients in turn as long as the events handed out but not yet received by the daemon, ' +
      `plus the larger of the two lanes' unexported records, stay within ${CONFIG.eventWindow.toLocaleString('en-US')}, half of what a lane holds. ` +
      'That window is the benchmark\'s own: nothing tells a client that the lanes are full (`session/event` is a notification, and `flush()` resolves once the socket has taken the bytes, ' +
      'which the daemon reads as fast as they come), so clients that send as fast as they can outrun the lanes (row 6d); the windowed figure is the rate the daemon sustains into both lanes without dropping. ' +
      'Events/s = log records accepted (`signals.logs.accepted` from `daemon/status`, polled every ~5 ms over one control connection) / time from handing out the first chunk to the poll that saw the last event arrive; ' +
      `median of ${events.length} runs (${events.map((run) => fmt.eventRate(run.rate)).join(', ')}). The lanes held at most ${Math.max(...events.map((run) => run.peakBuffered)).toLocaleString('en-US')} unexported records at a poll. ` +
      `CPU, medians over the runs: the daemon used ${eventDaemonCpu} from the first chunk until both lanes had exported all but their last batch (its answers to the polls included), ` +
      `the ${CONFIG.eventClients} clients together ${median(events.map((run) => run.clientsCpuMs)).toFixed(0)} ms (whole client processes, start-up included), on ${os.cpus().length} cores. ` +
      'The baseline column is, for context, the rate of one process emitting the same log record and span into its own in-process SDK: 1 s / the SDK figure of row 6b (which leaves out serialising and exporting them).',
    '',
    'Row 6c: in the same runs, the time from the first chunk until both lanes had exported every accepted event and held none (`signals.logs.exported` and `signals.traces.exported`, plus what each export queue sent from its disk spool when it fell behind and spilled (`queue.replayed.exported`), reaching `accepted`, `buffered` 0), median. ' +
      'A batch processor exports as soon as it holds a full batch of 512; once the events stop coming, the last, partial batch waits for the scheduled delay (1,000 ms), which is most of the difference: ' +
      `all but that last batch had been exported ${fmt.signedMs(median(events.map((run) => run.drainedMs)) - median(events.map((run) => run.acceptedMs)))} after the last event arrived (median; spread of the full export ${spread(events.map((run) => run.exportedMs), 0)} ms).`,
    '',
    `Row 6d: once, after the timed runs, the same ${eventTotal.toLocaleString('en-US')} events with every chunk handed out at once, the clients still calling \`await flush()\` after each chunk. ` +
      `The daemon received them at ${fmt.eventRate(eventFlood.receivedRate)} (all ${eventTotal.toLocaleString('en-US')} within ${fmt.ms(eventFlood.acceptedMs)}), ` +
      (floodDropped === 0
        ? `and each lane accepted all of them (log lane ${eventFlood.accepted.toLocaleString('en-US')}): this many fit in a lane's 20,000 (see Checks). `
        : `but each lane accepted only ${eventFlood.accepted.toLocaleString('en-US')} and refused ${floodDropped.toLocaleString('en-US')} as \`queue_full\` ` +
          `(log lane ${eventFlood.queueFull.logs.toLocaleString('en-US')}, trace lane ${eventFlood.queueFull.traces.toLocaleString('en-US')}; every event accounted for, see Checks). `) +
      `While the events arrived, the log lane exported ${eventFlood.exportedOnArrival.toLocaleString('en-US')} records; once they stopped, it exported the rest within ${fmt.ms(eventFlood.drainedMs - eventFlood.acceptedMs)} (all but its last batch). ` +
      (floodDropped === 0
        ? ''
        : 'So under such a load it is the lanes\' exports that fall behind, not the ingest, which fits how they work: each batch processor has one export in flight at a time (sdk-logs and sdk-trace 3.1), and each file export of a batch ' +
          '(`appendFile`: open, write, close on the thread pool) needs several turns of the daemon\'s event loop to complete, while each turn also parses and ingests whatever the four sockets delivered. ') +
      `The clients' \`flush()\` backpressure only reaches the socket: they themselves dropped ${eventFlood.clientDropped === 0 ? 'nothing' : eventFlood.clientDropped.toLocaleString('en-US')}.`,
    '',
    `Row 6b: bench/fixtures/event-cost.mjs, one process with that daemon running. Each round sends ${eventCost.events.toLocaleString('en-US')} of the same events in chunks of ${eventCost.chunk}. ` +
      'The client side times `session.event(name, fields)` for each event of a chunk (fresh field objects per call) and the `await client.flush()` after it, so its figure includes serialising the batch and writing it to the socket. ' +
      'Not timed: after each chunk, `await session.summary()`, a round trip the daemon answers once it has taken everything sent before it, so that every chunk starts with the daemon caught up and the figure is the client\'s own work ' +
      '(a host that emits faster than the daemon reads waits in `flush()`, which is row 6\'s subject, not this one); and before each client round a `daemon/flush`, so the lanes start every round empty and cannot overflow. ' +
      'The SDK side builds each event\'s attributes as the daemon does (session context, the event\'s fields, then `session.id`, `client.name` and `event.name`; the span without the log-only ones), calls ' +
      '`tracer.startSpan()` + `span.end()` under the turn\'s remote parent context and `logger.emit()` in the span\'s context (as the daemon does, so the two correlate), on a `LoggerProvider` with a `BatchLogRecordProcessor` and a `TracerProvider` with a `BatchSpanProcessor` (default queue and batch sizes, the daemon\'s scheduled delay of 1,000 ms) ' +
      'exporting to counting no-op exporters, and yields one turn of the event loop (`setImmediate`) at the same points, as a host\'s loop turns between bursts, so that the processors can hand their batches on ' +
      '(awaiting a resolved promise instead, as row 1 does, the log processor\'s export, a chain of promises, does not complete during a round, and its queue of 2,048 fills and drops; here none dropped, checked). Serialising and exporting those batches, which a real exporter does on the host\'s thread, is not in the SDK figure. ' +
      `Client and SDK rounds alternate in one process (order swapped every round), ${CONFIG.eventCostWarmup} warm-up rounds each, then the median of ${eventCost.clientNs.length} rounds: ns = timed wall time / events. ` +
      `Per-round spread: client ${spread(eventCost.clientNs, 0)} ns, SDK ${spread(eventCost.sdkNs, 0)} ns.`,
    '',
    '### 7. A one-hour outage at accelerated rate (7, 7b–7d), and a spool too small for it (7e)',
    '',
    ...outageDoc(outage, outageUp, outageSmallSpool),
    '',
    ...spansDoc(details.spans),
    '',
    ...memoryDoc(details.memory),
    '',
    ...codexDoc(details.codex),
    '',
    ...otlpIngestDoc(details.otlpIngest),
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
  const rowNames = [...(ONLY.has('2') ? ['2'] : []), ...(ONLY.has('5') ? ['5'] : [])].join(' and ');
  log(`row ${rowNames}: short CLI wall time${ONLY.has('2') ? ' (loading the OTLP receiver)' : ''}`);
  const receiver = ONLY.has('2') ? await (await loadReceiverModule()).module.startOtlpReceiver() : null;
  let cli: CliResult;
  try {
    cli = await measureClis(bench, daemon, receiver);
  } finally {
    await receiver?.close();
  }
  const nodeMs = median(cli.nodeMs);
  if (ONLY.has('2')) {
    const clientMs = median(cli.clientMs);
    const sdkMs = median(cli.sdkMs);
    const floorMs = median(cli.floorMs);
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
    rows.push({
      id: '2d',
      what: 'floor: node:net, connect, write 1 frame',
      measured: fmt.ms(floorMs),
      baseline: `node -e 0: ${fmt.ms(nodeMs)}`,
      comparison: fmt.signedMs(floorMs - nodeMs),
      target: '—',
      met: null,
    });
  }
  if (ONLY.has('5')) {
    const oneMs = median(cli.oneMs);
    rows.push({
      id: '5',
      what: 'CLI, 1 counter + close(): thin client',
      measured: fmt.ms(oneMs),
      baseline: `node -e 0: ${fmt.ms(nodeMs)}`,
      comparison: fmt.signedMs(oneMs - nodeMs),
      target: '—',
      met: null,
    });
  }
  return { cli };
}

async function rowFirstUse(): Promise<Pick<Details, 'firstUse'>> {
  log('row 4: first use (no daemon, auto-spawn on) vs the same CLI with the daemon up');
  const firstUse = await measureFirstUse();
  const firstMs = median(firstUse.firstMs);
  const warmMs = median(firstUse.warmMs);
  rows.push({
    id: '4',
    what: 'same CLI, first use: no daemon, auto-spawn',
    measured: fmt.ms(firstMs),
    baseline: `same CLI, daemon up: ${fmt.ms(warmMs)}`,
    comparison: fmt.signedMs(firstMs - warmMs),
    target: '—',
    met: null,
  });
  return { firstUse };
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

async function rowEvents(bench: BenchEnv, daemon: RunningDaemon): Promise<Pick<Details, 'events' | 'eventFlood' | 'eventCost'>> {
  log('row 6: session events through the daemon into the log and trace lanes');
  const n = CONFIG.eventClients;
  // As in row 3: one short untimed (but checked) run first, so the daemon's steady state is measured.
  await measureEvents(bench, daemon, 'row 6 warm-up', 0, CONFIG.eventWarmupCount, 'window');
  const events: EventsResult[] = [];
  for (let repeat = 0; repeat < CONFIG.eventRepeats; repeat++) {
    const result = await measureEvents(bench, daemon, `row 6 run ${repeat + 1}`, (repeat + 1) * n, CONFIG.eventCount, 'window');
    log(`  run ${repeat + 1}: ${fmt.eventRate(result.rate)} (${result.accepted} events in ${result.acceptedMs.toFixed(0)} ms; both lanes exported after ${result.exportedMs.toFixed(0)} ms)`);
    events.push(result);
  }
  // The same load with every chunk handed out at once: what the lanes do when clients outrun them.
  const eventFlood = await measureEvents(bench, daemon, 'row 6d (flood)', (CONFIG.eventRepeats + 1) * n, CONFIG.eventCount, 'flood');
  log(
    `  flood: received ${fmt.eventRate(eventFlood.receivedRate)}; each lane accepted ${eventFlood.accepted}, dropped queue_full ${eventFlood.queueFull.logs}/${eventFlood.queueFull.traces}; ` +
      `${eventFlood.exportedOnArrival} log records exported when the last event arrived, all but the last batch ${(eventFlood.drainedMs - eventFlood.acceptedMs).toFixed(0)} ms later`,
  );
  log('row 6b: per-event cost, thin client vs in-process SDK (log record + span)');
  const eventCost = await measureEventCost(bench, daemon);
  const rate = median(events.map((run) => run.rate));
  const exportedMs = median(events.map((run) => run.exportedMs));
  const acceptedMs = median(events.map((run) => run.acceptedMs));
  const drainedMs = median(events.map((run) => run.drainedMs));
  const clientNs = median(eventCost.clientNs);
  const sdkNs = median(eventCost.sdkNs);
  const total = CONFIG.eventClients * CONFIG.eventCount;
  rows.push({
    id: '6',
    what: `session events, ${n} procs × ${CONFIG.eventCount.toLocaleString('en-US')}, accepted (windowed)`,
    measured: fmt.eventRate(rate),
    baseline: `1 proc, in-process SDK (6b): ${fmt.eventRate(1e9 / sdkNs)}`,
    comparison: fmt.ratio(rate / (1e9 / sdkNs)),
    target: '—',
    met: null,
  });
  rows.push({
    id: '6b',
    what: 'session event: thin client (incl. flush)',
    measured: fmt.nsPerEvent(clientNs),
    baseline: `SDK log record + span: ${fmt.nsPerEvent(sdkNs)}`,
    comparison: fmt.ratio(clientNs / sdkNs),
    target: '—',
    met: null,
  });
  rows.push({
    id: '6c',
    what: `same ${total.toLocaleString('en-US')} events: exported by both lanes`,
    measured: fmt.ms(exportedMs),
    baseline: `all accepted: ${fmt.ms(acceptedMs)}`,
    comparison: `${fmt.signedMs(exportedMs - acceptedMs)} (all but the last batch: ${fmt.signedMs(drainedMs - acceptedMs)})`,
    target: '—',
    met: null,
  });
  const floodDropped = Math.max(eventFlood.queueFull.logs, eventFlood.queueFull.traces);
  rows.push({
    id: '6d',
    what: 'same, not windowed (clients flood): dropped',
    measured: `${floodDropped.toLocaleString('en-US')} (${((100 * floodDropped) / eventFlood.total).toFixed(0)}%) queue_full`,
    baseline: `accepted: ${eventFlood.accepted.toLocaleString('en-US')}`,
    comparison: '—',
    target: '—',
    met: null,
  });
  return { events, eventFlood, eventCost };
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
    if (ONLY.has('1') || ONLY.has('2') || ONLY.has('5')) {
      daemon = await startDaemon(bench, DAEMON_ARGS);
      if (ONLY.has('1')) Object.assign(details, await rowCost(bench));
      if (ONLY.has('2') || ONLY.has('5')) Object.assign(details, await rowCli(bench, daemon));
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
    if (ONLY.has('6')) {
      // A fresh daemon again: its lanes start empty, and nothing of row 3 is in its heap.
      daemon = await startDaemon(bench, DAEMON_ARGS);
      Object.assign(details, await rowEvents(bench, daemon));
      await daemon.stop();
      daemon = null;
    }
    if (ONLY.has('8')) {
      // A fresh daemon again: its trace lane starts empty, and nothing of row 6 is in its heap.
      daemon = await startDaemon(bench, DAEMON_ARGS);
      Object.assign(details, { spans: await rowSpans(QUICK, bench, daemon) });
      await daemon.stop();
      daemon = null;
    }
    // Its own daemon, folder and receivers (OTLP/gRPC instead of files).
    if (ONLY.has('7')) Object.assign(details, await rowOutage());
    // Fresh daemons of its own, with their defaults, exporting to receivers of its own.
    if (ONLY.has('9')) Object.assign(details, { memory: await rowMemory(QUICK) });
    // The real Codex CLI, with a daemon, a collector and a mock model of its own.
    if (ONLY.has('10')) Object.assign(details, { codex: await rowCodex(QUICK) });
    // OTLP senders, with a daemon, a collector and a bare receiver of its own.
    if (ONLY.has('11')) Object.assign(details, { otlpIngest: await rowOtlpIngest(QUICK) });
    // Last, with no daemon of the benchmark's running: each round's daemon is started by a client.
    if (ONLY.has('4')) Object.assign(details, await rowFirstUse());
    // Rows in table order (1, 1b, 2a…2d, 3, 4, 5, 6, 6b…6d, 7, 7b…7e, 8, 8b…8d, 9, 9b, 10, 10b, 11), whatever order they were measured in.
    rows.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));

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
