/** Section 7 of docs/benchmarks.md: how rows 7–7e were measured, with the figures of their three runs. */
import * as os from 'node:os';

import { fmt } from '../lib/report.ts';
import { OUTAGE_DAEMON_CONFIG } from './outage-config.ts';
import { bySignal, count, mib, type OutageResult, type OutageSdkResult, rssPeakOf, SIGNALS } from './outage-result.ts';
import type { OutageDetails } from './outage.ts';

export function outageDoc(details: OutageDetails): string[] {
  const { config, outage, outageUp: up, outageSmallSpool: small } = details;
  const n = config.outageClients;
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  const hourFactor = 3600_000 / config.outageRecordMs;
  const sdk = outage.sdk as OutageSdkResult;
  const journalThreshold = (run: OutageResult): number => run.variant.spoolMaxBytes / 4;
  const batchKiB = outage.drainBatches.metrics === 0 ? Number.NaN : outage.peakSpooledStatus.metrics / outage.drainBatches.metrics / 1024;
  const sendingMs = outage.drainMs - outage.firstDeliveryMs;
  const spilledBy = (run: OutageResult): string => bySignal(run.spooled, count);
  const lostText = (run: OutageResult): string =>
    SIGNALS.map((signal) => `${signal} ${count(run.delivered[signal])} = ${count(run.accepted[signal])} accepted − ${count(run.lost[signal].total)} lost${run.lost[signal].total === 0 ? '' : ` (${JSON.stringify(run.lost[signal].byReason)})`}`).join('; ');
  return [
    '### 7. A one-hour outage at accelerated rate (7, 7b–7d), and a spool too small for it (7e)',
    '',
    `Three runs, each with a fresh daemon in a temp folder of its own, set up as in row 3 except that every signal (metrics, the log lane, the trace lane) is exported over OTLP/gRPC ` +
      '(`[otel] metrics_exporter`, `exporter` and `trace_exporter` all `{ otlp-grpc = { endpoint = … } }`) to a receiver of its own: test/support/otlp-receiver.ts, the real `@grpc/grpc-js` receiver, running in the benchmark process, ' +
      'which decodes every export it takes and can be told to answer every export with gRPC UNAVAILABLE. The `[codexd]` keys, chosen for this row: ' +
      `\`export_interval_ms = ${OUTAGE_DAEMON_CONFIG.export_interval_ms}\` (a collection every 200 ms, so batches keep coming through the outage), ` +
      `\`export_queue_max_bytes = ${OUTAGE_DAEMON_CONFIG.export_queue_max_bytes}\` (${mib(OUTAGE_DAEMON_CONFIG.export_queue_max_bytes)} per signal in memory: below what this hour's batches add up to within a few seconds, so that the memory bound is reached and spills), ` +
      `\`export_spool_max_bytes = ${OUTAGE_DAEMON_CONFIG.export_spool_max_bytes}\` (${mib(OUTAGE_DAEMON_CONFIG.export_spool_max_bytes)} per signal on disk: room for the whole hour; row 7e uses ${mib(config.smallSpoolBytes)}), ` +
      `\`export_retry_initial_ms = ${OUTAGE_DAEMON_CONFIG.export_retry_initial_ms}\` and \`export_retry_max_ms = ${OUTAGE_DAEMON_CONFIG.export_retry_max_ms}\` (with the queue's jitter, an attempt every 0.5 to 1.5 s once the backoff has grown). ` +
      'The spool bound also sets the journal\'s pressure threshold, a quarter of it (daemon/run.ts): past it, the daemon moves every batch waiting in memory to the spool, which settles their records so that the journal\'s files can go.',
    '',
    `The hour: ${n} client processes (bench/fixtures/outage-client.mjs) connect, start a session and send one readiness counter, which the daemon exports while the receiver is up (it also opens the daemon's gRPC channel); ` +
      `then, after "go", each records ${count(config.outageRecords / n)} \`histogram('codex.tool.duration_ms', value, tags)\` values (distinct values) and sends ${count(config.outageEvents / n)} session events (bench/fixtures/session-events.mjs, as in row 6), ` +
      `paced evenly over ${seconds(config.outageRecordMs)}: every 20 ms it takes its due share and calls \`await flush()\`. The tags are tool (4) × status (2) × minute (60) = 480 series, the \`minute\` rotating every eighth record, ` +
      `so every 200 ms collection carries all 480 histogram points (a metrics batch of about ${batchKiB.toFixed(0)} KiB serialised) rather than a handful: ${count(config.outageRecords)} records at ${fmt.rate(outage.records / (outage.recordMs / 1000))}, ` +
      `an hour of a host recording ${(config.outageRecords / 3600).toFixed(0)} records a second compressed ${hourFactor.toFixed(0)}×. What the compression does not scale: the hour makes ${count(outage.drainBatches.metrics)} metrics batches here, where a real hour at the default 5 s interval makes 720 of the same kind; ` +
      `the backoff, the journal's 2 s rotation and its 200 ms writes run in real time; and the daemon ingests ${fmt.rate(outage.records / (outage.recordMs / 1000))} throughout, which is what sizes its journal (below).`,
    '',
    `Row 7: both receivers (the daemon's, and the SDK baseline's, below) answer UNAVAILABLE from just before "go" until the recording is over, the daemon has counted everything the clients sent and at least ${(config.outageTailMs / 1000).toFixed(0)} s more have passed ` +
      `(${seconds(outage.outageMs)} in all; the receiver refused ${count(outage.rejectedCalls)} export calls and took none). Every ${config.outagePollMs} ms meanwhile (${config.drainPollMs} ms during the drain) the benchmark reads \`daemon/status\`, ` +
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
