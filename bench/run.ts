/**
 * `npm run bench`: measures the thin client, short CLIs and the daemon against the in-process
 * OpenTelemetry SDK, prints one table and rewrites docs/benchmarks.md from that same run. Each row
 * group is a module of bench/rows/ holding its measuring code, its checks and its doc section;
 * this file runs them in order, gives them the daemons they share, and writes the page
 * (bench/lib/doc.ts).
 *
 *   1. per-call cost of a counter increment (thin client incl. its flush vs SDK counter.add)
 *      (rows/client-cost.ts)
 *   2. wall time of a short CLI recording 1,000 metrics (thin client vs `node -e 0` and vs the SDK
 *      exporting over OTLP/gRPC to a local receiver; 2d: the floor of any socket client)
 *      (rows/cli.ts, with row 5)
 *   3. daemon ingest throughput from 8 concurrent client processes (rows/ingest.ts)
 *   4. the same short CLI on first use: no daemon running, the client auto-spawns one and hands
 *      its records over as a file (vs the same CLI with the daemon up) (rows/first-use.ts)
 *   5. the fixed cost of connecting: a CLI recording one counter (vs `node -e 0`) (rows/cli.ts)
 *   6. session events through the daemon into the log and trace lanes from 4 concurrent client
 *      processes, kept within what the lanes hold (6: accepted, 6c: exported by both lanes; 6d:
 *      the same clients unthrottled, and what the lanes drop); 6b: per-event cost of
 *      `session.event()` incl. its flush vs the in-process SDK emitting the same log record and span;
 *      6e, 6f: the daemon's CPU per event with the file exporter and over OTLP/gRPC; 6g, 6h: the
 *      floor under them, making and serialising the same records in one process (rows/events.ts)
 *   7. a one-hour outage at accelerated rate: a daemon exporting over OTLP/gRPC while its receiver
 *      answers UNAVAILABLE, 4 client processes recording 1,000,000 histogram records (and session
 *      events); what arrived, exactly, vs an in-process SDK through the same outage; its memory and
 *      disk against the configured bounds (7b, 7c; baseline: the same hour with the receiver up),
 *      its drain once the receiver is back (7d); 7e: the same outage with a spool too small for it
 *      (rows/outage.ts)
 *   8. spans a host makes itself (rows/spans.ts): per-span cost incl. the client's flush vs an SDK
 *      span (8); spans/s into the daemon's trace lane from 4 client processes, every span
 *      accounted for (8b); the whole process of one exec-sized session vs the SDK over OTLP/gRPC (8c);
 *      the span of row 8 vs the SDK's floor, an SDK that never serialises its spans (8d)
 *   9. the daemon's memory with its defaults (rows/memory.ts): peak RSS while 8 hosts flood it
 *      for 30 s with the collector up (9) and hanging (9b), RSS over time, every count delivered
 *  10. the real Codex CLI (rows/codex.ts): codex exec's wall time exporting traces, logs and
 *      metrics through codexd vs straight to a local collector vs telemetry off; and with the
 *      collector hanging (10b); through codexd over OTLP/HTTP instead of gRPC (10c)
 *  11. OTLP/gRPC ingest (rows/otlp-ingest.ts): spans and metric points per second from 4
 *      senders at once, codexd vs a bare OTLP/gRPC receiver, every one exported
 *  12. the daemon at rest (rows/idle.ts): wake-ups per second, CPU and resident set over a
 *      minute with its defaults and no client, beside an idle node
 *  13. disk on a healthy day (rows/disk.ts): bytes the daemon writes per record and per event at
 *      a typical Codex session rate and a heavier one, against the data's own size
 *
 * Every child runs on this process's Node (the pinned one under `npm run bench`). Every child
 * process, every daemon a client auto-spawned and every temp folder is removed at the end, also
 * on failure or Ctrl-C.
 *
 *   node bench/run.ts [--quick] [--only=1,2,3,4,5,6,7,8,9,10,11,12,13]
 *
 * --quick: small counts; --only: some rows. Either prints only and leaves docs/benchmarks.md
 * alone. BENCH_DAEMON_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" passes Node options to the
 * daemons (for profiling; the figures are then not comparable).
 */
import { existsSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { checks, log, problems, rows } from './lib/checks.ts';
import { type BenchEnv, createBenchEnv, DAEMON_CLI, removeBenchEnvs, ROOT, type RunningDaemon, startDaemon } from './lib/daemon.ts';
import { renderDoc } from './lib/doc.ts';
import { machine } from './lib/machine.ts';
import { killAllChildren } from './lib/processes.ts';
import { textTable } from './lib/report.ts';
import { killSpawnedDaemonsSync } from './lib/spawned.ts';
import { type CliDetails, cliDoc, oneCounterDoc, rowCli } from './rows/cli.ts';
import { type ClientCostDetails, clientCostDoc, rowClientCost } from './rows/client-cost.ts';
import { type CodexDetails, codexDoc, rowCodex } from './rows/codex.ts';
import { type DiskDetails, diskDoc, rowDisk } from './rows/disk.ts';
import { type EventsDetails, rowEvents } from './rows/events.ts';
import { eventsDoc } from './rows/events-doc.ts';
import { type FirstUseDetails, firstUseDoc, rowFirstUse } from './rows/first-use.ts';
import { type IdleDetails, idleDoc, rowIdle } from './rows/idle.ts';
import { type IngestDetails, ingestDoc, rowIngest } from './rows/ingest.ts';
import { type MemoryDetails, memoryDoc, rowMemory } from './rows/memory.ts';
import { type OtlpIngestDetails, otlpIngestDoc, rowOtlpIngest } from './rows/otlp-ingest.ts';
import { type OutageDetails, rowOutage } from './rows/outage.ts';
import { outageDoc } from './rows/outage-doc.ts';
import { rowSpans, type SpanDetails, spansDoc } from './rows/spans.ts';

const QUICK = process.argv.includes('--quick');
const ALL_ROWS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13'];
const ONLY = new Set((process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length) ?? ALL_ROWS.join(',')).split(','));
const PARTIAL = QUICK || !ALL_ROWS.every((row) => ONLY.has(row)) || process.env.BENCH_DAEMON_ARGS !== undefined;
const DAEMON_ARGS = (process.env.BENCH_DAEMON_ARGS ?? '').split(' ').filter((arg) => arg !== '');
const LOAD_AT_START = os.loadavg()[0] ?? 0;

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

// ---------------------------------------------------------------- the rows, in order

/** What every row group measured: the figures its doc section is written from. */
interface Details {
  clientCost: ClientCostDetails;
  cli: CliDetails;
  ingest: IngestDetails;
  firstUse: FirstUseDetails;
  events: EventsDetails;
  outage: OutageDetails;
  spans: SpanDetails;
  memory: MemoryDetails;
  codex: CodexDetails;
  otlpIngest: OtlpIngestDetails;
  idle: IdleDetails;
  disk: DiskDetails;
}

/** The doc's "How measured" sections, in page order (1 to 13); rows 2 and 5 share a module but not a section. */
function docSections(details: Details): string[][] {
  return [
    clientCostDoc(details.clientCost),
    cliDoc(details.cli),
    ingestDoc(details.ingest),
    firstUseDoc(details.firstUse),
    oneCounterDoc(details.cli),
    eventsDoc(details.events),
    outageDoc(details.outage),
    spansDoc(details.spans),
    memoryDoc(details.memory),
    codexDoc(details.codex),
    otlpIngestDoc(details.otlpIngest),
    idleDoc(details.idle),
    diskDoc(details.disk),
  ];
}

/** Runs `measure` on a fresh daemon of the benchmark's and stops that daemon after, also on failure. */
async function withDaemon<T>(bench: BenchEnv, measure: (daemon: RunningDaemon) => Promise<T>): Promise<T> {
  const daemon = await startDaemon(bench, DAEMON_ARGS);
  let result: T;
  try {
    result = await measure(daemon);
  } catch (error) {
    await daemon.stop().catch(() => undefined);
    throw error;
  }
  await daemon.stop();
  return result;
}

/** The rows --only names, in the order they are measured (not the table's: row 4 goes last). */
async function measureRows(bench: BenchEnv): Promise<Partial<Details>> {
  const details: Partial<Details> = {};
  if (ONLY.has('1') || ONLY.has('2') || ONLY.has('5')) {
    await withDaemon(bench, async (daemon) => {
      if (ONLY.has('1')) details.clientCost = await rowClientCost(QUICK, bench);
      if (ONLY.has('2') || ONLY.has('5')) details.cli = await rowCli(QUICK, { shortCli: ONLY.has('2'), oneCounter: ONLY.has('5') }, bench, daemon);
    });
  }
  // A fresh daemon: nothing from rows 1 and 2 in its instruments or its heap.
  if (ONLY.has('3')) details.ingest = await withDaemon(bench, (daemon) => rowIngest(QUICK, bench, daemon));
  // A fresh daemon again: its lanes start empty, and nothing of row 3 is in its heap.
  if (ONLY.has('6')) details.events = await withDaemon(bench, (daemon) => rowEvents(QUICK, bench, daemon));
  // A fresh daemon again: its trace lane starts empty, and nothing of row 6 is in its heap.
  if (ONLY.has('8')) details.spans = await withDaemon(bench, (daemon) => rowSpans(QUICK, bench, daemon));
  // Its own daemon, folder and receivers (OTLP/gRPC instead of files).
  if (ONLY.has('7')) details.outage = await rowOutage(QUICK, DAEMON_ARGS);
  // Fresh daemons of its own, with their defaults, exporting to receivers of its own.
  if (ONLY.has('9')) details.memory = await rowMemory(QUICK);
  // The real Codex CLI, with a daemon, a collector and a mock model of its own.
  if (ONLY.has('10')) details.codex = await rowCodex(QUICK);
  // OTLP senders, with a daemon, a collector and a bare receiver of its own.
  if (ONLY.has('11')) details.otlpIngest = await rowOtlpIngest(QUICK);
  // A daemon of its own with its defaults, nothing else of the benchmark's running.
  if (ONLY.has('12')) details.idle = await rowIdle(QUICK);
  // Daemons and receivers of its own, exporting over OTLP/gRPC.
  if (ONLY.has('13')) details.disk = await rowDisk(QUICK);
  // Last, with no daemon of the benchmark's running: each round's daemon is started by a client.
  if (ONLY.has('4')) details.firstUse = await rowFirstUse(QUICK);
  return details;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (!existsSync(DAEMON_CLI)) throw new Error(`${DAEMON_CLI} is missing: run \`npm run build\` first (npm run bench does)`);
  const started = performance.now();
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const bench = createBenchEnv();
  try {
    log(`temp folder ${bench.root}; starting codexd`);
    const details = await measureRows(bench);
    // Rows in table order (1, 1b, 2a…2d, 3, 4, 5, 6, 6b…6d, 7, 7b…7e, 8, 8b…8d, 9, 9b, 10, 10b, 11), whatever order they were measured in.
    rows.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));

    process.stdout.write(`\n${textTable(rows)}\n\n`);
    for (const line of checks) process.stdout.write(`  ${line}\n`);
    const m = machine();
    process.stdout.write(`\n  ${m.cpu}, ${m.memory}, ${m.os}, Node ${process.version}; ${date}; took ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    if (PARTIAL) {
      process.stdout.write('  (--quick, --only or BENCH_DAEMON_ARGS: docs/benchmarks.md left as it was)\n');
    } else {
      const page = renderDoc({ date, machine: m, loadAtStart: LOAD_AT_START, rows, sections: docSections(details as Details), checks });
      writeFileSync(join(ROOT, 'docs/benchmarks.md'), page);
      process.stdout.write('  wrote docs/benchmarks.md\n');
    }
    if (problems.length > 0) {
      process.stdout.write(`\n  ${problems.length} check(s) failed; the figures above may not mean what they say.\n`);
      process.exitCode = 1;
    }
  } finally {
    cleanupSync();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
