/**
 * Row 4 of `npm run bench`: the short CLI of row 2 on first use, with no daemon running: its
 * client starts one (auto-spawn) and hands its records over as a file; against the same CLI with
 * that daemon up. Every round starts from nothing and ends with nothing running, checked.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ClientStats } from '../../dist/client/index.js';
import { type ControlConnection, openControlConnection } from '../../dist/cli/control-client.js';
import type { DaemonStatus } from '../../dist/protocol/index.js';
import { check, log, rows } from '../lib/checks.ts';
import { createBenchEnv, FIXTURES, ROOT } from '../lib/daemon.ts';
import { lastJsonLine, runTimed } from '../lib/processes.ts';
import { fmt, median, spread } from '../lib/report.ts';
import { findSpawnedDaemons, stopSpawnedDaemon, trackSpawnedPid, watchSocketFolder } from '../lib/spawned.ts';

export function firstUseConfig(quick: boolean) {
  return {
    /** Timed first-use rounds, untimed (but checked) warm-up rounds before them. */
    spawnRuns: quick ? 5 : 20,
    spawnWarmup: 2,
    /** How long a spawned daemon may take to answer and to count the round's records. */
    spawnUpTimeoutMs: 15_000,
    spawnCountTimeoutMs: 5000,
    /** `[codexd] idle_timeout_ms` for row 4's daemons: should the benchmark be killed, they end themselves. */
    spawnIdleTimeoutMs: 60_000,
  };
}

type FirstUseConfig = ReturnType<typeof firstUseConfig>;

interface FirstUseResult {
  /** Records one CLI run gives the daemon (sent or handed over). */
  readonly recordsPerRun: number;
  readonly rounds: number;
  /** Timed: the CLI with no daemon (it spawns one and hands its records over), and the same CLI with that daemon up. */
  readonly firstMs: number[];
  readonly warmMs: number[];
  /** Every round: from the first-use CLI's spawn() to the daemon it started having counted its records. */
  readonly deliveredMs: number[];
  /** Every round: SIGTERM to the spawned daemon's exit. */
  readonly stopMs: number[];
  /** Every round: the spawned daemon's uptime once it had counted the warm runs. */
  readonly warmUptimeMs: number[];
}

/** Connects to a daemon that is starting: retries until it answers or `timeoutMs` passes. */
async function waitForDaemon(socketPath: string, timeoutMs: number): Promise<ControlConnection> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await openControlConnection(socketPath, 1000);
    } catch (error) {
      if (performance.now() > deadline) throw new Error(`no daemon answered on ${socketPath} within ${timeoutMs} ms: ${(error as Error).message}`);
      await sleep(5);
    }
  }
}

/** Polls `daemon/status` until `received` reaches `atLeast` (or `timeoutMs` passes). */
async function statusWhenCounted(control: ControlConnection, atLeast: number, timeoutMs: number): Promise<DaemonStatus.Result> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const status = await control.request<DaemonStatus.Result>('daemon/status', {}, 10_000);
    if (status.signals.metrics.received >= atLeast || performance.now() > deadline) return status;
    await sleep(5);
  }
}

function handoffFiles(socketDir: string): string[] {
  try {
    return readdirSync(join(socketDir, 'handoff'));
  } catch {
    return [];
  }
}

/**
 * Row 4. Its own temp folder and socket, spawning on (no CODEXD_NO_SPAWN), nothing running there
 * to begin with. Each round: check that nothing runs on the socket; run the CLI (timed: first
 * use); wait for the daemon it started and for that daemon to count the CLI's records; run the
 * same CLI twice against it (untimed, then timed: warm); check those records too; stop the
 * daemon (SIGTERM, SIGKILL after 8 s) and remove whatever it left in the socket folder.
 */
async function measureFirstUse(config: FirstUseConfig): Promise<FirstUseResult> {
  const bench = createBenchEnv({ idleTimeoutMs: config.spawnIdleTimeoutMs });
  const socketDir = dirname(bench.socketPath);
  watchSocketFolder(socketDir);
  const env: NodeJS.ProcessEnv = { ...bench.env, BENCH_VERIFY: '1' };
  delete env.CODEXD_NO_SPAWN;
  const command = [join(FIXTURES, 'cli-client.mjs')];
  const rounds = config.spawnWarmup + config.spawnRuns;
  const firstMs: number[] = [];
  const warmMs: number[] = [];
  const deliveredMs: number[] = [];
  const stopMs: number[] = [];
  const warmUptimeMs: number[] = [];
  const failures = { fromNothing: [] as string[], firstUse: [] as string[], warm: [] as string[], stop: [] as string[] };
  let recordsPerRun = -1;
  let handedOffTotal = 0;
  let ingestedTotal = 0;
  const daemonPids = new Set<number>();
  try {
    for (let round = 0; round < rounds; round++) {
      const label = `round ${round + 1}${round < config.spawnWarmup ? ' (warm-up)' : ''}`;
      // 1. Nothing runs: no socket file, no spawned daemon in the folder, no hand-off waiting.
      const leftDaemons = findSpawnedDaemons(socketDir);
      const waiting = handoffFiles(socketDir);
      if (existsSync(bench.socketPath) || leftDaemons.length > 0 || waiting.length > 0) {
        failures.fromNothing.push(`${label}: socket ${existsSync(bench.socketPath) ? 'present' : 'absent'}, spawned daemons [${leftDaemons.join(', ')}], hand-off files [${waiting.join(', ')}]`);
        throw new Error(`row 4 ${label} would not start from nothing`);
      }

      // 2. First use, timed: no daemon, the client spawns one and hands its records over.
      const startedAt = performance.now();
      const first = await runTimed(command, { env, cwd: ROOT });
      const firstStats = lastJsonLine<ClientStats>(first.stdout);

      // 3. The daemon that CLI started comes up and counts its records (from the hand-off file).
      const control = await waitForDaemon(bench.socketPath, config.spawnUpTimeoutMs);
      let pid: number;
      try {
        let status = await control.request<DaemonStatus.Result>('daemon/status', {}, 10_000);
        pid = status.pid;
        trackSpawnedPid(pid, socketDir);
        const firstRecords = firstStats.sent + firstStats.handedOff;
        if (recordsPerRun < 0) recordsPerRun = firstRecords;
        status = await statusWhenCounted(control, firstRecords, config.spawnCountTimeoutMs);
        deliveredMs.push(performance.now() - startedAt);
        const counted = status.signals.metrics;
        handedOffTotal += firstStats.handedOff;
        ingestedTotal += status.handoff.recordsIngested;
        if (
          status.startedBy !== 'auto-spawn' ||
          daemonPids.has(pid) ||
          firstRecords !== recordsPerRun ||
          firstStats.handedOff === 0 ||
          Object.keys(firstStats.dropped).length > 0 ||
          counted.received !== firstRecords ||
          status.handoff.recordsIngested !== firstStats.handedOff ||
          counted.rejectedTotal !== 0
        ) {
          failures.firstUse.push(
            `${label}: CLI sent ${firstStats.sent}, handed over ${firstStats.handedOff}, dropped ${JSON.stringify(firstStats.dropped)}; ` +
              `daemon pid ${pid} (${status.startedBy}) received ${counted.received}, handoff.recordsIngested ${status.handoff.recordsIngested}, rejected ${counted.rejectedTotal}`,
          );
        }
        daemonPids.add(pid);

        // 4. Warm: the same CLI with that daemon up; one untimed run first (the daemon just started).
        await runTimed(command, { env, cwd: ROOT });
        const warm = await runTimed(command, { env, cwd: ROOT });
        const warmStats = lastJsonLine<ClientStats>(warm.stdout);
        const after = await statusWhenCounted(control, firstRecords + 2 * recordsPerRun, config.spawnCountTimeoutMs);
        warmUptimeMs.push(after.uptimeMs);
        if (
          after.pid !== pid ||
          warmStats.sent !== 0 ||
          warmStats.handedOff !== recordsPerRun ||
          Object.keys(warmStats.dropped).length > 0 ||
          after.signals.metrics.received !== firstRecords + 2 * recordsPerRun ||
          after.handoff.recordsIngested !== status.handoff.recordsIngested + 2 * recordsPerRun
        ) {
          failures.warm.push(
            `${label}: warm CLI sent ${warmStats.sent}, handed over ${warmStats.handedOff}; daemon pid ${after.pid} received ${after.signals.metrics.received} (expected ${firstRecords + 2 * recordsPerRun}), handoff.recordsIngested ${after.handoff.recordsIngested}`,
          );
        }
        if (round >= config.spawnWarmup) {
          firstMs.push(first.wallMs);
          warmMs.push(warm.wallMs);
        }
      } finally {
        control.close();
      }

      // 5. Stop it: exactly that one daemon runs in the folder; SIGTERM, wait for its exit.
      const running = findSpawnedDaemons(socketDir);
      if (running.length !== 1 || running[0] !== pid) failures.stop.push(`${label}: spawned daemons in the folder [${running.join(', ')}], status said pid ${pid}`);
      for (const other of new Set([pid, ...running])) {
        const outcome = await stopSpawnedDaemon(other, bench.socketPath);
        stopMs.push(outcome.ms);
        if (outcome.how !== 'sigterm' || outcome.leftOver.length > 0) failures.stop.push(`${label}: pid ${other} ${outcome.how} after ${outcome.ms} ms, left ${JSON.stringify(outcome.leftOver)}`);
      }
    }
  } finally {
    // Whatever happened, nothing spawned stays up.
    for (const pid of findSpawnedDaemons(socketDir)) await stopSpawnedDaemon(pid, bench.socketPath, 2000);
  }
  const some = (list: string[]): string => (list.length === 0 ? '' : `; ${list.length} did not: ${list.slice(0, 3).join(' | ')}${list.length > 3 ? ' | …' : ''}`);
  check(
    failures.fromNothing.length === 0,
    `row 4: each of ${rounds} rounds (${config.spawnWarmup} warm-up) started from nothing: no socket file, no \`--spawned\` daemon with the socket folder as its cwd, no hand-off file waiting${some(failures.fromNothing)}`,
  );
  check(
    failures.firstUse.length === 0,
    `row 4: in each round the first-use CLI handed its ${recordsPerRun} records over as a file, dropped none and exited, and a new auto-spawned daemon counted them: ` +
      `received ${recordsPerRun}, handoff.recordsIngested ${recordsPerRun} (in all: ${handedOffTotal} handed over, ${ingestedTotal} ingested by ${daemonPids.size} daemons)${some(failures.firstUse)}`,
  );
  check(
    failures.warm.length === 0,
    `row 4: in each round the same daemon then counted 2 warm runs of the CLI, which handed ${recordsPerRun} records each over as a file to it, with no connection (received ${3 * recordsPerRun} per round)${some(failures.warm)}`,
  );
  check(
    failures.stop.length === 0 && stopMs.length === rounds,
    `row 4: after each round the one spawned daemon in the folder (the pid its daemon/status gave) exited on SIGTERM (${spread(stopMs, 0)} ms) and left no socket, lock or spawn marker behind${some(failures.stop)}`,
  );
  const leftAtEnd = findSpawnedDaemons(socketDir);
  check(leftAtEnd.length === 0 && !existsSync(bench.socketPath), `row 4: no spawned daemon left at the end (/proc scan of the socket folder: [${leftAtEnd.join(', ')}])`);
  return { recordsPerRun, rounds, firstMs, warmMs, deliveredMs, stopMs, warmUptimeMs };
}


export interface FirstUseDetails {
  readonly config: FirstUseConfig;
  readonly firstUse: FirstUseResult;
}

/** Row 4, with no daemon of run.ts's running: each round's daemon is started by a client. */
export async function rowFirstUse(quick: boolean): Promise<FirstUseDetails> {
  const config = firstUseConfig(quick);
  log('row 4: first use (no daemon, auto-spawn on) vs the same CLI with the daemon up');
  const firstUse = await measureFirstUse(config);
  const firstMs = median(firstUse.firstMs);
  const warmMs = median(firstUse.warmMs);
  rows.push({
    id: '4',
    what: 'same CLI, first use: no daemon, auto-spawn',
    measured: fmt.ms(firstMs),
    baseline: `same CLI, daemon up: ${fmt.ms(warmMs)}`,
    comparison: fmt.signedMs(firstMs - warmMs),
    target: '—',
    met: null,
  });
  return { config, firstUse };
}

/** Section 4 of docs/benchmarks.md: how row 4 was measured, with its spreads. */
export function firstUseDoc(details: FirstUseDetails): string[] {
  const { config, firstUse } = details;
  return [
    '### 4. First use: the client starts the daemon',
    '',
    `The same bench/fixtures/cli-client.mjs (1,000 calls, ${firstUse.recordsPerRun} records, \`close()\`), in a temp folder and socket of its own, with spawning on ` +
      '(CODEXD_NO_SPAWN removed from its environment, which the other rows set to 1) and `[codexd] idle_timeout_ms = ' +
      `${config.spawnIdleTimeoutMs}\` in its config.toml (a safety net: a daemon left behind by a killed benchmark ends itself). ` +
      'Each round starts from nothing, checked: no socket file, no process running `--spawned` with the socket folder as its working directory, no hand-off file waiting. ' +
      'First use (timed): the CLI finds nothing on the socket, so its client starts `node dist/codexd/codexd.js run --spawned` detached (cwd = the socket folder), and since `close()` ' +
      'comes before any daemon answers, it writes its records as a file in `<socket folder>/handoff/` and the CLI exits; the figure is that CLI\'s wall time from `spawn()` to exit, ' +
      'so it includes loading node:child_process, starting the detached daemon and writing the hand-off file, but not the daemon\'s own start-up, which runs on after the CLI has gone. ' +
      'The benchmark then connects to that daemon (retrying until it answers), reads its pid from `daemon/status` and waits until `signals.metrics.received` counts the round\'s records; ' +
      'the check requires exactly those records, all of them ingested from the hand-off file (`handoff.recordsIngested`). ' +
      `From the CLI's \`spawn()\` to that point took ${fmt.ms(median(firstUse.deliveredMs))} (median, spread ${spread(firstUse.deliveredMs, 0)} ms, polling included). ` +
      'Warm (timed): the same CLI, same environment, with that daemon up, after one untimed run so the just-started daemon has served a client once: its records go as a hand-off file too, ' +
      'now because the daemon is up (its lock names a live process) and `close()` comes in the turn the client was made, so the client neither connects nor starts anything (row 2a); ' +
      `that daemon is young (its uptime once it had counted the warm runs: median ${median(firstUse.warmUptimeMs).toFixed(0)} ms) and runs in row 4's own folder, whereas` +
      ' row 2a\'s CLI talks to a long-lived daemon, so the two daemon-up figures need not match. ' +
      'Then the daemon gets SIGTERM (SIGKILL after 8 s; see Checks for how each one ended), the benchmark waits for the process to be gone and removes whatever it left ' +
      `(socket, lock, spawn marker). ${config.spawnWarmup} untimed warm-up rounds, then ${firstUse.firstMs.length} timed rounds; figures are medians ` +
      `(spread: first use ${spread(firstUse.firstMs, 1)} ms, daemon up ${spread(firstUse.warmMs, 1)} ms). ` +
      'Every auto-spawned daemon is ended by pid and by a /proc scan of the socket folder between rounds and again, with SIGKILL, on every exit path of the benchmark.',
  ];
}
