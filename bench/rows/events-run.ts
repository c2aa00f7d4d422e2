/**
 * One run of rows 6, 6c and 6d: session events from client processes through the daemon into its
 * log and trace lanes, handed out as the lanes make room (`window`) or all at once (`flood`);
 * checks that every event is accounted for and what the daemon did to them on the way.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ClientStats } from '../../dist/client/index.js';
import type { DaemonStatus } from '../../dist/protocol/index.js';
import { check } from '../lib/checks.ts';
import { addCounts, type ChunkFeeder, type ClientGroup, type ClientReport, createChunkFeeder, startClientGroup, sumReports } from '../lib/client-group.ts';
import { type BenchEnv, FIXTURES, type RunningDaemon } from '../lib/daemon.ts';
import { delivered, type LaneDelta, laneDelta } from '../lib/lanes.ts';
import { processCpuMs } from '../lib/processes.ts';
import type { EventsConfig } from './events.ts';

/** Records per export of the daemon's event lanes (MAX_EXPORT_BATCH in daemon/event-lanes.ts). */
const LANE_EXPORT_BATCH = 512;

/** How one row 6 run hands out chunks: as the lanes make room, or all at once. */
export type EventLoad = 'window' | 'flood';

/** Where the daemon's lanes export: the file exporter (logs.jsonl, traces.jsonl) or OTLP/gRPC to a receiver. */
export type EventExporter = 'file' | 'otlp-grpc';

export interface EventsResult {
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
  /** The most the daemon held (V8 heap in use plus Buffers, `daemon/status` `memory`) at a poll, and how often it went over its soft limit. */
  readonly peakHeldBytes: number;
  readonly softEntered: number;
  /** Log records and spans the export queues moved to their disk spool (they fell behind, or memory was short). */
  readonly spooled: number;
  /** The most batches either lane's export queue held in memory at a poll, waiting to be sent. */
  readonly peakQueuedBatches: number;
  /** Bytes the journal wrote over the run (`daemon/status` `journal.writtenBytes`), per event: what it had to write because records had not settled. */
  readonly journalBytesPerEvent: number;
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
export async function measureEvents(config: EventsConfig, bench: BenchEnv, daemon: RunningDaemon, label: string, seedBase: number, perClient: number, load: EventLoad, exporter: EventExporter = 'file'): Promise<EventsResult> {
  const n = config.eventClients;
  const chunk = config.eventChunk;
  const total = n * perClient;
  const before = await daemon.status();
  const group = await startClientGroup(bench, {
    count: n,
    args: (index) => [join(FIXTURES, 'event-client.mjs'), String(perClient), String(chunk), String(seedBase + index)],
    ignoreStdinErrors: true,
  });
  // Each client sent one readiness event; wait until the daemon has counted and exported them
  // (the lanes' scheduled delay, up to a second), so every count below starts from settled figures.
  let base = before;
  for (let attempt = 0; ; attempt++) {
    base = await daemon.status();
    if (base.signals.logs.received >= before.signals.logs.received + n && base.signals.logs.buffered === 0 && base.signals.traces.buffered === 0) break;
    if (attempt > 1000) throw new Error(`${label}: the daemon did not count and export the event clients' readiness events`);
    await sleep(5);
  }
  const feeder = createChunkFeeder(group.clients, { unitsEach: perClient, chunkUnits: chunk, itemsPerUnit: 1, window: load === 'flood' ? Number.POSITIVE_INFINITY : config.eventWindow });
  const daemonCpuBefore = processCpuMs(daemon.pid);
  const polled = await pollEvents(config, daemon, group, feeder, base, total);
  const daemonCpuAfter = polled.daemonCpuDrained ?? processCpuMs(daemon.pid);
  feeder.handOutRest();
  const sums = sumReports<ClientStats['events'] & ClientReport & { byName: Record<string, number> }>(await group.exits, `${label}: an event client`);
  const byName: Record<string, number> = {};
  for (const report of sums.reports) addCounts(byName, report.byName);
  const { received, accepted, acceptedMs, complete, exported, last } = polled;
  const logs = laneDelta(delivered(base, 'logs'), delivered(last, 'logs'));
  const traces = laneDelta(delivered(base, 'traces'), delivered(last, 'traces'));
  const queueFull = { logs: logs.dropped.queue_full ?? 0, traces: traces.dropped.queue_full ?? 0 };
  check(
    complete && sums.sent === total + n && Object.keys(sums.dropped).length === 0,
    `${label}: ${n} clients sent ${sums.sent - n} of ${total} events, dropped ${JSON.stringify(sums.dropped)}; the daemon received ${received} within ${(acceptedMs / 1000).toFixed(2)} s` +
      (complete ? '' : ` (${total - received} never counted${group.running() === 0 ? ' although every client had written them and exited' : ''})`),
  );
  checkLanes(label, load, exporter, { received, total, logs, traces, queueFull, peakBuffered: polled.peakBuffered, exported, exportedMs: polled.exportedMs, last });
  // An event either lane refused derives nothing; the lanes may refuse different events.
  checkOnTheWay(label, eventCountsDelta(base, last), byName, queueFull.logs + queueFull.traces);
  return {
    load,
    total,
    rate: accepted / (acceptedMs / 1000),
    receivedRate: received / (acceptedMs / 1000),
    acceptedMs,
    accepted,
    queueFull,
    exportedOnArrival: polled.exportedOnArrival,
    drainedMs: polled.drainedMs,
    exportedMs: polled.exportedMs,
    peakBuffered: polled.peakBuffered,
    complete,
    exported,
    daemonCpuMs: daemonCpuBefore === null || daemonCpuAfter === null ? null : daemonCpuAfter - daemonCpuBefore,
    clientsCpuMs: sums.cpuMs,
    clientDropped: Object.values(sums.dropped).reduce((sum, count) => sum + count, 0),
    peakHeldBytes: polled.peakHeldBytes,
    softEntered: last.memory.softEntered - base.memory.softEntered,
    spooled: spooledEvents(last) - spooledEvents(base),
    peakQueuedBatches: polled.peakQueuedBatches,
    journalBytesPerEvent: (last.journal.writtenBytes - base.journal.writtenBytes) / total,
  };
}

/** Batches the larger of the two lanes' export queues holds in memory. */
function queuedBatches(status: DaemonStatus.Result): number {
  return Math.max(0, ...status.exporters.filter((exporter) => exporter.signal !== 'metrics').map((exporter) => exporter.queue?.memoryBatches ?? 0));
}

/** Records of both lanes their export queues have moved to disk so far. */
function spooledEvents(status: DaemonStatus.Result): number {
  return status.exporters.filter((exporter) => exporter.signal !== 'metrics').reduce((sum, exporter) => sum + (exporter.queue?.spooled ?? 0), 0);
}

interface EventsPolled {
  readonly received: number;
  readonly accepted: number;
  readonly acceptedMs: number;
  readonly exportedOnArrival: number;
  readonly drainedMs: number;
  readonly daemonCpuDrained: number | null;
  readonly exportedMs: number;
  readonly peakBuffered: number;
  readonly peakHeldBytes: number;
  readonly peakQueuedBatches: number;
  readonly complete: boolean;
  readonly exported: boolean;
  /** The last `daemon/status` answer polled. */
  readonly last: DaemonStatus.Result;
}

/**
 * How long to wait before the next `daemon/status` poll: 5 ms while the run nears its end (the
 * log lane has received 90% of its events, and not all but the last batch are exported yet), so
 * that the rate and the daemon's CPU are read close to when it got there; 25 ms before and after.
 * Each answer costs the daemon 0.2-0.4 ms of CPU on this kind of machine, which the run would
 * otherwise count as its cost per event (at 5 ms throughout, about 2 us of it).
 */
function pollInterval(received: number, total: number, drainedMs: number): number {
  return received >= 0.9 * total && Number.isNaN(drainedMs) ? 5 : 25;
}

/**
 * Hands out the first chunks, then polls `daemon/status` (every 5 to 25 ms, see {@link pollInterval}), handing out more as the
 * lanes make room, until both lanes have exported every event, the run times out, or it stalls.
 */
async function pollEvents(config: EventsConfig, daemon: RunningDaemon, group: ClientGroup, feeder: ChunkFeeder, base: DaemonStatus.Result, total: number): Promise<EventsPolled> {
  const started = performance.now();
  feeder.handOut(0, 0);
  let received = 0;
  let accepted = 0;
  let acceptedMs = 0;
  let exportedOnArrival = 0;
  let drainedMs = Number.NaN;
  let daemonCpuDrained: number | null = null;
  let exportedMs = Number.NaN;
  let peakBuffered = 0;
  let peakHeldBytes = 0;
  let peakQueuedBatches = 0;
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
    peakHeldBytes = Math.max(peakHeldBytes, status.memory.heldBytes);
    peakQueuedBatches = Math.max(peakQueuedBatches, queuedBatches(status));
    if (!complete && logs.received > received) {
      received = logs.received;
      accepted = logs.accepted;
      // Taken at the poll that saw the latest events, so a stall is not counted.
      acceptedMs = now - started;
      lastProgressAt = now;
      exportedOnArrival = logs.exported;
      complete = received >= total;
    }
    feeder.handOut(logs.received, buffered);
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
    if (now - started > config.eventTimeoutMs) break;
    // Every client has written everything and exited, yet nothing moves: events were lost or stuck.
    if (group.running() === 0 && now - lastProgressAt > config.eventStallMs) break;
    await sleep(pollInterval(received, total, drainedMs));
  }
  return { received, accepted, acceptedMs, exportedOnArrival, drainedMs, daemonCpuDrained, exportedMs, peakBuffered, peakHeldBytes, peakQueuedBatches, complete, exported, last };
}

/** One run's lane books: what both lanes accepted, dropped and exported. */
interface LaneBooks {
  readonly received: number;
  readonly total: number;
  readonly logs: LaneDelta;
  readonly traces: LaneDelta;
  readonly queueFull: { readonly logs: number; readonly traces: number };
  readonly peakBuffered: number;
  readonly exported: boolean;
  readonly exportedMs: number;
  readonly last: DaemonStatus.Result;
}

/** Windowed: both lanes accepted every event; flooded: every event is accounted for. Either way both lanes exported all they accepted. */
function checkLanes(label: string, load: EventLoad, exporter: EventExporter, books: LaneBooks): void {
  const { received, total, logs, traces, queueFull, peakBuffered, exported, exportedMs, last } = books;
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
    `${label}: both lanes exported every accepted event ${exporter === 'file' ? 'to logs.jsonl / traces.jsonl' : 'over OTLP/gRPC'} within ${(exportedMs / 1000).toFixed(2)} s (buffered at the end: ${last.signals.logs.buffered}/${last.signals.traces.buffered}, failed ${logs.failed}/${traces.failed})`,
  );
}

/** What the daemon did to the events on the way, against what the fixture sends (session-events.mjs). */
function checkOnTheWay(label: string, events: ReturnType<typeof eventCountsDelta>, byName: Readonly<Record<string, number>>, refused: number): void {
  const toolResults = byName['codex.tool_result'] ?? 0;
  const apiRequests = byName['codex.api_request'] ?? 0;
  // Every SSE event the fixture sends has a duration, so each derives Codex's count and timing.
  const sseEvents = byName['codex.sse_event'] ?? 0;
  // The daemon does all this before a lane admits the event, so it holds in the flood run too;
  // but an event a full lane refused derives no metrics (a request's client sends it again), so
  // with at most `refused` such events (the refusals of both lanes) up to 2 measurements each are missing.
  const derivable = 2 * (toolResults + apiRequests + sseEvents);
  check(
    events.redacted.arguments === toolResults &&
      events.redacted.output === toolResults &&
      Object.keys(events.redacted).length === 2 &&
      events.laneOverrides === 0 &&
      events.invalidTraceContext === 0 &&
      events.derived <= derivable &&
      events.derived >= derivable - 2 * refused,
    `${label}: the daemon redacted \`arguments\` and \`output\` of every tool result on the log lane (log_tool_content off, the default: ${JSON.stringify(events.redacted)} for ${toolResults} tool results), ` +
      `overrode no lane (${events.laneOverrides}), found no malformed trace context (${events.invalidTraceContext}) and derived ${events.derived} metric measurements (2 per tool result, API request and SSE event: ${derivable}${refused === 0 ? '' : `, less 2 per event a full lane refused, of at most ${refused}`})`,
  );
}
