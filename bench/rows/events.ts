/**
 * Rows 6–6d of `npm run bench`: session events through the daemon into its log and trace lanes,
 * and what an event costs the host.
 *
 *   6   events/s both lanes accept from 4 client processes, kept within what the lanes hold
 *   6b  per-event cost of `session.event()`, its flush included, vs the in-process SDK emitting
 *       the same log record and span (events-cost.ts)
 *   6c  the same runs: until both lanes have exported every event
 *   6d  the same clients unthrottled, and what the lanes drop
 *   6e  the daemon's CPU per event through both lanes in the runs of 6 (file exporter)
 *   6f  the same runs on a daemon exporting over OTLP/gRPC to a real receiver
 *   6g  the floor under 6e: decoding the same events, making their records, serialising them as
 *       OTLP JSON and writing them, in one process with nothing else (fixtures/event-floor.mjs)
 *   6h  the floor under 6f: the same with OTLP protobuf, serialised and not sent
 *
 * One run of 6, 6c and 6d is in events-run.ts; the doc section in events-doc.ts.
 */
import { join } from 'node:path';

import { DAEMON_NODE_FLAGS } from '../../dist/protocol/index.js';
import { check, log, rows } from '../lib/checks.ts';
import { type BenchEnv, createBenchEnv, FIXTURES, ROOT, type RunningDaemon, startDaemon } from '../lib/daemon.ts';
import { delivered } from '../lib/lanes.ts';
import { type Pinning, pinMeasuredApart } from '../lib/pin.ts';
import { lastJsonLine, runTimed } from '../lib/processes.ts';
import { consumeLogsAndSpans, loadReceiverModule, type OtlpReceiver } from '../lib/receiver.ts';
import { fmt, median } from '../lib/report.ts';
import { type EventCostResult, measureEventCost } from './events-cost.ts';
import { type EventExporter, type EventsResult, measureEvents } from './events-run.ts';

/** Issue 16: the daemon's CPU per session event, both lanes, with either exporter. */
export const EVENT_CPU_TARGET_US = 12;

export function eventsConfig(quick: boolean) {
  return {
    /** Row 6: concurrent event client processes, events each, events per flush, repetitions. */
    eventClients: 4,
    eventCount: quick ? 5000 : 25_000,
    eventChunk: 250,
    eventRepeats: quick ? 1 : 3,
    eventWarmupCount: quick ? 2000 : 10_000,
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
    eventCostEvents: quick ? 5000 : 10_000,
    eventCostRounds: quick ? 3 : 7,
    eventCostWarmup: quick ? 1 : 3,
    /** Rows 6g and 6h, after each timed run of 6e and 6f: events per pass, measured passes, warm-up passes. */
    floorEvents: quick ? 10_000 : 50_000,
    floorPasses: 3,
    floorWarmup: 1,
  };
}

export type EventsConfig = ReturnType<typeof eventsConfig>;

export interface EventsDetails {
  readonly config: EventsConfig;
  readonly events: EventsResult[];
  /** The same windowed runs on a daemon exporting over OTLP/gRPC (row 6f). */
  readonly eventsGrpc: EventsResult[];
  readonly eventFlood: EventsResult;
  readonly eventCost: EventCostResult;
  /** Rows 6g and 6h: the floor measured after each timed run of 6e and of 6f. */
  readonly floors: { readonly json: EventFloor[]; readonly protobuf: EventFloor[] };
  /** Whether the daemons and the floors ran on a processor of their own (lib/pin.ts). */
  readonly pinned: boolean;
}

/** What bench/fixtures/event-floor.mjs printed. */
export interface EventFloor {
  readonly format: 'json' | 'protobuf';
  readonly events: number;
  /** CPU µs per event, each measured pass. */
  readonly usPerEvent: number[];
  /** Bytes serialised per event, both records. */
  readonly bytesPerEvent: number;
}

/**
 * Rows 6g and 6h: the fixture in a process of its own, started with the daemon's Node flags, on
 * the daemon's processor when the daemon is pinned (its warm-up pass covers the moment before);
 * `json` writes into the bench's folder.
 */
async function measureFloor(config: EventsConfig, bench: BenchEnv, format: EventFloor['format'], pinning: Pinning | null): Promise<EventFloor> {
  const args = [...DAEMON_NODE_FLAGS, join(FIXTURES, 'event-floor.mjs'), format, bench.root, String(config.floorEvents), String(config.floorPasses), String(config.floorWarmup)];
  const run = await runTimed(args, { cwd: ROOT }, 300_000, (child) => {
    if (child.pid !== undefined) pinning?.pin(child.pid);
  });
  const result = lastJsonLine<EventFloor>(run.stdout);
  check(
    result.events === config.floorEvents && result.usPerEvent.length === config.floorPasses,
    `rows 6g/6h: the floor fixture (${format}) made the log record and span of all ${config.floorEvents} events in each of its ${config.floorPasses} passes (${result.events} events, ${result.usPerEvent.length} passes)`,
  );
  return result;
}

/** Rows 6–6h on a fresh daemon of run.ts's: a checked warm-up run, the windowed runs (each followed by 6g's floor), the flood, 6b, then 6f's runs on a daemon of their own (each followed by 6h's floor). */
export async function rowEvents(quick: boolean, bench: BenchEnv, daemon: RunningDaemon): Promise<EventsDetails> {
  const config = eventsConfig(quick);
  log('row 6: session events through the daemon into the log and trace lanes');
  // Each timed run is followed by the floor under it (rows 6g, 6h), so that the two meet the machine
  // in the same state: its speed drifts by more than the daemon's overhead over the floor.
  const floors: EventsDetails['floors'] = { json: [], protobuf: [] };
  // The daemon and the floors on a processor of their own, the rest on the others (lib/pin.ts).
  const pinning = pinMeasuredApart();
  if (pinning === null) log('  (not pinned: taskset is missing or the machine has one processor)');
  else pinning.pin(daemon.pid);
  try {
    return await eventRows(config, bench, daemon, floors, pinning);
  } finally {
    pinning?.release([daemon.pid]);
  }
}

/** Rows 6–6h, with the daemons and the floors pinned as `pinning` says. */
async function eventRows(config: EventsConfig, bench: BenchEnv, daemon: RunningDaemon, floors: EventsDetails['floors'], pinning: Pinning | null): Promise<EventsDetails> {
  const n = config.eventClients;
  const events = await windowedRuns(config, bench, daemon, 'row 6', 'file', async (timed) => {
    if (timed) floors.json.push(await measureFloor(config, bench, 'json', pinning));
  });
  // The same load with every chunk handed out at once: what the lanes do when clients outrun them.
  const eventFlood = await measureEvents(config, bench, daemon, 'row 6d (flood)', (config.eventRepeats + 1) * n, config.eventCount, 'flood');
  log(
    `  flood: received ${fmt.eventRate(eventFlood.receivedRate)}; each lane accepted ${eventFlood.accepted}, dropped queue_full ${eventFlood.queueFull.logs}/${eventFlood.queueFull.traces}; ` +
      `${eventFlood.exportedOnArrival} log records exported when the last event arrived, all but the last batch ${(eventFlood.drainedMs - eventFlood.acceptedMs).toFixed(0)} ms later`,
  );
  log('row 6b: per-event cost, thin client vs in-process SDK (log record + span)');
  const eventCost = await measureEventCost(config, bench, daemon);
  log('row 6f: the same windowed runs, the daemon exporting over OTLP/gRPC');
  const eventsGrpc = await grpcRuns(config, pinning, async () => {
    floors.protobuf.push(await measureFloor(config, bench, 'protobuf', pinning));
  });
  const rate = median(events.map((run) => run.rate));
  const exportedMs = median(events.map((run) => run.exportedMs));
  const acceptedMs = median(events.map((run) => run.acceptedMs));
  const drainedMs = median(events.map((run) => run.drainedMs));
  const clientNs = median(eventCost.clientNs);
  const sdkNs = median(eventCost.sdkNs);
  const total = config.eventClients * config.eventCount;
  rows.push({
    id: '6',
    what: `session events, ${n} procs × ${config.eventCount.toLocaleString('en-US')}, accepted (windowed)`,
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
  rows.push(cpuRow('6e', 'file exporter', events, total), cpuRow('6f', 'OTLP/gRPC exporter', eventsGrpc, total));
  rows.push(
    floorRow('6g', 'floor under 6e: decode, make both records, OTLP JSON, write (one process)', floors.json, '6e', events),
    floorRow('6h', 'floor under 6f: decode, make both records, OTLP protobuf, not sent', floors.protobuf, '6f', eventsGrpc),
  );
  return { config, events, eventsGrpc, eventFlood, eventCost, floors, pinned: pinning !== null };
}

/** The daemon's CPU per event (µs) over windowed runs, median; null without /proc. */
export function cpuPerEventUs(runs: readonly EventsResult[]): number | null {
  const cpus = runs.map((run) => (run.daemonCpuMs === null ? null : (run.daemonCpuMs * 1000) / run.total)).filter((us): us is number => us !== null);
  return cpus.length === 0 ? null : median(cpus);
}

function cpuRow(id: string, exporter: string, runs: readonly EventsResult[], total: number) {
  const us = cpuPerEventUs(runs);
  return {
    id,
    what: `same ${total.toLocaleString('en-US')} events, ${exporter}: daemon CPU per event, both lanes`,
    measured: us === null ? 'unknown (no /proc)' : `${us.toFixed(1)} µs/event`,
    baseline: `accepted: ${fmt.eventRate(median(runs.map((run) => run.rate)))}`,
    comparison: '—',
    target: `≤ ${EVENT_CPU_TARGET_US} µs`,
    met: us === null ? false : us <= EVENT_CPU_TARGET_US,
  };
}

/** The floor one run of the fixture measured: the median of its passes. */
export const floorUs = (floor: EventFloor): number => median(floor.usPerEvent);

/**
 * A floor row: the median of the floors measured after the runs, against the daemon's figure it
 * is the floor of, as the median of each run's ratio to the floor measured after it.
 */
function floorRow(id: string, what: string, floors: readonly EventFloor[], over: string, runs: readonly EventsResult[]) {
  const us = median(floors.map(floorUs));
  const daemonUs = cpuPerEventUs(runs);
  const ratios = runs.flatMap((run, index) => (run.daemonCpuMs === null || floors[index] === undefined ? [] : [(run.daemonCpuMs * 1000) / run.total / floorUs(floors[index] as EventFloor)]));
  return {
    id,
    what,
    measured: `${us.toFixed(1)} µs/event`,
    baseline: daemonUs === null ? `${over}: unknown` : `${over}: ${daemonUs.toFixed(1)} µs/event`,
    comparison: ratios.length === 0 ? '—' : `${over} is ${fmt.ratio(median(ratios))} (run by run)`,
    target: '—',
    met: null,
  };
}

/** A checked warm-up run, then the timed windowed runs, on `daemon`. */
async function windowedRuns(
  config: EventsConfig,
  bench: BenchEnv,
  daemon: RunningDaemon,
  label: string,
  exporter: EventExporter,
  afterRun: (timed: boolean) => void | Promise<void> = () => undefined,
): Promise<EventsResult[]> {
  const n = config.eventClients;
  // As in row 3: one short untimed (but checked) run first, so the daemon's steady state is measured.
  await measureEvents(config, bench, daemon, `${label} warm-up`, 0, config.eventWarmupCount, 'window', exporter);
  await afterRun(false);
  const events: EventsResult[] = [];
  for (let repeat = 0; repeat < config.eventRepeats; repeat++) {
    const result = await measureEvents(config, bench, daemon, `${label} run ${repeat + 1}`, (repeat + 1) * n, config.eventCount, 'window', exporter);
    await afterRun(true);
    const cpu = result.daemonCpuMs === null ? '' : `; daemon CPU ${((result.daemonCpuMs * 1000) / result.total).toFixed(1)} µs/event`;
    log(
      `  run ${repeat + 1}: ${fmt.eventRate(result.rate)} (${result.accepted} events in ${result.acceptedMs.toFixed(0)} ms; both lanes exported after ${result.exportedMs.toFixed(0)} ms${cpu}; ` +
        `held at most ${(result.peakHeldBytes / 2 ** 20).toFixed(0)} MiB, over the soft limit ${result.softEntered}×, spooled ${result.spooled}; ` +
        `export queues at most ${result.peakQueuedBatches} batches; journal ${result.journalBytesPerEvent.toFixed(0)} B/event)`,
    );
    events.push(result);
  }
  return events;
}

/**
 * Row 6f: the windowed runs of row 6 on a daemon of its own exporting both lanes (and metrics)
 * over OTLP/gRPC to the project's real receiver, which must get every record exactly once; it
 * counts what came after each run, one request at a time, and keeps none of it, so its heap does
 * not grow with the runs. `afterTimedRun` follows each timed run (row 6h's floor).
 */
async function grpcRuns(config: EventsConfig, pinning: Pinning | null, afterTimedRun: () => Promise<void>): Promise<EventsResult[]> {
  const receiver: OtlpReceiver = await (await loadReceiverModule()).module.startOtlpReceiver();
  const bench = createBenchEnv({ otlpEndpoint: receiver.endpoint });
  const daemon = await startDaemon(bench, (process.env.BENCH_DAEMON_ARGS ?? '').split(' ').filter((arg) => arg !== ''));
  pinning?.pin(daemon.pid);
  let logs = 0;
  let spans = 0;
  const drain = async (): Promise<void> => {
    const taken = await consumeLogsAndSpans(receiver);
    logs += taken.logs;
    spans += taken.spans;
    receiver.metricsRequests.length = 0;
  };
  try {
    const runs = await windowedRuns(config, bench, daemon, 'row 6f', 'otlp-grpc', async (timed) => {
      await drain();
      if (timed) await afterTimedRun();
    });
    const status = await daemon.status();
    const exported = { logs: delivered(status, 'logs').exported, traces: delivered(status, 'traces').exported };
    check(
      logs === exported.logs && spans === exported.traces && logs === status.signals.logs.accepted && spans === status.signals.traces.accepted,
      `row 6f: the receiver decoded ${logs} log records and ${spans} spans, exactly what the daemon accepted (${status.signals.logs.accepted}/${status.signals.traces.accepted}) and exported (${exported.logs}/${exported.traces}, from memory or its spool)`,
    );
    return runs;
  } finally {
    await daemon.stop().catch(() => undefined);
    await receiver.close();
  }
}
