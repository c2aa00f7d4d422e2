/**
 * Rows 2a–2e and 5–5c of `npm run bench`: short CLIs' wall time from spawn() to exit, all measured in
 * the same interleaved rounds against `node -e 0`, so every command shares one baseline.
 *
 *   2a  a CLI recording 1,000 metrics through the thin client, then close() (vs `node -e 0`):
 *       with the daemon up, a hand-off file and no connection
 *   2b  the same CLI vs the in-process SDK exporting over OTLP/gRPC to a local receiver
 *   2c  that SDK CLI vs `node -e 0`
 *   2d  the floor of any socket client: load node:net, connect, write one frame
 *   2e  the CLI of 2a awaiting flush() before close(): the same records over the socket
 *   5   a short CLI's fixed cost: one counter, then close() (vs `node -e 0`)
 *   5b  what importing the client costs before any call: resolving `codexd/client`, compiling the bundle
 *   5c  the CLI of 5 awaiting flush() before close(): connecting, `initialize` and one write
 *   5d  the floor under 5b: an empty module imported through its package's `exports`, which is
 *       what Node's resolution of a package subpath costs any host's first package import
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
const TARGET_OVER_NODE_MS = 8;
/** Target of row 5: the one-counter CLI takes at most this much longer than `node -e 0`. */
const TARGET_ONE_OVER_NODE_MS = 6;

/** Which of the rows measured together to run: 2a–2e, 5–5d, or both. */
export interface CliRows {
  readonly shortCli: boolean;
  readonly oneCounter: boolean;
}

type CliName = 'node' | 'client' | 'sdk' | 'floor' | 'clientSocket' | 'one' | 'import' | 'oneSocket' | 'exportsFloor';

interface CliResult {
  /** Records one client CLI run sends for its 1,000 calls (after the client sums counters). */
  readonly sentPerRun: number;
  readonly nodeMs: number[];
  readonly clientMs: number[];
  readonly sdkMs: number[];
  /** Row 2d: load node:net, connect, write one frame. */
  readonly floorMs: number[];
  /** Row 2e: row 2a's CLI, flush() before close(). */
  readonly clientSocketMs: number[];
  /** Row 5: import the client, record one counter, close(). */
  readonly oneMs: number[];
  /** Row 5b: import the client, nothing else. */
  readonly importMs: number[];
  /** Row 5c: row 5's CLI, flush() before close(). */
  readonly oneSocketMs: number[];
  /** Row 5d: an empty module through a package's `exports`. */
  readonly exportsFloorMs: number[];
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
    clientSocket: [join(FIXTURES, 'cli-client.mjs'), 'socket'],
    one: [join(FIXTURES, 'cli-one.mjs')],
    import: [join(FIXTURES, 'cli-import.mjs')],
    oneSocket: [join(FIXTURES, 'cli-one.mjs'), 'socket'],
    exportsFloor: [join(FIXTURES, 'exports-floor', 'import.mjs')],
  };
  const names: CliName[] = ['node'];
  if (which.shortCli) names.push('client', 'sdk', 'floor', 'clientSocket');
  if (which.oneCounter) names.push('one', 'import', 'oneSocket', 'exportsFloor');

  // One untimed run of each client CLI with BENCH_VERIFY=1: how many records one run sends.
  const before = await daemon.status();
  const sdkRequestsBefore = receiver?.metricsRequests.length ?? 0;
  const sdkSumBefore = receiver?.sumOf('codex.tool.call') ?? 0;
  const none = (): Record<CliName, number> => ({ node: 0, client: 0, sdk: 0, floor: 0, clientSocket: 0, one: 0, import: 0, oneSocket: 0, exportsFloor: 0 });
  const runs = none();
  /** Records one run delivers: sent over the socket, or handed over as a file. */
  const deliveredPer = none();
  const verify = { client: ['row 2a', 'client CLI'], clientSocket: ['row 2e', 'client CLI with flush()'], one: ['row 5', 'one-counter CLI'], oneSocket: ['row 5c', 'one-counter CLI with flush()'] } as const;
  for (const name of ['client', 'clientSocket', 'one', 'oneSocket'] as const) {
    if (!names.includes(name)) continue;
    const verified = lastJsonLine<ClientStats>((await runTimed(commands[name], { env: { ...env, BENCH_VERIFY: '1' }, cwd: ROOT })).stdout);
    runs[name]++;
    const delivered = verified.sent + verified.handedOff;
    deliveredPer[name] = delivered;
    const [row, who] = verify[name];
    const calls = name === 'client' || name === 'clientSocket' ? 'its 1,000 calls (counters summed per tag set)' : 'its one counter';
    // close() right away hands everything over as a file; flush() first writes it to the socket.
    const socket = name === 'clientSocket' || name === 'oneSocket';
    const route = socket ? verified.sent > 0 && verified.handedOff === 0 : verified.handedOff > 0 && verified.sent === 0;
    check(
      Object.keys(verified.dropped).length === 0 && route && delivered > 0 && (name === 'client' || name === 'clientSocket' || delivered === 1),
      `${row}: a ${who} run dropped nothing and delivered ${delivered} record${delivered === 1 ? '' : 's'} for ${calls}, ${socket ? `all over the socket (sent ${verified.sent}, handed over ${verified.handedOff})` : `all in a hand-off file (handed over ${verified.handedOff}, sent ${verified.sent})`}`,
    );
  }

  const times: Record<CliName, number[]> = { node: [], client: [], sdk: [], floor: [], clientSocket: [], one: [], import: [], oneSocket: [], exportsFloor: [] };
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
  const expected = (Object.keys(deliveredPer) as CliName[]).reduce((sum, name) => sum + runs[name] * deliveredPer[name], 0);
  let received = 0;
  for (let attempt = 0; attempt < 50; attempt++) {
    received = (await daemon.metrics()).received - before.signals.metrics.received;
    if (received >= expected) break;
    await sleep(20);
  }
  const parts = (['client', 'clientSocket', 'one', 'oneSocket'] as const).filter((name) => runs[name] > 0).map((name) => `${runs[name]} ${verify[name][1]} runs (${deliveredPer[name]} each)`);
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
  return {
    sentPerRun: deliveredPer.client,
    nodeMs: times.node,
    clientMs: times.client,
    sdkMs: times.sdk,
    floorMs: times.floor,
    clientSocketMs: times.clientSocket,
    oneMs: times.one,
    importMs: times.import,
    oneSocketMs: times.oneSocket,
    exportsFloorMs: times.exportsFloor,
  };
}


export interface CliDetails {
  readonly config: CliConfig;
  readonly cli: CliResult;
}

/** Rows 2a–2e and 5–5c against the running daemon of run.ts; row 2 with an OTLP receiver of its own for the SDK CLI. */
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
    overNode('2e', 'same CLI, flush() before close(): over the socket', median(cli.clientSocketMs));
  }
  if (which.oneCounter) {
    const oneMs = median(cli.oneMs);
    overNode('5', 'CLI, 1 counter + close(): thin client', oneMs, `≤ +${TARGET_ONE_OVER_NODE_MS} ms`, oneMs - nodeMs <= TARGET_ONE_OVER_NODE_MS);
    overNode('5b', 'import of the client alone (`codexd/client`), no call', median(cli.importMs));
    overNode('5c', 'same CLI, flush() before close(): over the socket', median(cli.oneSocketMs));
    overNode('5d', "floor: an empty module through a package's `exports`", median(cli.exportsFloorMs));
  }
  return { config, cli };
}

/** Section 2 of docs/benchmarks.md: how rows 2a–2e were measured, with their spreads. */
export function cliDoc(details: CliDetails): string[] {
  const { config, cli } = details;
  return [
    '### 2. Short CLI wall time',
    '',
    'Row 2 compares three commands, each spawned from bench/run.ts with the same Node binary (`process.execPath`) and timed from just before `spawn()` to the ' +
      "child's exit: `node -e 0`; bench/fixtures/cli-client.mjs, which imports `createClient` from `codexd/client` (run with the repository as its working directory, " +
      "that resolves through the package's own `exports` to dist/client/codexd-client.js: one ES module that `npm run build` bundles from client/ and protocol/ with rolldown, minified, " +
      'with no `import` statements left: it reaches the Node built-ins it needs through `process.getBuiltinModule()` where it uses them), makes 1,000 calls ' +
      `(500 \`codex.tool.call\` counter increments over four tag sets, 500 \`codex.tool.duration_ms\` histogram values; the client sums the counters into ${cli.sentPerRun} records) and awaits \`close()\`; ` +
      'bench/fixtures/cli-sdk.mjs, which makes the same calls through its own `MeterProvider` + `PeriodicExportingMetricReader` + OTLP/gRPC `OTLPMetricExporter` ' +
      `pointed at a local OTLP receiver (test/support/otlp-receiver.ts, running in the benchmark process) and awaits \`provider.shutdown()\`. ` +
      'The client CLI calls `close()` in the turn it made the client, before the client made its first connection, with the daemon running: the client writes its records as one hand-off file ' +
      "in the socket's folder, which the daemon takes within milliseconds (its folder watch), and exits without loading node:net, connecting or waiting for an answer. " +
      'Row 2e runs the same CLI awaiting `flush()` before `close()`, which connects and writes the records to the socket behind `initialize`: what a CLI that records over a longer run pays for its connection. ' +
      `${config.cliWarmup} untimed warm-up rounds, then ${cli.nodeMs.length} timed rounds; each round runs these commands and those of rows 2d, 2e, 5, 5b, 5c and 5d one after another, the order rotated every round. ` +
      `Figures are medians (spread: node -e 0 ${spread(cli.nodeMs, 1)} ms, client CLI ${spread(cli.clientMs, 1)} ms, with flush() ${spread(cli.clientSocketMs, 1)} ms, SDK CLI ${spread(cli.sdkMs, 1)} ms). ` +
      `For a floor, row 2d times bench/fixtures/socket-floor.mjs in the same rounds: it only loads node:net (through \`process.getBuiltinModule()\`), connects to the daemon's socket, writes one frame (the client's \`initialize\` request, framed by hand) and exits once the write is done, which is what any socket client pays over \`node -e 0\`: ` +
      `${fmt.signedMs(median(cli.floorMs) - median(cli.nodeMs))} (median ${fmt.ms(median(cli.floorMs))}, spread ${spread(cli.floorMs, 1)} ms), against ${fmt.signedMs(median(cli.clientMs) - median(cli.nodeMs))} for the client CLI ` +
      `and ${fmt.signedMs(median(cli.clientSocketMs) - median(cli.nodeMs))} for it over the socket. ` +
      "Delivery is checked: the daemon must have counted every client run's records, whichever way they came, and the receiver every SDK run's export; one verified run of each client CLI must have delivered all of its records the way its row says (see Checks).",
  ];
}

/** Section 5 of docs/benchmarks.md: how rows 5–5d were measured (in row 2's rounds). */
export function oneCounterDoc(details: CliDetails): string[] {
  const { cli } = details;
  return [
    "### 5. A short CLI's fixed cost: one counter",
    '',
    'bench/fixtures/cli-one.mjs imports `createClient` from `codexd/client` like the CLI of row 2, records one `codex.tool.call` counter increment and awaits `close()` with the daemon running: ' +
      'the fixed cost of loading the client and handing one record over as a file. It runs in the same rounds as row 2 (same daemon, order rotated), so its `node -e 0` baseline is the one of rows 2a and 2c ' +
      `(median of ${cli.oneMs.length}; spread ${spread(cli.oneMs, 1)} ms). The daemon's count of received records includes each run's one record (see Checks). ` +
      'Row 5b runs bench/fixtures/cli-import.mjs in the same rounds: it only imports `codexd/client` and exits, so it is what resolving the package\'s `exports` and compiling and evaluating the bundle cost a host before its first call ' +
      `(median ${fmt.ms(median(cli.importMs))}, spread ${spread(cli.importMs, 1)} ms). ` +
      'Row 5c runs the same one-counter CLI awaiting `flush()` before `close()`: loading node:net, connecting, `initialize`, one write and waiting for the answer ' +
      `(median ${fmt.ms(median(cli.oneSocketMs))}, spread ${spread(cli.oneSocketMs, 1)} ms). ` +
      "Row 5d is row 5b's floor: bench/fixtures/exports-floor/import.mjs imports an empty module through its own package's `exports` (`exports-floor/empty`), as a host imports `codexd/client`. " +
      "Node's resolution of a package subpath (reading package.json, matching `exports`, checking the target's path segments) and loading a second module cost that much in any process whose first package import it is, whatever the package (most of it is V8 compiling, at its first use, the case-insensitive regular expression Node checks an `exports` target's path segments with); " +
      `of row 5b's ${fmt.signedMs(median(cli.importMs) - median(cli.nodeMs))} over \`node -e 0\`, the floor is ${fmt.signedMs(median(cli.exportsFloorMs) - median(cli.nodeMs))} ` +
      `(median ${fmt.ms(median(cli.exportsFloorMs))}, spread ${spread(cli.exportsFloorMs, 1)} ms), and compiling and evaluating the client's bundle the rest.` +
      (cli.floorMs.length === 0
        ? ''
        : ` Taken with row 2d's floor (node:net, connecting, one write), it leaves of row 5c's cost over \`node -e 0\` what is the client's own on the socket (its set-up, waiting for the answer to \`initialize\`, its write and its close): ` +
          `${fmt.signedMs(median(cli.oneSocketMs) - median(cli.importMs) - median(cli.floorMs) + median(cli.nodeMs))}, adding up this run's medians.`),
  ];
}
