/**
 * Rows 2a–2d and 5 of `npm run bench`: short CLIs' wall time from spawn() to exit, all measured in
 * the same interleaved rounds against `node -e 0`, so every command shares one baseline.
 *
 *   2a  a CLI recording 1,000 metrics through the thin client, then close() (vs `node -e 0`)
 *   2b  the same CLI vs the in-process SDK exporting over OTLP/gRPC to a local receiver
 *   2c  that SDK CLI vs `node -e 0`
 *   2d  the floor of any socket client: load node:net, connect, write one frame
 *   5   the fixed cost of connecting: a CLI recording one counter (vs `node -e 0`)
 *   5b  what importing the client costs before any call: resolving `codexd/client`, compiling the bundle
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ClientStats } from '../../dist/client/index.js';
import { check, log, rows } from '../lib/checks.ts';
import { type BenchEnv, FIXTURES, ROOT, type RunningDaemon } from '../lib/daemon.ts';
import { lastJsonLine, runTimed } from '../lib/processes.ts';
import { loadReceiverModule, type OtlpReceiver } from '../lib/receiver.ts';
import { fmt, median, spread } from '../lib/report.ts';

export function cliConfig(quick: boolean) {
  return {
    /** Timed runs of each command (interleaved), untimed warm-up runs of each. */
    cliRuns: quick ? 5 : 20,
    cliWarmup: 2,
  };
}

type CliConfig = ReturnType<typeof cliConfig>;

/** Target of row 2a: the thin client's CLI takes at most this much longer than `node -e 0`. */
const TARGET_OVER_NODE_MS = 10;

/** Which of the rows measured together to run: 2a–2d, 5, or both. */
export interface CliRows {
  readonly shortCli: boolean;
  readonly oneCounter: boolean;
}

type CliName = 'node' | 'client' | 'sdk' | 'floor' | 'one' | 'import';

interface CliResult {
  /** Records one client CLI run sends for its 1,000 calls (after the client sums counters). */
  readonly sentPerRun: number;
  readonly nodeMs: number[];
  readonly clientMs: number[];
  readonly sdkMs: number[];
  /** Row 2d: load node:net, connect, write one frame. */
  readonly floorMs: number[];
  /** Row 5: import the client, record one counter, close(). */
  readonly oneMs: number[];
  /** Row 5b: import the client, nothing else. */
  readonly importMs: number[];
}

/**
 * Rows 2 and 5: short CLIs against the running daemon, all interleaved with `node -e 0` in one
 * loop, so every command shares one baseline and the same drift of the machine.
 */
async function measureClis(config: CliConfig, which: CliRows, bench: BenchEnv, daemon: RunningDaemon, receiver: OtlpReceiver | null): Promise<CliResult> {
  const env = { ...bench.env, ...(receiver === null ? {} : { BENCH_OTLP_ENDPOINT: receiver.endpoint }) };
  const commands: Record<CliName, string[]> = {
    node: ['-e', '0'],
    client: [join(FIXTURES, 'cli-client.mjs')],
    sdk: [join(FIXTURES, 'cli-sdk.mjs')],
    floor: [join(FIXTURES, 'socket-floor.mjs')],
    one: [join(FIXTURES, 'cli-one.mjs')],
    import: [join(FIXTURES, 'cli-import.mjs')],
  };
  const names: CliName[] = ['node'];
  if (which.shortCli) names.push('client', 'sdk', 'floor');
  if (which.oneCounter) names.push('one', 'import');

  // One untimed run of each client CLI with BENCH_VERIFY=1: how many records one run sends.
  const before = await daemon.status();
  const sdkRequestsBefore = receiver?.metricsRequests.length ?? 0;
  const sdkSumBefore = receiver?.sumOf('codex.tool.call') ?? 0;
  const runs: Record<CliName, number> = { node: 0, client: 0, sdk: 0, floor: 0, one: 0, import: 0 };
  const sentPer: Record<CliName, number> = { node: 0, client: 0, sdk: 0, floor: 0, one: 0, import: 0 };
  for (const name of ['client', 'one'] as const) {
    if (!names.includes(name)) continue;
    const verified = lastJsonLine<ClientStats>((await runTimed(commands[name], { env: { ...env, BENCH_VERIFY: '1' }, cwd: ROOT })).stdout);
    runs[name]++;
    sentPer[name] = verified.sent;
    const row = name === 'client' ? 'row 2' : 'row 5';
    const calls = name === 'client' ? 'its 1,000 calls (counters summed per tag set)' : 'its one counter';
    check(
      Object.keys(verified.dropped).length === 0 && verified.handedOff === 0 && (name === 'client' || verified.sent === 1),
      `${row}: a ${name === 'client' ? 'client CLI' : 'one-counter CLI'} run dropped nothing and handed nothing over; it sent ${verified.sent} record${verified.sent === 1 ? '' : 's'} for ${calls}`,
    );
  }

  const times: Record<CliName, number[]> = { node: [], client: [], sdk: [], floor: [], one: [], import: [] };
  for (let run = 0; run < config.cliWarmup + config.cliRuns; run++) {
    // Rotate the order every run (node/client/sdk/..., client/sdk/.../node, ...) so drift and
    // "runs right after X" effects fall on every command alike.
    for (let k = 0; k < names.length; k++) {
      const name = names[(run + k) % names.length] as CliName;
      const result = await runTimed(commands[name], { env, cwd: ROOT });
      runs[name]++;
      if (run >= config.cliWarmup) times[name].push(result.wallMs);
    }
  }

  // Delivery: the daemon got every client CLI's records; the receiver got every SDK CLI's export.
  const expected = runs.client * sentPer.client + runs.one * sentPer.one;
  let received = 0;
  for (let attempt = 0; attempt < 50; attempt++) {
    received = (await daemon.metrics()).received - before.signals.metrics.received;
    if (received >= expected) break;
    await sleep(20);
  }
  const parts = [
    ...(runs.client > 0 ? [`${runs.client} client CLI runs (${sentPer.client} each)`] : []),
    ...(runs.one > 0 ? [`${runs.one} one-counter CLI runs (${sentPer.one} each)`] : []),
  ];
  check(received === expected, `row${names.includes('client') && names.includes('one') ? 's 2 and 5' : names.includes('one') ? ' 5' : ' 2'}: the daemon received ${received} of ${expected} records from ${parts.join(' and ')}`);
  if (receiver !== null) {
    const sdkRequests = receiver.metricsRequests.length - sdkRequestsBefore;
    const sdkSum = receiver.sumOf('codex.tool.call') - sdkSumBefore;
    check(
      sdkRequests === runs.sdk && sdkSum === runs.sdk * 500,
      `row 2: the OTLP receiver got ${sdkRequests} export requests from ${runs.sdk} SDK CLI runs, codex.tool.call summing to ${sdkSum} (expected ${runs.sdk * 500})`,
    );
  }
  if (runs.floor > 0) {
    const after = await daemon.status();
    const errorsBefore = Object.values(before.protocolErrors).reduce((a, b) => a + b, 0);
    const errorsAfter = Object.values(after.protocolErrors).reduce((a, b) => a + b, 0);
    check(
      errorsAfter === errorsBefore,
      `row 2d: ${runs.floor} floor runs each connected and wrote one initialize frame, exiting 0; the daemon counted no protocol error (${JSON.stringify(after.protocolErrors)})`,
    );
  }
  return { sentPerRun: sentPer.client, nodeMs: times.node, clientMs: times.client, sdkMs: times.sdk, floorMs: times.floor, oneMs: times.one, importMs: times.import };
}


export interface CliDetails {
  readonly config: CliConfig;
  readonly cli: CliResult;
}

/** Rows 2a–2d and 5 against the running daemon of run.ts; row 2 with an OTLP receiver of its own for the SDK CLI. */
export async function rowCli(quick: boolean, which: CliRows, bench: BenchEnv, daemon: RunningDaemon): Promise<CliDetails> {
  const config = cliConfig(quick);
  const rowNames = [...(which.shortCli ? ['2'] : []), ...(which.oneCounter ? ['5'] : [])].join(' and ');
  log(`row ${rowNames}: short CLI wall time${which.shortCli ? ' (loading the OTLP receiver)' : ''}`);
  const receiver = which.shortCli ? await (await loadReceiverModule()).module.startOtlpReceiver() : null;
  let cli: CliResult;
  try {
    cli = await measureClis(config, which, bench, daemon, receiver);
  } finally {
    await receiver?.close();
  }
  const nodeMs = median(cli.nodeMs);
  /** A row of a command against `node -e 0` of the same rounds. */
  const overNode = (id: string, what: string, ms: number, target = '—', met: boolean | null = null): void => {
    rows.push({ id, what, measured: fmt.ms(ms), baseline: `node -e 0: ${fmt.ms(nodeMs)}`, comparison: fmt.signedMs(ms - nodeMs), target, met });
  };
  if (which.shortCli) {
    const clientMs = median(cli.clientMs);
    const sdkMs = median(cli.sdkMs);
    overNode('2a', 'CLI, 1,000 metrics + close(): thin client', clientMs, `≤ +${TARGET_OVER_NODE_MS} ms`, clientMs - nodeMs <= TARGET_OVER_NODE_MS);
    rows.push({
      id: '2b',
      what: 'same CLI: thin client',
      measured: fmt.ms(clientMs),
      baseline: `SDK + OTLP/gRPC + shutdown(): ${fmt.ms(sdkMs)}`,
      comparison: `${fmt.signedMs(clientMs - sdkMs)} (${fmt.ratio(clientMs / sdkMs)})`,
      target: '—',
      met: null,
    });
    overNode('2c', 'same CLI: in-process SDK + OTLP/gRPC + shutdown()', sdkMs, 'issue saw ≈ +200 ms');
    overNode('2d', 'floor: node:net, connect, write 1 frame', median(cli.floorMs));
  }
  if (which.oneCounter) {
    overNode('5', 'CLI, 1 counter + close(): thin client', median(cli.oneMs));
    overNode('5b', 'import of the client alone (`codexd/client`), no call', median(cli.importMs));
  }
  return { config, cli };
}

/** Section 2 of docs/benchmarks.md: how rows 2a–2d were measured, with their spreads. */
export function cliDoc(details: CliDetails): string[] {
  const { config, cli } = details;
  return [
    '### 2. Short CLI wall time',
    '',
    'Row 2 compares three commands, each spawned from bench/run.ts with the same Node binary (`process.execPath`) and timed from just before `spawn()` to the ' +
      "child's exit: `node -e 0`; bench/fixtures/cli-client.mjs, which imports `createClient` from `codexd/client` (run with the repository as its working directory, " +
      "that resolves through the package's own `exports` to dist/client/codexd-client.js: one ES module that `npm run build` bundles from client/ and protocol/ with rolldown, minified, " +
      'with no `import` statements left: it reaches the Node built-ins it needs through `process.getBuiltinModule()` where it uses them), makes 1,000 calls ' +
      `(500 \`codex.tool.call\` counter increments over four tag sets, 500 \`codex.tool.duration_ms\` histogram values; the client sums the counters and sends ${cli.sentPerRun} records) and awaits \`close()\` against the running daemon; ` +
      'bench/fixtures/cli-sdk.mjs, which makes the same calls through its own `MeterProvider` + `PeriodicExportingMetricReader` + OTLP/gRPC `OTLPMetricExporter` ' +
      `pointed at a local OTLP receiver (test/support/otlp-receiver.ts, running in the benchmark process) and awaits \`provider.shutdown()\`. ` +
      `${config.cliWarmup} untimed warm-up rounds, then ${cli.nodeMs.length} timed rounds; each round runs these three and the two commands of rows 2d and 5 one after another, the order rotated every round. ` +
      `Figures are medians (spread: node -e 0 ${spread(cli.nodeMs, 1)} ms, client CLI ${spread(cli.clientMs, 1)} ms, SDK CLI ${spread(cli.sdkMs, 1)} ms). ` +
      `For a floor, row 2d times bench/fixtures/socket-floor.mjs in the same rounds: it only loads node:net (through \`process.getBuiltinModule()\`), connects to the daemon's socket, writes one frame (the client's \`initialize\` request, framed by hand) and exits once the write is done, which is what any socket client pays over \`node -e 0\`: ` +
      `${fmt.signedMs(median(cli.floorMs) - median(cli.nodeMs))} (median ${fmt.ms(median(cli.floorMs))}, spread ${spread(cli.floorMs, 1)} ms), against ${fmt.signedMs(median(cli.clientMs) - median(cli.nodeMs))} for the client CLI. ` +
      'Delivery is checked: the daemon must have counted every client run\'s records and the receiver every SDK run\'s export (see Checks).',
  ];
}

/** Section 5 of docs/benchmarks.md: how row 5 was measured (in row 2's rounds). */
export function oneCounterDoc(details: CliDetails): string[] {
  const { cli } = details;
  return [
    '### 5. Connecting: one counter',
    '',
    'bench/fixtures/cli-one.mjs imports `createClient` from `codexd/client` like the CLI of row 2, records one `codex.tool.call` counter increment and awaits `close()` against the running daemon: ' +
      'the fixed cost of loading the client, connecting, `initialize` and one write. It runs in the same rounds as row 2 (same daemon, order rotated), so its `node -e 0` baseline is the one of rows 2a and 2c ' +
      `(median of ${cli.oneMs.length}; spread ${spread(cli.oneMs, 1)} ms). The daemon's count of received records includes each run's one record (see Checks). ` +
      'Row 5b runs bench/fixtures/cli-import.mjs in the same rounds: it only imports `codexd/client` and exits, so it is what resolving the package\'s `exports` and compiling and evaluating the bundle cost a host before its first call ' +
      `(median ${fmt.ms(median(cli.importMs))}, spread ${spread(cli.importMs, 1)} ms).` +
      (cli.floorMs.length === 0
        ? ''
        : ` Taken with row 2d's floor (node:net, connecting, one write), it leaves of row 5's cost over \`node -e 0\` what is the client's own (its set-up, waiting for the answer to \`initialize\`, its write and its close): ` +
          `${fmt.signedMs(median(cli.oneMs) - median(cli.importMs) - median(cli.floorMs) + median(cli.nodeMs))}, adding up this run's medians.`),
  ];
}
