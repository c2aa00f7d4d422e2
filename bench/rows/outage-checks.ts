/** Row 7's checks for one run: what the clients sent, the bounds, the drain, and delivery, exactly. */
import { check, log } from '../lib/checks.ts';
import { OUTAGE_DAEMON_CONFIG, type OutageConfig } from './outage-config.ts';
import { bySignal, count, mib, type OutageResult, perSignal, SIGNALS } from './outage-result.ts';

export function checkOutage(config: OutageConfig, run: OutageResult): { exact: boolean; withinMemory: boolean; withinSpool: boolean } {
  const { label, receiverDown, spoolMaxBytes } = run.variant;
  const n = config.outageClients;
  const expectedRecords = Math.floor(config.outageRecords / n) * n;
  const expectedEvents = Math.floor(config.outageEvents / n) * n;
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
    `${label}: after the ${receiverDown ? 'recovery' : 'hour'} every signal drained within ${(config.drainTimeoutMs / 1000).toFixed(0)} s: buffered 0, no batch in memory, no spool segment ` +
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
