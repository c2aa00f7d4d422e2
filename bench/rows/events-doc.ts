/** Section 6 of docs/benchmarks.md: how rows 6–6h were measured, with every run's figures. */
import * as os from 'node:os';

import { EVENTS_PER_FRAME } from '../../dist/client/batch-framer.js';
import { fmt, median, spread } from '../lib/report.ts';
import { EVENT_CPU_TARGET_US, type EventFloor, type EventsDetails, floorUs } from './events.ts';
import type { EventsResult } from './events-run.ts';

/** Each run's daemon CPU per event. */
function runCpus(runs: readonly EventsResult[]): string {
  return runs.map((run) => (run.daemonCpuMs === null ? 'unknown' : `${((run.daemonCpuMs * 1000) / run.total).toFixed(1)} µs`)).join(', ');
}

/** The journal's bytes per event, the median over the runs. */
const journalBytes = (runs: readonly EventsResult[]): string => median(runs.map((run) => run.journalBytesPerEvent)).toFixed(0);
/** The most batches an export queue held at a poll, the median over the runs. */
const queuedBatches = (runs: readonly EventsResult[]): string => median(runs.map((run) => run.peakQueuedBatches)).toFixed(0);

/** The floors measured after the runs, each the median of its passes. */
function floorList(floors: readonly EventFloor[]): string {
  return floors.map((floor) => `${floorUs(floor).toFixed(1)} µs`).join(', ');
}

/** Bytes serialised per event, both records (the same in every pass). */
function bytesPerEvent(floors: readonly EventFloor[]): string {
  return floors[0] === undefined ? 'unknown' : floors[0].bytesPerEvent.toFixed(0);
}

/** Each run's peak held memory, soft-limit entries and records spooled. */
function spills(runs: readonly EventsResult[]): string {
  return runs.map((run) => `${(run.peakHeldBytes / 2 ** 20).toFixed(0)} MiB, ${run.softEntered}×, ${run.spooled.toLocaleString('en-US')} spooled`).join('; ');
}

export function eventsDoc(details: EventsDetails): string[] {
  const { config, events, eventsGrpc, eventFlood, eventCost, floors, pinned } = details;
  const eventTotal = config.eventClients * config.eventCount;
  const eventDaemonCpus = events.map((run) => run.daemonCpuMs).filter((ms): ms is number => ms !== null);
  const eventDaemonCpu =
    eventDaemonCpus.length === 0
      ? 'an unknown amount of CPU (no /proc)'
      : `${median(eventDaemonCpus).toFixed(0)} ms of CPU (${((median(eventDaemonCpus) * 1000) / eventTotal).toFixed(1)} µs per event)`;
  const floodDropped = Math.max(eventFlood.queueFull.logs, eventFlood.queueFull.traces);
  return [
    '### 6. Session events: through the daemon into the log and trace lanes (6, 6c, 6d), the daemon\'s CPU per event with either exporter (6e, 6f) and the floor under it (6g, 6h), and their cost to the host (6b)',
    '',
    'A fresh daemon, set up as in row 3 (the file exporter for every signal; `export_interval_ms = 1000`, which is also the scheduled delay of both lanes\' batchers). ' +
      'Each event the daemon accepts becomes one log record (written to logs.jsonl) and one span (written to traces.jsonl), held as plain records by each lane\'s batcher (daemon/lane-batcher.ts) and ' +
      'exported in batches of up to 512 as OTLP JSON lines; a lane refuses records (`queue_full`) while it holds 20,000 unexported ones (or 32 Mi characters of their attributes, which these events never reach). ' +
      'The events (bench/fixtures/session-events.mjs) are what Codex sends while streaming a turn: every client\'s session starts with Codex\'s session context ' +
      '(`conversation.id`, `model`, `slug`, `auth_mode`, `originator`, `session_source`, `terminal.type`, `app.version`, and the log-only `user.account_id` and `user.email`), ' +
      'and its events repeat a turn of 16 under one `traceparent`: one `codex.api_request` (trace-safe `attempt`, `duration_ms`, `http.response.status_code`), eight `codex.sse_event` ' +
      '(`event.kind`, `duration_ms`; the last with token counts) and seven `codex.tool_result` (trace-safe `tool_name`, `call_id`, `success`, `duration_ms`; log-only `arguments`, ' +
      'a 107-character JSON command line, and `output`, 185 to 190 characters), each with `durationMs`. On the way the daemon redacts `arguments` and `output` on the log lane ' +
      '(`log_tool_content` is off by default) and derives two metric measurements from each tool result, API request and SSE event (checked against `daemon/status` `events` for every run, see Checks).',
    '',
    `Row 6: after one untimed (but checked) warm-up run (${config.eventClients} × ${config.eventWarmupCount.toLocaleString('en-US')} events), ${events.length} runs in which ` +
      `${config.eventClients} client processes (bench/fixtures/event-client.mjs) connect, start a session and send one readiness event; once the daemon has counted and exported those, ` +
      `each sends ${config.eventCount.toLocaleString('en-US')} events in chunks of ${config.eventChunk}, each chunk followed by \`await client.flush()\` (the client writes a chunk as \`session/event\` frames of at most ${EVENTS_PER_FRAME} events). ` +
      'A client sends a chunk only when the benchmark hands it one (a "+" on its stdin): chunks go to the clients in turn as long as the events handed out but not yet received by the daemon, ' +
      `plus the larger of the two lanes' unexported records, stay within ${config.eventWindow.toLocaleString('en-US')}, half of what a lane holds. ` +
      'That window is the benchmark\'s own: nothing tells a client that the lanes are full (`session/event` is a notification, and `flush()` resolves once the socket has taken the bytes, ' +
      'which the daemon reads as fast as they come), so clients that send as fast as they can outrun the lanes (row 6d); the windowed figure is the rate the daemon sustains into both lanes without dropping. ' +
      'Events/s = log records accepted (`signals.logs.accepted` from `daemon/status`, polled over one control connection every 25 ms, every 5 ms once 90% of the events have arrived) / time from handing out the first chunk to the poll that saw the last event arrive; ' +
      `median of ${events.length} runs (${events.map((run) => fmt.eventRate(run.rate)).join(', ')}). The lanes held at most ${Math.max(...events.map((run) => run.peakBuffered)).toLocaleString('en-US')} unexported records at a poll. ` +
      `CPU, medians over the runs: the daemon used ${eventDaemonCpu} from the first chunk until both lanes had exported all but their last batch (its answers to the polls included), ` +
      `the ${config.eventClients} clients together ${median(events.map((run) => run.clientsCpuMs)).toFixed(0)} ms (whole client processes, start-up included), on ${os.cpus().length} cores. ` +
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
        : 'So under such a load it is the lanes\' exports that fall behind, not the ingest, which fits how they work: each batch is serialised in a later turn of the daemon\'s event loop, while each turn also parses and ingests whatever the four sockets delivered. ') +
      `The clients' \`flush()\` backpressure only reaches the socket: they themselves dropped ${eventFlood.clientDropped === 0 ? 'nothing' : eventFlood.clientDropped.toLocaleString('en-US')}.`,
    '',
    `Rows 6e and 6f: the daemon's CPU time (user + system, from /proc/<pid>/stat) per event through both lanes, the median over the timed runs of row 6, from handing out the first chunk until both lanes had exported all but their last batch: ` +
      'parsing and checking the events, the session context, the log record and the span, the journal, the metrics derived from them, serialising and exporting both lanes\' batches, and the answers to the benchmark\'s `daemon/status` polls (every 25 ms, every 5 ms near the end: each answer costs the daemon 0.2–0.4 ms of CPU here, which polling every 5 ms throughout would add to the figure, about 2 µs per event). ' +
      `6e is row 6's daemon (the file exporter: ${runCpus(events)}); 6f is a daemon of its own with every signal exported over OTLP/gRPC to the project's OTLP/gRPC receiver (test/support/otlp-receiver.ts, @grpc/grpc-js, in the benchmark's process), ` +
      `the same warm-up and ${eventsGrpc.length} timed windowed runs (${runCpus(eventsGrpc)}; ${eventsGrpc.map((run) => fmt.eventRate(run.rate)).join(', ')}); the receiver decoded exactly the log records and spans the daemon accepted (see Checks). ` +
      'The receiver answers each export once it has its bytes and decodes them after each run, as a collector that keeps up would answer: decoding with protobufjs as they came, beside the four clients on the same processor, it had taken about 10,000 events a second, and the exports waiting on it made the daemon journal each event\'s line, hold its records longer and collect more of them in V8\'s old generation: 6f measured that receiver as much as the daemon. ' +
      'It grants each connection and each stream a 16 MiB HTTP/2 flow-control window, the most a collector built on grpc-go (the OpenTelemetry Collector) grows them to from its estimate of the link\'s bandwidth: with grpc-js\'s 64 KiB, each of the daemon\'s 290 KB requests waited on four window updates from the benchmark\'s busy process, and 6f took 34,000–40,000 events a second where it now takes 44,000–50,000 (three alternated pairs of runs). ' +
      `What the two daemons did apart from exporting, medians over the timed runs: the journal wrote ${journalBytes(events)} bytes per event on 6e's daemon and ${journalBytes(eventsGrpc)} on 6f's, and the export queue of either lane held at most ${queuedBatches(events)} and ${queuedBatches(eventsGrpc)} of the lanes' batches of 512 waiting to be sent. ` +
      'The journal leaves an event\'s line out when its log record and span are both exported before it makes the line, which it does within 100 ms of the event, at once while a lane has more than 2,048 records unexported, and at the latest at its next write (PROTOCOL.md section 10.1): the further the exports trail the events, the more lines it makes and writes. ' +
      `Each run also logs the daemon's peak memory (\`daemon/status\` \`memory.heldBytes\`: V8's heap in use, garbage included, plus Buffers), how often it went over its soft limit, and how many records the export queues moved to their spool: ` +
      `file ${spills(events)}; OTLP/gRPC ${spills(eventsGrpc)}. Over the soft limit the daemon moves what its export queues hold to disk and sends it from there, which costs CPU of its own. The target, ≤ ${EVENT_CPU_TARGET_US} µs per event with either exporter, is issue 16's.`,
    '',
    `Rows 6g and 6h: the floor under 6e and 6f, what any daemon must do per event of these, measured in one process with nothing else (bench/fixtures/event-floor.mjs, started with the daemon's Node flags): ` +
      `${config.floorEvents.toLocaleString('en-US')} of the same events as one client frames them (\`encodeFrame\`), fed in 64 KiB reads to the protocol's frame decoder; for each, its log record and span as the lanes hold them ` +
      '(the session context leading both, by reference; the event\'s fields, the log-only ones on the log lane only and redacted there; `session.id`, `client.name`, `event.name`, `event.timestamp`), ' +
      'then each lane\'s batches of 512 serialised by the daemon\'s own serialisers (daemon/delivery/otlp-json.ts, otlp-protobuf.ts). 6g writes each OTLP JSON request as a line to logs.jsonl and traces.jsonl as the file exporter does ' +
      `(${bytesPerEvent(floors.json)} bytes per event, both records; the request's memory used again once written); 6h serialises OTLP protobuf (${bytesPerEvent(floors.protobuf)} bytes per event) and sends nothing, since the gRPC call and its HTTP/2 framing come on top. ` +
      'Left out of both: the socket, the checks of each event, the journal, the derived metrics, the session log, the lanes\' and the export queues\' books and the answers to the polls. ' +
      `The fixture runs after each timed run of 6e (6g) and of 6f (6h), ${config.floorWarmup} warm-up pass and ${config.floorPasses} measured passes, CPU µs per event (user + system of the whole process, V8's helper threads included), the median of its passes: ` +
      `6g ${floorList(floors.json)}, 6h ${floorList(floors.protobuf)}. The row gives the median of those, and the median of each run's ratio to the floor measured right after it: this machine's speed drifts between runs (the floor itself moved by up to 2× between sittings here), by more than the daemon's overhead over the floor, and a run and its floor meet it in about the same state. ` +
      `Issue 16's target for 6e and 6f, ${EVENT_CPU_TARGET_US} µs, is to be read against these: it is what the daemon may spend on an event in all, and the floor is what decoding the event and making, serialising and writing its two records alone cost here. ` +
      (pinned
        ? 'Both daemons of rows 6–6f, every thread, and each floor ran on the machine\'s first processor alone (`taskset`), the benchmark, its receiver and the clients on the others (bench/lib/pin.ts): this machine\'s two processors are not alike (the same CPU-bound loop ran 1.75× slower on one than on the other when it was measured), so an unpinned daemon\'s figure, and its floor\'s, moved with where the scheduler put them, and their ratio could compare one processor with the other.'
        : 'Nothing was pinned (no `taskset`, or a single processor): each figure is also where the scheduler happened to run the process.'),
    '',
    `Row 6b: bench/fixtures/event-cost.mjs, one process with that daemon running. Each round sends ${eventCost.events.toLocaleString('en-US')} of the same events in chunks of ${eventCost.chunk}. ` +
      'The client side times `session.event(name, fields)` for each event of a chunk (fresh field objects per call) and the `await client.flush()` after it, so its figure includes serialising the batch and writing it to the socket. ' +
      'Not timed: after each chunk, `await session.summary()`, a round trip the daemon answers once it has taken everything sent before it, so that every chunk starts with the daemon caught up and the figure is the client\'s own work ' +
      '(a host that emits faster than the daemon reads waits in `flush()`, which is row 6\'s subject, not this one); and before each client round a `daemon/flush`, so the lanes start every round empty and cannot overflow. ' +
      'The SDK side builds each event\'s attributes as the daemon does (session context, the event\'s fields, then `session.id`, `client.name` and `event.name`; the span without the log-only ones), calls ' +
      '`tracer.startSpan()` + `span.end()` under the turn\'s remote parent context and `logger.emit()` in the span\'s context (as the daemon does, so the two correlate), on a `LoggerProvider` with a `BatchLogRecordProcessor` and a `TracerProvider` with a `BatchSpanProcessor` (default queue and batch sizes, the daemon\'s scheduled delay of 1,000 ms) ' +
      'exporting to counting no-op exporters, and yields one turn of the event loop (`setImmediate`) at the same points, as a host\'s loop turns between bursts, so that the processors can hand their batches on ' +
      '(awaiting a resolved promise instead, as row 1 does, the log processor\'s export, a chain of promises, does not complete during a round, and its queue of 2,048 fills and drops; here none dropped, checked). Serialising and exporting those batches, which a real exporter does on the host\'s thread, is not in the SDK figure. ' +
      `Client and SDK rounds alternate in one process (order swapped every round), ${config.eventCostWarmup} warm-up rounds each, then the median of ${eventCost.clientNs.length} rounds: ns = timed wall time / events. ` +
      `Per-round spread: client ${spread(eventCost.clientNs, 0)} ns, SDK ${spread(eventCost.sdkNs, 0)} ns.`,
  ];
}
