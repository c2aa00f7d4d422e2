/**
 * Row 10 of `npm run bench`: the real Codex CLI (`@openai/codex`, a dev dependency), unmodified,
 * running `codex exec --skip-git-repo-check "say hi"` offline against a mock Responses API
 * (test/support/mock-responses.ts), its wall time from spawn to exit:
 *
 *   10   telemetry off (no [otel] table): the floor
 *   10b  Codex's own OTLP/gRPC exporters (traces, logs, metrics) straight to a local collector
 *   10c  the same exporters to codexd's OTLP/gRPC receiver (as `codexd setup codex` writes them),
 *        codexd exporting to that collector
 *   10d  Codex's OTLP/HTTP exporters to codexd's OTLP/HTTP receiver, for context
 *   10e  straight, the collector hanging (it takes calls and never answers)
 *   10f  through codexd, codexd's collector hanging
 *
 * The variants run interleaved, round by round. Afterwards codexd must have passed on every
 * span, log record and metric point it took, once its collector answers again.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { check, log, rows } from '../lib/checks.ts';
import { type BenchEnv, createBenchEnv, ROOT, type RunningDaemon, startDaemon } from '../lib/daemon.ts';
import { finished, startChild } from '../lib/processes.ts';
import { loadReceiverModule, type OtlpReceiver } from '../lib/receiver.ts';
import { fmt, median, spread } from '../lib/report.ts';

const CODEX_BIN = join(dirname(createRequire(import.meta.url).resolve('@openai/codex/package.json')), 'bin', 'codex.js');
const CODEX_VERSION = (JSON.parse(readFileSync(join(dirname(CODEX_BIN), '..', 'package.json'), 'utf8')) as { version: string }).version;

type Healthy = 'off' | 'straight' | 'codexd' | 'codexdHttp';
type Variant = Healthy | 'straightHang' | 'codexdHang';

interface MockModule {
  startMockResponses(): Promise<{ baseUrl: string; readonly turns: number; close(): Promise<void> }>;
  codexConfig(mock: { baseUrl: string }, extra: string): string;
}

export interface CodexDetails {
  /** Median over the rounds of through codexd minus straight, ms. */
  readonly paired: number;
  /** The same, Codex exporting over OTLP/HTTP to codexd's HTTP receiver. */
  readonly pairedHttp: number;
  readonly version: string;
  readonly rounds: number;
  readonly hangRounds: number;
  readonly ms: Readonly<Record<Variant, number[]>>;
  /** Peak resident set of the Codex binary per run, KiB; empty without /proc. */
  readonly peakKiB: Readonly<Record<Variant, number[]>>;
  readonly spansTaken: number;
  readonly spansExported: number;
  readonly pointsTaken: number;
  readonly pointsExported: number;
}

export function codexConfigFor(quick: boolean) {
  return { rounds: quick ? 3 : 30, hangRounds: quick ? 1 : 3, warmup: 1 } as const;
}

export async function rowCodex(quick: boolean): Promise<CodexDetails> {
  const config = codexConfigFor(quick);
  const mockModule = (await import(pathToFileURL(join(ROOT, 'test/support/mock-responses.ts')).href)) as MockModule;
  const mock = await mockModule.startMockResponses();
  const receiver: OtlpReceiver = await (await loadReceiverModule()).module.startOtlpReceiver();
  // A short retry step: once the collector answers again, the queue tries it within 2 s.
  const bench: BenchEnv = createBenchEnv({ otlpEndpoint: receiver.endpoint, codexd: { export_interval_ms: 1000, export_retry_max_ms: 2000 } });
  // The receiver table is codexd's own; createBenchEnv wrote the rest.
  const configFile = join(bench.env.CODEX_HOME as string, 'config.toml');
  writeFileSync(configFile, `${readFileSync(configFile, 'utf8')}\n[codexd.otlp_receiver]\ngrpc = "127.0.0.1:0"\nhttp = "127.0.0.1:0"\n`);
  const daemon: RunningDaemon = await startDaemon(bench);
  try {
    const otlp = (await daemon.status()).otlpReceiver;
    if (otlp === null || otlp.grpc === null || otlp.http === null || otlp.tokenFile === null) throw new Error(`codexd's OTLP receiver did not start: ${otlp?.error ?? 'not configured'}`);
    const token = readFileSync(otlp.tokenFile, 'utf8').trim();
    const grpc = `{ otlp-grpc = { endpoint = "${receiver.endpoint}" } }`;
    const toCodexd = `{ otlp-grpc = { endpoint = "http://${otlp.grpc}", headers = { authorization = "Bearer ${token}" } } }`;
    const http = (path: string): string => `{ otlp-http = { endpoint = "http://${otlp.http}${path}", protocol = "binary", headers = { authorization = "Bearer ${token}" } } }`;
    const otel: Record<Healthy, string> = {
      off: '',
      straight: `[otel]\nexporter = ${grpc}\ntrace_exporter = ${grpc}\nmetrics_exporter = ${grpc}`,
      codexd: `[otel]\nexporter = ${toCodexd}\ntrace_exporter = ${toCodexd}\nmetrics_exporter = ${toCodexd}`,
      codexdHttp: `[otel]\nexporter = ${http('/v1/logs')}\ntrace_exporter = ${http('/v1/traces')}\nmetrics_exporter = ${http('/v1/metrics')}`,
    };
    const homes = Object.fromEntries(
      Object.entries(otel).map(([name, table]) => {
        const dir = join(bench.root, `codex-${name}`);
        mkdirSync(join(dir, 'home'), { recursive: true });
        mkdirSync(join(dir, 'codex'), { recursive: true });
        writeFileSync(join(dir, 'codex', 'config.toml'), mockModule.codexConfig(mock, table));
        return [name, { PATH: process.env.PATH, HOME: join(dir, 'home'), CODEX_HOME: join(dir, 'codex') }];
      }),
    ) as unknown as Record<Healthy, NodeJS.ProcessEnv>;

    /** Runs codex exec; its wall time, and the peak resident set of Codex itself (the native binary the npm script becomes), when /proc shows it. */
    async function exec(home: Healthy): Promise<{ wallMs: number; peakKiB: number | null }> {
      const started = performance.now();
      const child = startChild([CODEX_BIN, 'exec', '--skip-git-repo-check', 'say hi'], { env: homes[home] });
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      // The npm package's `codex` script replaces itself with the native binary (execve), in
      // the same process. VmHWM is the high-water mark of the running image: the last reading
      // once the process is Codex, before it is gone, holds Codex's peak.
      let peakKiB: number | null = null;
      const watch = setInterval(() => {
        try {
          const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
          const hwm = /VmHWM:\s+(\d+)/.exec(status);
          if (/^Name:\s+codex/m.test(status) && hwm !== null) peakKiB = Math.max(peakKiB ?? 0, Number(hwm[1]));
        } catch {
          // Not started yet, already gone, or no /proc.
        }
      }, 5);
      const result = await finished(child, started);
      clearInterval(watch);
      clearTimeout(timer);
      if (result.code !== 0) throw new Error(`codex exec (${home}) exited with ${result.code ?? result.signal}\n${result.stderr.slice(-1500)}`);
      return { wallMs: result.wallMs, peakKiB };
    }

    const ms: Record<Variant, number[]> = { off: [], straight: [], codexd: [], codexdHttp: [], straightHang: [], codexdHang: [] };
    const peakKiB: Record<Variant, number[]> = { off: [], straight: [], codexd: [], codexdHttp: [], straightHang: [], codexdHang: [] };
    const note = (variant: Variant, run: { wallMs: number; peakKiB: number | null }): void => {
      ms[variant].push(run.wallMs);
      if (run.peakKiB !== null) peakKiB[variant].push(run.peakKiB);
    };
    const healthy: Healthy[] = ['off', 'straight', 'codexd', 'codexdHttp'];
    log(`row 10: codex exec ${CODEX_VERSION}, ${config.rounds} rounds of off / straight / through codexd (gRPC, HTTP) (after ${config.warmup} warm-up)`);
    for (let round = 0; round < config.warmup + config.rounds; round++) {
      const order = healthy.map((_, at) => healthy[(at + round) % healthy.length] as Healthy);
      for (const variant of order) {
        const run = await exec(variant);
        if (round >= config.warmup) note(variant, run);
      }
    }
    log(`row 10d/10e: the collector hanging, ${config.hangRounds} rounds of straight / through codexd`);
    receiver.setBehavior('hang');
    for (let round = 0; round < config.hangRounds; round++) {
      note('codexdHang', await exec('codexd'));
      note('straightHang', await exec('straight'));
    }
    receiver.setBehavior('ok');
    // What codexd took while its collector hung goes out once it answers again.
    let status = await daemon.status();
    const until = Date.now() + 60_000;
    // Drained: nothing buffered, and nothing waiting in an export queue, in memory or spilled to disk.
    const drained = (): boolean => status.signals.traces.buffered + status.signals.logs.buffered + status.signals.metrics.buffered === 0 && status.exporters.every((exporter) => exporter.queue === undefined || (exporter.queue.memoryBatches === 0 && exporter.queue.spooledSegments === 0));
    while (Date.now() < until && !drained()) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      status = await daemon.status();
    }
    const total = (counts: Readonly<Record<string, number>> | undefined): number => Object.values(counts ?? {}).reduce((sum, count) => sum + count, 0);
    const sent = (signal: 'traces' | 'metrics'): number => status.signals[signal].exported + (status.exporters.find((exporter) => exporter.signal === signal)?.queue?.replayed.exported ?? 0);
    const taken = total(status.otlpReceiver?.spansBySender);
    const exported = sent('traces');
    const pointsTaken = total(status.otlpReceiver?.metricPointsBySender);
    const pointsExported = sent('metrics');
    check(
      taken > 0 && status.signals.traces.accepted === taken && exported === taken && status.signals.traces.droppedTotal === 0 && status.signals.logs.droppedTotal === 0,
      `row 10: codexd took ${fmt.count(taken)} spans and ${fmt.count(total(status.otlpReceiver?.logsBySender))} log records from ${config.warmup + config.rounds + config.hangRounds} codex exec runs, accepted ${fmt.count(status.signals.traces.accepted)} spans and exported ${fmt.count(exported)} once its collector answered again, dropped ${JSON.stringify(status.signals.traces.dropped)}/${JSON.stringify(status.signals.logs.dropped)}`,
    );
    check(
      pointsTaken > 0 && status.signals.metrics.accepted === pointsTaken && pointsExported === pointsTaken && status.signals.metrics.droppedTotal === 0,
      `row 10: codexd took ${fmt.count(pointsTaken)} metric points from the same runs, accepted ${fmt.count(status.signals.metrics.accepted)} and exported ${fmt.count(pointsExported)}, dropped ${JSON.stringify(status.signals.metrics.dropped)}`,
    );
    const mib = (variant: Variant): string => (peakKiB[variant].length === 0 ? 'RSS n/a' : `RSS ${(median(peakKiB[variant]) / 1024).toFixed(1)} MiB`);
    const off = median(ms.off);
    const straight = median(ms.straight);
    const through = median(ms.codexd);
    // Round by round (the two ran within a second of each other): drift of the machine cancels.
    const paired = median(ms.codexd.map((value, round) => value - (ms.straight[round] as number)));
    const pairedHttp = median(ms.codexdHttp.map((value, round) => value - (ms.straight[round] as number)));
    rows.push(
      { id: '10', what: `codex exec ${CODEX_VERSION} (mock model): through codexd (traces, logs, metrics)`, measured: `${fmt.ms(through)}, ${mib('codexd')}`, baseline: `straight to a local collector: ${fmt.ms(straight)}, ${mib('straight')}; telemetry off: ${fmt.ms(off)}, ${mib('off')}`, comparison: `${fmt.signedMs(paired)} vs straight (median of the rounds' differences); ${fmt.signedMs(through - off)} vs off`, target: '≤ straight', met: paired <= 0 },
      { id: '10b', what: 'same, the collector hanging: through codexd', measured: `${fmt.ms(median(ms.codexdHang))}, ${mib('codexdHang')}`, baseline: `straight to the hanging collector: ${fmt.ms(median(ms.straightHang))}, ${mib('straightHang')}`, comparison: `${fmt.signedMs(median(ms.codexdHang) - median(ms.straightHang))}; ${fmt.signedMs(median(ms.codexdHang) - off)} vs off`, target: 'no exit hold, none lost', met: median(ms.codexdHang) <= straight * 1.5 && exported === taken && pointsExported === pointsTaken },
      { id: '10c', what: 'same as 10, Codex\'s OTLP/HTTP exporters to codexd\'s OTLP/HTTP receiver', measured: `${fmt.ms(median(ms.codexdHttp))}, ${mib('codexdHttp')}`, baseline: `straight (OTLP/gRPC) to a local collector: ${fmt.ms(straight)}`, comparison: `${fmt.signedMs(pairedHttp)} vs straight (median of the rounds' differences); ${fmt.signedMs(pairedHttp - paired)} vs through codexd over OTLP/gRPC`, target: '—', met: null },
    );
    return { paired, pairedHttp, version: CODEX_VERSION, rounds: config.rounds, hangRounds: config.hangRounds, ms, peakKiB, spansTaken: taken, spansExported: exported, pointsTaken, pointsExported };
  } finally {
    await daemon.stop();
    await receiver.close();
    await mock.close();
  }
}

/** Section 10 of docs/benchmarks.md. */
export function codexDoc(details: CodexDetails): string[] {
  const { ms } = details;
  const describe = (values: number[]): string => `${fmt.ms(median(values))} (spread ${spread(values, 1)} ms)`;
  return [
    '### 10. The real Codex CLI, unmodified: through codexd vs straight to a collector',
    '',
    `\`codex exec --skip-git-repo-check "say hi"\` of \`@openai/codex\` ${details.version} (the npm package and its platform binary, a dev dependency), each run in a home and CODEX_HOME of its own, against a mock Responses API in the benchmark process (test/support/mock-responses.ts: one assistant message, token usage), timed from \`spawn()\` to exit. ` +
      'Variants, each a config.toml of its own: telemetry off (no `[otel]` table); Codex\'s own OTLP/gRPC exporters for logs, traces and metrics straight to a local collector (the real OTLP/gRPC receiver of the tests, in the benchmark process); the same exporters to codexd\'s OTLP/gRPC receiver (`[codexd.otlp_receiver] grpc`, with the token header), as `codexd setup codex` writes them, codexd exporting over OTLP/gRPC to that collector; and, for context (row 10c), Codex\'s OTLP/HTTP exporters for all three to codexd\'s OTLP/HTTP receiver. ' +
      `After one warm-up round, ${details.rounds} rounds of the four, the order rotated every round; then ${details.hangRounds} rounds of the two exporting variants with the collector hanging (it takes every call and never answers). ` +
      `Medians: off ${describe(ms.off)}, straight ${describe(ms.straight)}, through codexd ${describe(ms.codexd)}, through codexd over OTLP/HTTP ${describe(ms.codexdHttp)}; the median of each round's difference, through codexd minus straight, ${fmt.signedMs(details.paired)} (over OTLP/HTTP ${fmt.signedMs(details.pairedHttp)}: Codex's HTTP exporters hold its exit longer than its gRPC ones, which is why \`setup codex\` points them at the gRPC receiver); collector hanging: straight ${describe(ms.straightHang)}, through codexd ${describe(ms.codexdHang)}. ` +
      `Peak resident set of Codex itself (the native binary the npm package's \`codex\` script replaces itself with; VmHWM from /proc, read every 5 ms while it runs), medians: ${(['off', 'straight', 'codexd', 'codexdHttp', 'straightHang', 'codexdHang'] as const).map((variant) => `${variant} ${details.peakKiB[variant].length === 0 ? 'n/a' : `${(median(details.peakKiB[variant]) / 1024).toFixed(1)} MiB`}`).join(', ')}. ` +
      `codexd took ${fmt.count(details.spansTaken)} spans and ${fmt.count(details.pointsTaken)} metric points over all the runs and exported ${fmt.count(details.spansExported)} spans and ${fmt.count(details.pointsExported)} points once its collector answered again (see Checks).`,
  ];
}
