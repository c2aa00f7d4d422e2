/**
 * `npm run soak`: a few minutes of a busy day, bounded, to see that nothing drifts. Four host
 * processes record metrics, session events and span trees without pause while the collector (a
 * real OTLP/gRPC receiver) goes down every 30 s for 10 s and hangs once; the daemon's memory is
 * sampled every second. At the end, once the collector is back and the daemon has drained,
 * every count must arrive exactly, nothing may be dropped, and the peak memory must stay under
 * its bound. Prints what it saw; exits 1 on any problem.
 *
 *   node bench/soak.ts [--minutes=3] [--rss-bound-mib=256]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { createBenchEnv, removeBenchEnvs, ROOT, startDaemon } from './lib/daemon.ts';
import { finished, killAllChildren, startChild } from './lib/processes.ts';
import { loadReceiverModule } from './lib/receiver.ts';

const arg = (name: string, fallback: number): number => Number(process.argv.find((text) => text.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const MINUTES = arg('minutes', 3);
const RSS_BOUND_MIB = arg('rss-bound-mib', 256);
const CLIENTS = 4;
const MIB = 1024 * 1024;

function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((text) => text.startsWith('VmRSS:')) ?? '';
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
}

const problems: string[] = [];
const check = (ok: boolean, text: string): void => {
  process.stdout.write(`  ${ok ? 'ok' : 'FAILED'}: ${text}\n`);
  if (!ok) problems.push(text);
};

process.on('exit', () => {
  killAllChildren();
  removeBenchEnvs();
});

const receiver = await (await loadReceiverModule()).module.startOtlpReceiver();
const bench = createBenchEnv({ otlpEndpoint: receiver.endpoint, codexd: { export_interval_ms: 1000, export_retry_max_ms: 2000 } });
const daemon = await startDaemon(bench);
const started = Date.now();
const seconds = MINUTES * 60;
process.stdout.write(`soak: ${MINUTES} min, ${CLIENTS} hosts, collector down 10 s of every 30 s and hung once\n`);

const clients = Array.from({ length: CLIENTS }, (_, index) => startChild([join(ROOT, 'bench/fixtures/soak-client.mjs'), String(seconds), String(index)], { env: bench.env }));
const done = Promise.all(clients.map((child) => finished(child)));

let peakRss = 0;
const samples: number[] = [];
const sampler = setInterval(() => {
  const rss = rssOf(daemon.pid);
  samples.push(rss);
  peakRss = Math.max(peakRss, rss);
  const second = Math.floor((Date.now() - started) / 1000);
  // The collector: down 10 s of every 30 s, hung for 5 s once in the middle.
  const phase = second % 30;
  const hang = second >= Math.floor(seconds / 2) && second < Math.floor(seconds / 2) + 5;
  receiver.setBehavior(hang ? 'hang' : phase >= 20 ? 'unavailable' : 'ok');
  if (second % 15 === 0) process.stdout.write(`  ${second} s: daemon RSS ${(rss / MIB).toFixed(1)} MiB\n`);
}, 1000);

const results = (await done).map((run) => JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as { increments: number; values: number; events: number; spans: number; stats: { dropped: Record<string, number>; events: { dropped: Record<string, number> }; spans: { dropped: Record<string, number> } } });
clearInterval(sampler);
receiver.setBehavior('ok');

// Drain: until every queue is empty, in memory and on disk, and nothing is buffered.
const drainBy = Date.now() + 120_000;
let status = await daemon.status();
while (Date.now() < drainBy) {
  status = await daemon.status();
  const drained = Object.values(status.signals).every((counts) => counts.buffered === 0) && status.exporters.every((exporter) => exporter.queue === undefined || (exporter.queue.memoryBatches === 0 && exporter.queue.spooledSegments === 0));
  if (drained) break;
  await new Promise((resolve) => setTimeout(resolve, 500));
}
const settleRss = rssOf(daemon.pid);

const sent = results.reduce((sum, run) => ({ increments: sum.increments + run.increments, values: sum.values + run.values, events: sum.events + run.events, spans: sum.spans + run.spans }), { increments: 0, values: 0, events: 0, spans: 0 });
const clientDrops = results.flatMap((run) => [run.stats.dropped, run.stats.events.dropped, run.stats.spans.dropped]).filter((dropped) => Object.keys(dropped).length > 0);
check(clientDrops.length === 0, `the hosts dropped nothing (${JSON.stringify(clientDrops)})`);
check(receiver.sumOf('codex.soak.calls') === sent.increments, `every counter increment arrived once: ${receiver.sumOf('codex.soak.calls')} of ${sent.increments}`);
check(receiver.histogramTotals('codex.soak.duration_ms').count === sent.values, `every histogram value arrived once: ${receiver.histogramTotals('codex.soak.duration_ms').count} of ${sent.values}`);
const received = { logs: receiver.logRecords().length, spans: receiver.spans().length };
// Each event is one log record and one span; each host span one span.
check(received.logs === sent.events, `every event's log record arrived once: ${received.logs} of ${sent.events}`);
check(received.spans === sent.events + sent.spans, `every span arrived once: ${received.spans} of ${sent.events + sent.spans}`);
for (const [signal, counts] of Object.entries(status.signals)) {
  check(counts.droppedTotal === 0 && counts.rejectedTotal === 0 && counts.buffered === 0, `${signal}: nothing dropped, rejected or left (${JSON.stringify(counts.dropped)}, ${JSON.stringify(counts.rejected)}, buffered ${counts.buffered})`);
}
check(peakRss <= RSS_BOUND_MIB * MIB, `daemon RSS peaked at ${(peakRss / MIB).toFixed(1)} MiB (bound ${RSS_BOUND_MIB} MiB); ${(settleRss / MIB).toFixed(1)} MiB once drained; collector refused ${receiver.rejectedCalls} export calls`);

await daemon.stop();
await receiver.close();
process.stdout.write(`soak: ${problems.length === 0 ? 'all checks passed' : `${problems.length} checks failed`} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
process.exitCode = problems.length === 0 ? 0 : 1;
