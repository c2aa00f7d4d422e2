/**
 * Rows 7–7e of `npm run bench`: a one-hour outage at accelerated rate. A daemon exporting over
 * OTLP/gRPC while its receiver answers UNAVAILABLE, 4 client processes recording 1,000,000
 * histogram records (and session events); what arrived, exactly, vs an in-process SDK through the
 * same outage (7); its memory and disk against the configured bounds (7b, 7c; baseline: the same
 * hour with the receiver up); its drain once the receiver is back (7d); the same outage with a
 * spool too small for it (7e).
 *
 * One run is in outage-run.ts, its checks in outage-checks.ts, the doc section in outage-doc.ts.
 */
import { check, log, rows } from '../lib/checks.ts';
import { loadReceiverModule } from '../lib/receiver.ts';
import { fmt } from '../lib/report.ts';
import { checkOutage } from './outage-checks.ts';
import { OUTAGE_DAEMON_CONFIG, OUTAGE_RSS_TARGET_BYTES, type OutageConfig, outageConfig } from './outage-config.ts';
import { bySignal, count, MIB, mib, type OutageResult, type OutageSdkResult, perSignal, rssPeakOf, SIGNALS } from './outage-result.ts';
import { measureOutage } from './outage-run.ts';

export interface OutageDetails {
  readonly config: OutageConfig;
  readonly outage: OutageResult;
  readonly outageUp: OutageResult;
  readonly outageSmallSpool: OutageResult;
}

/** Rows 7–7e, each run with a daemon, a folder and receivers of its own (OTLP/gRPC instead of files). */
export async function rowOutage(quick: boolean, daemonArgs: readonly string[]): Promise<OutageDetails> {
  const config = outageConfig(quick);
  const hour = `${count(config.outageRecords)} records in ${(config.outageRecordMs / 1000).toFixed(0)} s`;
  const { module } = await loadReceiverModule();
  const spool = OUTAGE_DAEMON_CONFIG.export_spool_max_bytes;
  log(`row 7: a one-hour outage at accelerated rate (${hour}, receiver UNAVAILABLE; the in-process SDK alongside)`);
  const outage = await measureOutage(config, daemonArgs, module, { label: 'row 7', receiverDown: true, spoolMaxBytes: spool, withSdk: true });
  const main = checkOutage(config, outage);
  log('row 7: the same hour with the receiver up (the baseline of 7b and 7c)');
  const outageUp = await measureOutage(config, daemonArgs, module, { label: 'row 7 (receiver up)', receiverDown: false, spoolMaxBytes: spool, withSdk: false });
  checkOutage(config, outageUp);
  log(`row 7e: the same outage with export_spool_max_bytes = ${mib(config.smallSpoolBytes)}`);
  const outageSmallSpool = await measureOutage(config, daemonArgs, module, { label: 'row 7e', receiverDown: true, spoolMaxBytes: config.smallSpoolBytes, withSdk: false });
  const small = checkOutage(config, outageSmallSpool);
  check(
    (outageSmallSpool.lost.metrics.byReason.spool_full ?? 0) > 0,
    `row 7e: the smaller spool could not hold the hour, so its bound dropped the oldest batches, counted as \`spool_full\`: ${bySignal(perSignal((signal) => outageSmallSpool.lost[signal].byReason.spool_full ?? 0), count)} records`,
  );

  const n = config.outageClients;
  const share = (value: number, of: number): string => `${count(value)} of ${count(of)} (${((100 * value) / of).toFixed(value === of ? 0 : 1)}%)`;
  const sdk = outage.sdk as OutageSdkResult;
  rows.push({
    id: '7',
    what: `outage, accel. hour, ${n} procs × ${count(config.outageRecords / n)} histogram recs: delivered`,
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
    target: `RSS ≤ ${mib(OUTAGE_RSS_TARGET_BYTES)}; queue ≤ ${mib(OUTAGE_DAEMON_CONFIG.export_queue_max_bytes)} per signal`,
    met: main.withinMemory && peak !== null && peak <= OUTAGE_RSS_TARGET_BYTES,
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
    what: `same outage, spool bound ${mib(config.smallSpoolBytes)}: metric recs delivered`,
    measured: `${share(outageSmallSpool.delivered.metrics, outageSmallSpool.accepted.metrics)}, ${count(outageSmallSpool.lost.metrics.byReason.spool_full ?? 0)} dropped (spool_full)`,
    baseline: `${mib(spool)} spool (row 7): ${share(outage.delivered.metrics, outage.accepted.metrics)}`,
    comparison: `−${count(outage.delivered.metrics - outageSmallSpool.delivered.metrics)} recs`,
    target: `spool ≤ ${mib(config.smallSpoolBytes)}; recorded − dropped, exactly`,
    met: small.exact && small.withinSpool && small.withinMemory,
  });
  return { config, outage, outageUp, outageSmallSpool };
}

// ---------------------------------------------------------------- the doc

