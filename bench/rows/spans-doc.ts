/** Section 8 of docs/benchmarks.md: how rows 8–8d were measured, with their spreads. */
import * as os from 'node:os';

import { fmt, median, spread } from '../lib/report.ts';
import { count, LANE_EXPORT_BATCH, nsPerSpan, spanRate, TURN_SPANS } from './spans-config.ts';
import type { SpanDetails } from './spans.ts';

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
