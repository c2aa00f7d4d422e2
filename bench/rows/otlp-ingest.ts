/**
 * Row 11 of `npm run bench`: how fast codexd takes OTLP/gRPC export requests, spans and metric
 * points, from 4 senders at once (bench/fixtures/otlp-sender.mjs: requests the SDK's own
 * serialisers made, 100 spans or 50 metric points each, 4 in flight per sender, sent again when
 * the daemon asks them to come back).
 *
 *   11   codexd's OTLP/gRPC receiver (token, decode, privacy, journal synced before each answer),
 *        codexd exporting everything over OTLP/gRPC to a collector stand-in
 *   base the same senders against a bare OTLP/gRPC receiver that decodes each request and keeps
 *        it in memory (test/support/otlp-receiver.ts, @grpc/grpc-js and protobufjs): what a
 *        collector that promises nothing durable costs
 *
 * Afterwards codexd must have exported every span and point it answered OK for, and dropped none.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { DaemonStatus } from '../../dist/protocol/index.js';
import { check, log, rows } from '../lib/checks.ts';
import { createBenchEnv, ROOT, startDaemon } from '../lib/daemon.ts';
import { finished, processCpuMs, startChild, waitForLine } from '../lib/processes.ts';
import { loadReceiverModule } from '../lib/receiver.ts';
import { fmt } from '../lib/report.ts';

const SENDERS = 4;
const KEEP = 4;
const SENDER = join(ROOT, 'bench/fixtures/otlp-sender.mjs');

export function otlpIngestConfig(quick: boolean) {
  return { seconds: quick ? 3 : 10 } as const;
}

interface SenderResult {
  readonly spans: number;
  readonly points: number;
  readonly requests: number;
  readonly comeBack: number;
  readonly failed: number;
  readonly elapsedMs: number;
  readonly bytes: { readonly spans: number; readonly points: number };
}

interface IngestRun {
  readonly spans: number;
  readonly points: number;
  readonly requests: number;
  readonly comeBack: number;
  readonly failed: number;
  readonly seconds: number;
  /** CPU of the receiving process over the run, ms (codexd, or the benchmark process hosting the bare receiver). */
  readonly receiverCpuMs: number | null;
}

export interface OtlpIngestDetails {
  readonly seconds: number;
  readonly codexd: IngestRun;
  readonly bare: IngestRun;
  readonly bytes: { readonly spans: number; readonly points: number };
  readonly exported: { readonly spans: number; readonly points: number };
}

/** Starts the senders, lets them go together, and adds up what they report. */
async function runSenders(address: string, token: string, seconds: number, cpuOf: () => number | null): Promise<IngestRun & { bytes: SenderResult['bytes'] }> {
  const children = Array.from({ length: SENDERS }, (_, index) => startChild([SENDER, address, token, String(seconds), String(KEEP), `codex_sender_${index}`], { stdio: ['pipe', 'pipe', 'pipe'] }));
  await Promise.all(children.map((child) => waitForLine(child, 'ready', 30_000)));
  const cpuBefore = cpuOf();
  for (const child of children) child.stdin?.write('go\n');
  const results = await Promise.all(
    children.map(async (child) => {
      const done = await finished(child);
      if (done.code !== 0) throw new Error(`an OTLP sender exited with ${done.code ?? done.signal}: ${done.stderr.slice(-800)}`);
      return JSON.parse(done.stdout.trim().split('\n').pop() as string) as SenderResult;
    }),
  );
  const cpuAfter = cpuOf();
  const sum = (key: 'spans' | 'points' | 'requests' | 'comeBack' | 'failed'): number => results.reduce((total, result) => total + result[key], 0);
  return {
    spans: sum('spans'),
    points: sum('points'),
    requests: sum('requests'),
    comeBack: sum('comeBack'),
    failed: sum('failed'),
    seconds: Math.max(...results.map((result) => result.elapsedMs)) / 1000,
    receiverCpuMs: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore,
    bytes: (results[0] as SenderResult).bytes,
  };
}

export async function rowOtlpIngest(quick: boolean): Promise<OtlpIngestDetails> {
  const { seconds } = otlpIngestConfig(quick);
  const receivers = (await loadReceiverModule()).module;

  log(`row 11: ${SENDERS} OTLP/gRPC senders for ${seconds} s against a bare receiver`);
  const bareReceiver = await receivers.startOtlpReceiver();
  const selfCpu = (): number => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  let bare: IngestRun;
  try {
    bare = await runSenders(bareReceiver.endpoint.replace(/^http:\/\//, ''), '-', seconds, selfCpu);
  } finally {
    await bareReceiver.close();
  }

  log(`row 11: the same senders against codexd's OTLP/gRPC receiver`);
  const collector = await receivers.startOtlpReceiver();
  const bench = createBenchEnv({ otlpEndpoint: collector.endpoint });
  const configFile = join(bench.env.CODEX_HOME as string, 'config.toml');
  writeFileSync(configFile, `${readFileSync(configFile, 'utf8')}\n[codexd.otlp_receiver]\ngrpc = "127.0.0.1:0"\n`);
  // BENCH_DAEMON_ARGS (profiling) as bench/run.ts passes it to its own daemons.
  const daemon = await startDaemon(bench, (process.env.BENCH_DAEMON_ARGS ?? '').split(' ').filter((arg) => arg !== ''));
  try {
    const otlp = (await daemon.status()).otlpReceiver;
    if (otlp === null || otlp.grpc === null || otlp.tokenFile === null) throw new Error(`codexd's OTLP receiver did not start: ${otlp?.error ?? 'not configured'}`);
    const token = readFileSync(otlp.tokenFile, 'utf8').trim();
    const through = await runSenders(otlp.grpc, token, seconds, () => processCpuMs(daemon.pid));

    // Everything answered OK is exported once the queues drain.
    let status: DaemonStatus.Result = await daemon.status();
    const until = Date.now() + 120_000;
    const sent = (signal: 'traces' | 'metrics'): number => status.signals[signal].exported + (status.exporters.find((exporter) => exporter.signal === signal)?.queue?.replayed.exported ?? 0);
    while (Date.now() < until && (sent('traces') < through.spans || sent('metrics') < through.points)) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = await daemon.status();
    }
    const exported = { spans: sent('traces'), points: sent('metrics') };
    const taken = { spans: Object.values(status.otlpReceiver?.spansBySender ?? {}).reduce((a, b) => a + b, 0), points: Object.values(status.otlpReceiver?.metricPointsBySender ?? {}).reduce((a, b) => a + b, 0) };
    check(
      through.failed === 0 && bare.failed === 0 && taken.spans === through.spans && taken.points === through.points && exported.spans === through.spans && exported.points === through.points && status.signals.traces.droppedTotal + status.signals.metrics.droppedTotal === 0,
      `row 11: the senders were answered OK for ${fmt.count(through.spans)} spans and ${fmt.count(through.points)} metric points; codexd counted ${fmt.count(taken.spans)} and ${fmt.count(taken.points)} taken and exported ${fmt.count(exported.spans)} and ${fmt.count(exported.points)}; dropped ${JSON.stringify(status.signals.traces.dropped)}/${JSON.stringify(status.signals.metrics.dropped)}; failed requests ${through.failed} (bare receiver: ${bare.failed})`,
    );
    const rate = (run: IngestRun): number => (run.spans + run.points) / run.seconds;
    const cpuPerItem = (run: IngestRun): string => (run.receiverCpuMs === null ? 'CPU n/a' : `${((run.receiverCpuMs * 1000) / (run.spans + run.points)).toFixed(1)} µs CPU/item`);
    const describe = (run: IngestRun): string => `${fmt.count(Math.round(run.spans / run.seconds))} spans/s + ${fmt.count(Math.round(run.points / run.seconds))} points/s, ${cpuPerItem(run)}`;
    rows.push({
      id: '11',
      what: `OTLP/gRPC ingest from ${SENDERS} senders (100-span and 50-point requests, journaled before each answer)`,
      measured: describe(through),
      baseline: `a bare OTLP/gRPC receiver (decode only, nothing durable): ${describe(bare)}`,
      comparison: fmt.ratio(rate(through) / rate(bare)),
      target: 'none lost',
      met: exported.spans === through.spans && exported.points === through.points && through.failed === 0,
    });
    return { seconds, codexd: through, bare, bytes: through.bytes, exported };
  } finally {
    await daemon.stop();
    await collector.close();
  }
}

/** Section 11 of docs/benchmarks.md. */
export function otlpIngestDoc(details: OtlpIngestDetails): string[] {
  const { codexd, bare } = details;
  const line = (run: IngestRun): string =>
    `${fmt.count(run.spans)} spans and ${fmt.count(run.points)} metric points in ${run.seconds.toFixed(1)} s (${fmt.count(run.requests)} requests; asked to come back ${fmt.count(run.comeBack)} times), receiver CPU ${run.receiverCpuMs === null ? 'n/a' : `${fmt.count(Math.round(run.receiverCpuMs))} ms`}`;
  return [
    '### 11. OTLP/gRPC ingest: 4 senders at once',
    '',
    `${SENDERS} sender processes (bench/fixtures/otlp-sender.mjs), each with two export requests made once by the SDK's own protobuf serialisers (@opentelemetry/otlp-transformer): a trace request of 100 spans (${fmt.count(details.bytes.spans)} bytes: ten turns of a server root and nine children with Codex-like attributes) and a metric request of 50 delta points (${fmt.count(details.bytes.points)} bytes: 25 counter series and 25 histogram series of 19 buckets). ` +
      `Each keeps ${KEEP} requests in flight (half of each kind) over its own gRPC channel for ${details.seconds} s, all starting together; a request refused with RESOURCE_EXHAUSTED or UNAVAILABLE is sent again 100 ms later, as the SDK's exporters retry. ` +
      `Against codexd (\`[codexd.otlp_receiver] grpc\`, the token in the metadata; the journal synced before every answer; exporting over OTLP/gRPC to the tests' receiver in the benchmark process): ${line(codexd)}; ` +
      `everything answered OK was exported: ${fmt.count(details.exported.spans)} spans and ${fmt.count(details.exported.points)} points (see Checks). ` +
      `Against a bare OTLP/gRPC receiver in the benchmark process (test/support/otlp-receiver.ts: @grpc/grpc-js and protobufjs, decoding each request into objects it keeps; no token, no journal, no export; its CPU is the benchmark process's): ${line(bare)}. ` +
      'The machine has 2 cores shared by the senders, the receiving process and, for codexd, the collector it exports to: the figures are what this machine sustains, not a ceiling of either receiver.',
  ];
}
