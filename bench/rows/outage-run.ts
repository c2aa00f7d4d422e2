/**
 * One run of row 7: a fresh daemon exporting over OTLP/gRPC to a receiver of its own, the
 * accelerated hour recorded while that receiver is down (or, for comparison, up), then the drain.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ClientStats } from '../../dist/client/index.js';
import type { DaemonStatus } from '../../dist/protocol/index.js';
import { createBenchEnv, FIXTURES, ORPHAN_GUARD, ROOT, type RunningDaemon, startDaemon } from '../lib/daemon.ts';
import { folderBytes, largestJournalFile, memoryOf } from '../lib/footprint.ts';
import { type Finished, finished, lastJsonLine, startChild, waitForLine } from '../lib/processes.ts';
import type { ReceiverModule } from '../lib/receiver.ts';
import { OUTAGE_DAEMON_CONFIG, type OutageConfig } from './outage-config.ts';
import { type OutageResult, type OutageSdkResult, type OutageVariant, perSignal, SIGNALS } from './outage-result.ts';
import { drainedStatus, lostAfterAcceptance, queueOf, recordsInPoints, sentByStatus } from './outage-status.ts';

/**
 * Row 7, one run. A fresh daemon exporting every signal over OTLP/gRPC to a receiver of its
 * own; with `withSdk`, an in-process SDK process exporting to a second receiver. Once the
 * clients' readiness counters are exported, the receivers go down (UNAVAILABLE) together, the
 * clients and the SDK process record the same accelerated hour, and the receivers come back
 * together; the daemon's status, memory and folders are polled all along. Then what arrived is
 * checked against what was recorded, on each side.
 */
export async function measureOutage(config: OutageConfig, daemonArgs: readonly string[], module: ReceiverModule, variant: OutageVariant): Promise<OutageResult> {
  const n = config.outageClients;
  const perClient = Math.floor(config.outageRecords / n);
  const eventsPerClient = Math.floor(config.outageEvents / n);
  const receiver = await module.startOtlpReceiver();
  const sdkReceiver = variant.withSdk ? await module.startOtlpReceiver() : null;
  const receivers = [receiver, ...(sdkReceiver === null ? [] : [sdkReceiver])];
  let daemon: RunningDaemon | null = null;
  try {
    const bench = createBenchEnv({ otlpEndpoint: receiver.endpoint, codexd: { ...OUTAGE_DAEMON_CONFIG, export_spool_max_bytes: variant.spoolMaxBytes } });
    const spoolDirs = perSignal((signal) => join(bench.stateDir, 'spool', signal));
    const journalDir = join(bench.stateDir, 'journal');
    daemon = await startDaemon(bench, daemonArgs);
    const running = daemon;
    const kinds = (await running.status()).exporters.map((exporter) => `${exporter.signal}:${exporter.kind}`);
    if (!kinds.every((kind) => kind.endsWith(':otlp-grpc'))) throw new Error(`${variant.label}: the daemon does not export over OTLP/gRPC (${kinds.join(', ')})`);

    const clients: ChildProcess[] = [];
    for (let index = 0; index < n; index++) {
      clients.push(
        startChild(['--import', ORPHAN_GUARD, join(FIXTURES, 'outage-client.mjs'), String(perClient), String(eventsPerClient), String(config.outageRecordMs), String(index)], {
          env: bench.env,
          cwd: ROOT,
          stdio: ['pipe', 'pipe', 'pipe'],
        }),
      );
    }
    const sdk =
      sdkReceiver === null
        ? null
        : startChild(['--import', ORPHAN_GUARD, join(FIXTURES, 'outage-sdk.mjs'), String(perClient), String(n), String(config.outageRecordMs), String(OUTAGE_DAEMON_CONFIG.export_interval_ms)], {
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
    const sdkRecorded = sdk === null ? Promise.resolve() : waitForLine(sdk, 'recorded', config.outageRecordMs + 60_000);
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
          const stats = lastJsonLine<ClientStats & { valueSum: number }>(outcome.stdout);
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
      if (!Number.isNaN(countedAt) && now - outageStarted >= config.outageRecordMs + config.outageTailMs && now - countedAt >= 5 * OUTAGE_DAEMON_CONFIG.export_interval_ms) break;
      if (now - outageStarted > config.outageRecordMs + 60_000) throw new Error(`${variant.label}: the clients did not record and deliver their hour within a minute of its end`);
      await sleep(config.outagePollMs);
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
      if (now - recoveredAt > config.drainTimeoutMs) break;
      await sleep(config.drainPollMs);
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
      const reported = lastJsonLine<Omit<OutageSdkResult, 'delivered' | 'rejectedCalls'>>(outcome.stdout);
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
