/**
 * Row 9 of `npm run bench`: the daemon's memory under pressure, with its defaults (the memory
 * limiter's 128 MiB hard and 96 MiB soft limits, launched as every launcher launches it).
 *
 *   9   8 host processes record without pause for 30 s (bench/fixtures/soak-client.mjs with no
 *       pause between bursts: counters, histogram values, session events with 200 characters
 *       of tool output, span trees), the collector (a real OTLP/gRPC receiver) up: peak RSS
 *   9b  the same 30 s with the collector hanging (it takes calls and never answers), then back
 *
 * The daemon's RSS is read from /proc every 250 ms, its `daemon/status` (`memory`) every second.
 * Afterwards every count must arrive at the receiver exactly and nothing be dropped, by the
 * hosts or the daemon. The baseline is the same daemon's RSS at rest, before the hosts start.
 *
 * bench/run.ts calls {@link rowMemory} and renders {@link memoryDoc}.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { DAEMON_NODE_FLAGS, type DaemonStatus } from '../../dist/protocol/index.js';
import { check, log, rows } from '../lib/checks.ts';
import { createBenchEnv, ROOT, startDaemon } from '../lib/daemon.ts';
import { finished, startChild } from '../lib/processes.ts';
import { consumeLogsAndSpans, loadReceiverModule } from '../lib/receiver.ts';
import { fmt, median } from '../lib/report.ts';

const MIB = 1024 * 1024;
/** The target of both rows, with the defaults. */
const RSS_BOUND_MIB = 256;
const HOSTS = 8;
const SAMPLE_MS = 250;

export function memoryConfig(quick: boolean) {
  return { seconds: quick ? 8 : 30 } as const;
}

/** One second of a run: the largest RSS sampled in it, and the limiter as status last saw it. */
interface Second {
  readonly rssMiB: number;
  readonly heldMiB: number;
  readonly state: DaemonStatus.Result['memory']['state'];
  readonly paused: number;
}

interface MemoryRun {
  readonly collector: 'up' | 'hanging';
  readonly restMiB: number;
  readonly peakMiB: number;
  readonly seconds: Second[];
  readonly sent: { increments: number; values: number; events: number; spans: number };
  readonly softEntered: number;
  readonly hardEntered: number;
  /** Seconds of the run in which status saw the limiter holding. */
  readonly heldSeconds: number;
  readonly exact: boolean;
  readonly drainMs: number;
}

export interface MemoryDetails {
  readonly seconds: number;
  readonly up: MemoryRun;
  readonly hang: MemoryRun;
}

function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((text) => text.startsWith('VmRSS:')) ?? '';
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
}

interface SoakReport {
  increments: number;
  values: number;
  events: number;
  spans: number;
  stats: { dropped: Record<string, number>; events: { dropped: Record<string, number> }; spans: { dropped: Record<string, number> } };
}

/**
 * A spool of 1 GiB a signal, not the default 256 MiB: these rows measure memory. At full speed
 * 8 hosts fill the default traces spool within 30 s of a hanging collector (970,000 spans), and
 * past it the oldest batches are dropped and counted (`spool_full`): the disk bound is row 7e's
 * subject.
 */
const SPOOL_MAX_BYTES = 1024 * 1024 * 1024;

async function measure(seconds: number, collector: 'up' | 'hanging'): Promise<MemoryRun> {
  const receiver = await (await loadReceiverModule()).module.startOtlpReceiver();
  const bench = createBenchEnv({ otlpEndpoint: receiver.endpoint, codexd: { export_interval_ms: 1000, export_spool_max_bytes: SPOOL_MAX_BYTES } });
  const daemon = await startDaemon(bench);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const restMiB = rssOf(daemon.pid) / MIB;
    if (collector === 'hanging') receiver.setBehavior('hang');
    const started = Date.now();
    const env = { ...bench.env, SOAK_PAUSE_MS: '0' };
    const hosts = Array.from({ length: HOSTS }, (_, index) => startChild([join(ROOT, 'bench/fixtures/soak-client.mjs'), String(seconds), String(index)], { env }));
    const done = Promise.all(hosts.map((child) => finished(child)));
    const perSecond = new Map<number, { rss: number; held: number; state: Second['state']; paused: number }>();
    let peak = 0;
    let heldSeconds = 0;
    const sampler = setInterval(() => {
      const rss = rssOf(daemon.pid);
      peak = Math.max(peak, rss);
      const second = Math.floor((Date.now() - started) / 1000);
      const entry = perSecond.get(second) ?? { rss: 0, held: 0, state: 'ok' as const, paused: 0 };
      entry.rss = Math.max(entry.rss, rss);
      perSecond.set(second, entry);
    }, SAMPLE_MS);
    // What the receiver took, counted as it comes and then let go: kept whole, a flood's decoded
    // requests outgrew this process's heap once the daemon delivered a million spans in a run.
    // One request at a time, between the turns of this process's event loop: decoded a second's
    // worth at once, they kept it from answering the daemon's exports (which then timed out and
    // came again) and from reading the daemon's memory for most of the flood.
    const received = { increments: 0, values: 0, logs: 0, spans: 0 };
    const tally = async (): Promise<void> => {
      received.increments += receiver.sumOf('codex.soak.calls');
      received.values += receiver.histogramTotals('codex.soak.duration_ms').count;
      receiver.metricsRequests.length = 0;
      const taken = await consumeLogsAndSpans(receiver);
      received.logs += taken.logs;
      received.spans += taken.spans;
    };
    let polling = true;
    const counter = (async () => {
      while (polling) {
        await tally();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const poller = (async () => {
      while (polling) {
        const status = await daemon.status();
        const second = Math.floor((Date.now() - started) / 1000);
        const entry = perSecond.get(second) ?? { rss: 0, held: 0, state: 'ok' as const, paused: 0 };
        Object.assign(entry, { held: status.memory.heldBytes, state: status.memory.state, paused: status.memory.pausedConnections });
        perSecond.set(second, entry);
        if (status.memory.state !== 'ok') heldSeconds++;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    })();
    const reports = (await done).map((run) => JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as SoakReport);
    clearInterval(sampler);
    polling = false;
    await poller;
    await counter;
    receiver.setBehavior('ok');
    const sent = reports.reduce((sum, run) => ({ increments: sum.increments + run.increments, values: sum.values + run.values, events: sum.events + run.events, spans: sum.spans + run.spans }), { increments: 0, values: 0, events: 0, spans: 0 });

    // Drain: every queue empty, in memory and on disk, and nothing buffered.
    const drainStarted = Date.now();
    let status = await daemon.status();
    while (Date.now() - drainStarted < 180_000) {
      await tally();
      status = await daemon.status();
      const drained = Object.values(status.signals).every((counts) => counts.buffered === 0) && status.exporters.every((exporter) => exporter.queue === undefined || (exporter.queue.memoryBatches === 0 && exporter.queue.spooledSegments === 0));
      if (drained) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const drainMs = Date.now() - drainStarted;
    // The receiver takes the last requests a moment after the daemon counts them exported.
    const expectedSpans = sent.events + sent.spans;
    for (const until = Date.now() + 30_000; Date.now() < until; ) {
      await tally();
      if (received.spans >= expectedSpans && received.logs >= sent.events) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const label = `row 9${collector === 'up' ? '' : 'b'}`;
    const hostDrops = reports.flatMap((run) => [run.stats.dropped, run.stats.events.dropped, run.stats.spans.dropped]).filter((dropped) => Object.keys(dropped).length > 0);
    await tally();
    const daemonDrops = Object.fromEntries(Object.entries(status.signals).map(([signal, counts]) => [signal, counts.dropped]));
    const nothingDropped = Object.values(status.signals).every((counts) => counts.droppedTotal === 0 && counts.rejectedTotal === 0);
    const exact = hostDrops.length === 0 && nothingDropped && received.increments === sent.increments && received.values === sent.values && received.logs === sent.events && received.spans === expectedSpans;
    check(
      exact,
      `${label}: ${HOSTS} hosts sent ${fmt.count(sent.increments)} counter increments, ${fmt.count(sent.values)} histogram values, ${fmt.count(sent.events)} session events and ${fmt.count(sent.spans)} spans in ${seconds} s (collector ${collector}); ` +
        `the receiver took ${fmt.count(received.increments)}, ${fmt.count(received.values)}, ${fmt.count(received.logs)} log records and ${fmt.count(received.spans)} spans (expected ${fmt.count(expectedSpans)}: one per event and each host span); ` +
        `the hosts dropped ${JSON.stringify(hostDrops)}, the daemon dropped ${JSON.stringify(daemonDrops)} and rejected ${Object.values(status.signals).reduce((sum, counts) => sum + counts.rejectedTotal, 0)}; drained in ${(drainMs / 1000).toFixed(1)} s`,
    );
    const secondsSeen = [...perSecond.entries()].filter(([second]) => second < seconds).sort((a, b) => a[0] - b[0]).map(([, entry]) => ({ rssMiB: entry.rss / MIB, heldMiB: entry.held / MIB, state: entry.state, paused: entry.paused }));
    return { collector, restMiB, peakMiB: peak / MIB, seconds: secondsSeen, sent, softEntered: status.memory.softEntered, hardEntered: status.memory.hardEntered, heldSeconds, exact, drainMs };
  } finally {
    await daemon.stop();
    await receiver.close();
  }
}

/** Row 9: a flood with the collector up, then the same with it hanging; each on a fresh daemon. */
export async function rowMemory(quick: boolean): Promise<MemoryDetails> {
  const { seconds } = memoryConfig(quick);
  log(`row 9: memory, ${HOSTS} hosts flooding for ${seconds} s, collector up`);
  const up = await measure(seconds, 'up');
  log(`row 9b: memory, the same with the collector hanging`);
  const hang = await measure(seconds, 'hanging');
  for (const [id, run] of [['9', up], ['9b', hang]] as const) {
    rows.push({
      id,
      what: `daemon RSS, peak: ${HOSTS} hosts flooding ${seconds} s, collector ${run.collector === 'up' ? 'up' : 'hanging'}`,
      measured: `${run.peakMiB.toFixed(1)} MiB`,
      baseline: `at rest before: ${run.restMiB.toFixed(1)} MiB`,
      comparison: `+${(run.peakMiB - run.restMiB).toFixed(1)} MiB; limiter held ${run.heldSeconds} of ${seconds} s, ${run.exact ? 'all delivered' : 'NOT all delivered'}`,
      target: `≤ ${RSS_BOUND_MIB} MiB, none lost`,
      met: run.peakMiB <= RSS_BOUND_MIB && run.exact,
    });
  }
  return { seconds, up, hang };
}

/** Section 9 of docs/benchmarks.md: how row 9 was measured, and RSS over time. */
export function memoryDoc(details: MemoryDetails): string[] {
  const { seconds, up, hang } = details;
  const series = (run: MemoryRun, at: number): string => {
    const second = run.seconds[at];
    if (second === undefined) return '—';
    return `${second.rssMiB.toFixed(0)} MiB (held ${second.heldMiB.toFixed(0)}, ${second.state}${second.paused > 0 ? `, ${second.paused} waiting` : ''})`;
  };
  const step = seconds >= 20 ? 2 : 1;
  const table = ['| s | collector up: RSS (held, limiter) | collector hanging: RSS (held, limiter) |', '| --- | --- | --- |'];
  for (let at = 0; at < seconds; at += step) table.push(`| ${at} | ${series(up, at)} | ${series(hang, at)} |`);
  const describe = (run: MemoryRun): string =>
    `peak ${run.peakMiB.toFixed(1)} MiB (at rest ${run.restMiB.toFixed(1)} MiB, median over the seconds ${median(run.seconds.map((second) => second.rssMiB)).toFixed(1)} MiB); the limiter went over its soft limit ${run.softEntered} times and over its hard limit ${run.hardEntered} times, and held in ${run.heldSeconds} of the ${seconds} status readings; drained ${(run.drainMs / 1000).toFixed(1)} s after the hosts ended`;
  return [
    '### 9. The daemon\'s memory under a flood (9) and a hanging collector (9b)',
    '',
    `Each row on a fresh daemon with its defaults (\`[codexd] memory_limit_mib = 128\`, soft limit 96 MiB; export queues of 8 MiB a signal in memory) but a spool of ${SPOOL_MAX_BYTES / 1024 / 1024 / 1024} GiB a signal (\`export_spool_max_bytes\`; at full speed these hosts fill the default 256 MiB of the traces' spool within 30 s of a hanging collector, and the disk bound is row 7e's subject), started as every launcher starts it (\`node ${DAEMON_NODE_FLAGS.join(' ')}\`), exporting every signal over OTLP/gRPC to a real receiver in the benchmark process (\`export_interval_ms = 1000\`). ` +
      `${HOSTS} host processes (bench/fixtures/soak-client.mjs, no pause) record for ${seconds} s, each burst 200 counter increments, 200 histogram values, 10 \`codex.tool_result\` session events with 200 characters of output, and a turn of 9 spans, then \`await client.flush()\`. ` +
      'In 9b the receiver takes every export call and never answers for the whole time, then answers again. The daemon\'s RSS is read from /proc every 250 ms (the table: the largest of each second), its `daemon/status` every second (held: V8\'s heap in use plus Buffers, what the limiter counts; its state; the connections it is not reading). ' +
      'The benchmark counts what the receiver took as it comes, one export request at a time between turns of its event loop: before, it decoded a second\'s worth at once, which kept it from answering the daemon for longer than the daemon\'s 5 s deadline (the daemon then sent those requests again, and the receiver had them twice) and from reading the daemon\'s memory after the first 12 s of the flood. ' +
      'Afterwards, once the daemon has drained, every count must have arrived at the receiver exactly, and neither the hosts nor the daemon may have dropped anything (see Checks): while the limiter holds, a host\'s writes stay unfinished and it waits in `flush()`, losing nothing.',
    '',
    `9 (collector up): ${describe(up)}. 9b (collector hanging): ${describe(hang)}.`,
    '',
    ...table,
  ];
}
