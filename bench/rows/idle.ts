/**
 * Row 12 of `npm run bench`: what the daemon costs when nothing happens, with its default
 * configuration (no config file: the file exporter for every signal), started as every launcher
 * starts it. Beside it for the same window, a Node process that does nothing
 * (`node -e "setInterval(() => {}, 1 << 30)"`) as the floor.
 *
 *   12   wake-ups per second: context switches of all the process's threads (voluntary and not,
 *        from /proc/<pid>/task/<tid>/status) over the window, once start-up is over (35 s: V8
 *        runs its memory reducer's first collections 30 s after a process starts)
 *   12b  resident set (VmRSS) at the end of the window; CPU (utime + stime) over it
 *   12c  then 8 host processes record for a minute (bench/fixtures/soak-client.mjs): the largest
 *        resident set during the load, at its end, and after a minute at rest again
 *
 * bench/run.ts calls {@link rowIdle} and renders {@link idleDoc}.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { QUIET_MS, STARTUP_QUIET_MS } from '../../dist/daemon/memory-limiter.js';
import { DAEMON_NODE_FLAGS } from '../../dist/protocol/index.js';
import { check, log, rows } from '../lib/checks.ts';
import { createBenchEnv, DAEMON_CLI, ROOT } from '../lib/daemon.ts';
import type { ChildProcess } from 'node:child_process';

import { finished, processCpuMs, startChild, stopChild } from '../lib/processes.ts';

/**
 * Start-up, not measured as rest: the daemon gives back what starting took 2 s in, and V8, having
 * seen that collection, runs its memory reducer's (--gc-memory-reducer-start-delay-ms, 30 s in
 * Node 26). Its context switches are reported on their own.
 */
const SETTLE_MS = 35_000;
/**
 * The targets of issue 16, item 1. `returnMiB`: how far above its idle figure the resident set
 * may stay a minute after the load ("memory returns close to idle"); before the allocator's trim
 * it stayed ~57 MiB above, after it ~16 (the pages of node's code the load ran, and what the
 * heap keeps for the sessions seen).
 */
const TARGET = { wakeupsPerSecond: 1, rssMiB: 55, returnMiB: 32 } as const;

export interface IdleReading {
  readonly wakeupsPerSecond: number;
  readonly rssMiB: number;
  readonly cpuPercent: number;
}

export interface LoadReading {
  readonly hosts: number;
  readonly seconds: number;
  readonly restSeconds: number;
  readonly peakMiB: number;
  readonly endMiB: number;
  readonly afterMiB: number;
  /** What the hosts recorded, all kinds together, and what they dropped. */
  readonly recorded: number;
  readonly dropped: number;
}

export interface IdleDetails {
  readonly seconds: number;
  /** The daemon's context switches from its start to the window's. */
  readonly startupSwitches: number;
  readonly daemon: IdleReading;
  readonly node: IdleReading;
  readonly load: LoadReading;
}

const LOAD_HOSTS = 8;

interface SoakReport {
  readonly increments: number;
  readonly values: number;
  readonly events: number;
  readonly spans: number;
  readonly stats: { readonly dropped?: Record<string, number>; readonly eventsDropped?: Record<string, number>; readonly spansDropped?: Record<string, number> };
}

/** 12c: hosts record for `seconds` (soak-client's default pace), then the daemon rests `restSeconds`. */
async function loadAndRest(pid: number, env: NodeJS.ProcessEnv, seconds: number, restSeconds: number): Promise<LoadReading> {
  log(`row 12c: ${LOAD_HOSTS} hosts record for ${seconds} s, then ${restSeconds} s at rest`);
  let peakMiB = 0;
  const sampler = setInterval(() => (peakMiB = Math.max(peakMiB, rssMiBOf(pid))), 250);
  try {
    const hosts = Array.from({ length: LOAD_HOSTS }, (_, index) => startChild([join(ROOT, 'bench/fixtures/soak-client.mjs'), String(seconds), String(index)], { env }));
    const runs = await Promise.all(hosts.map((child) => finished(child)));
    const endMiB = rssMiBOf(pid);
    const reports = runs.map((run) => JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as SoakReport);
    check(runs.every((run) => run.code === 0), `row 12c: every host exited 0 (${runs.map((run) => run.code).join(', ')})`);
    const sum = (counts: Record<string, number> | undefined): number => Object.values(counts ?? {}).reduce((total, count) => total + count, 0);
    const recorded = reports.reduce((total, report) => total + report.increments + report.values + report.events + report.spans, 0);
    const dropped = reports.reduce((total, report) => total + sum(report.stats.dropped) + sum(report.stats.eventsDropped) + sum(report.stats.spansDropped), 0);
    check(dropped === 0, `row 12c: the hosts dropped nothing of the ${recorded.toLocaleString('en-US')} measurements, events and spans they recorded (${dropped})`);
    await new Promise((resolve) => setTimeout(resolve, restSeconds * 1000));
    return { hosts: LOAD_HOSTS, seconds, restSeconds, peakMiB, endMiB, afterMiB: rssMiBOf(pid), recorded, dropped };
  } finally {
    clearInterval(sampler);
  }
}

/** Context switches of every thread of `pid` so far. */
function switchesOf(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const match of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) total += Number(match[1]);
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return total;
}

function rssMiBOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

/** Resolves once the daemon says it listens (on stderr); rejects if it exits first or 15 s pass. */
function listening(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`codexd did not start within 15 s:\n${seen}`)), 15_000);
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      seen += text;
      if (seen.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`codexd exited with ${code} before listening:\n${seen}`)));
  });
}

/** Reads both processes over the same window. */
async function window(pids: readonly number[], seconds: number): Promise<IdleReading[]> {
  const before = pids.map((pid) => ({ switches: switchesOf(pid), cpu: processCpuMs(pid) ?? 0 }));
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return pids.map((pid, at) => {
    const start = before[at] as { switches: number; cpu: number };
    return {
      wakeupsPerSecond: (switchesOf(pid) - start.switches) / seconds,
      rssMiB: rssMiBOf(pid),
      cpuPercent: (((processCpuMs(pid) ?? 0) - start.cpu) / (seconds * 1000)) * 100,
    };
  });
}

export async function rowIdle(quick: boolean): Promise<IdleDetails> {
  const seconds = quick ? 10 : 60;
  const bench = createBenchEnv();
  // The defaults: no config file at all.
  rmSync(join(bench.env.CODEX_HOME as string, 'config.toml'), { force: true });
  writeFileSync(join(bench.root, 'README'), 'row 12: a daemon at rest\n');
  log(`row 12: the daemon at rest, default config, ${seconds} s after ${SETTLE_MS / 1000} s to settle, beside an idle node`);
  const daemon = startChild([...DAEMON_NODE_FLAGS, DAEMON_CLI, 'run'], { env: bench.env, cwd: bench.root });
  const node = startChild(['-e', 'setInterval(() => {}, 1 << 30)'], { cwd: bench.root });
  try {
    await listening(daemon);
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const startupSwitches = switchesOf(daemon.pid as number);
    const [atRest, floor] = (await window([daemon.pid as number, node.pid as number], seconds)) as [IdleReading, IdleReading];
    const load = await loadAndRest(daemon.pid as number, bench.env, seconds, Math.max(seconds, QUIET_MS / 1000 + 10));
    check(daemon.exitCode === null && daemon.signalCode === null, `row 12: the daemon ran the whole window and the load (pid ${daemon.pid}) and stopped on SIGTERM after`);
    rows.push(
      {
        id: '12',
        what: `daemon at rest (default config), ${seconds} s: wake-ups`,
        measured: `${atRest.wakeupsPerSecond.toFixed(2)} wake-ups/s, CPU ${atRest.cpuPercent.toFixed(3)}%`,
        baseline: `idle node: ${floor.wakeupsPerSecond.toFixed(2)} wake-ups/s, CPU ${floor.cpuPercent.toFixed(3)}%`,
        comparison: `+${(atRest.wakeupsPerSecond - floor.wakeupsPerSecond).toFixed(2)}/s`,
        target: `≤ ${TARGET.wakeupsPerSecond} wake-up/s`,
        met: atRest.wakeupsPerSecond <= TARGET.wakeupsPerSecond,
      },
      {
        id: '12b',
        what: 'same: resident set',
        measured: `${atRest.rssMiB.toFixed(1)} MiB`,
        baseline: `idle node: ${floor.rssMiB.toFixed(1)} MiB`,
        comparison: `+${(atRest.rssMiB - floor.rssMiB).toFixed(1)} MiB`,
        target: `≤ ${TARGET.rssMiB} MiB`,
        met: atRest.rssMiB <= TARGET.rssMiB,
      },
      {
        id: '12c',
        what: `same daemon: ${LOAD_HOSTS} hosts record ${load.seconds} s, then ${load.restSeconds} s at rest`,
        measured: `${load.afterMiB.toFixed(1)} MiB after the rest`,
        baseline: `before the load: ${atRest.rssMiB.toFixed(1)} MiB; peak ${load.peakMiB.toFixed(1)}, at its end ${load.endMiB.toFixed(1)}`,
        comparison: `${load.afterMiB >= atRest.rssMiB ? '+' : ''}${(load.afterMiB - atRest.rssMiB).toFixed(1)} MiB`,
        target: `≤ +${TARGET.returnMiB} MiB`,
        met: load.afterMiB - atRest.rssMiB <= TARGET.returnMiB,
      },
    );
    return { seconds, startupSwitches, daemon: atRest, node: floor, load };
  } finally {
    await stopChild(daemon);
    await stopChild(node);
  }
}

/** Section 12 of docs/benchmarks.md. */
export function idleDoc(details: IdleDetails): string[] {
  const { daemon, node, load } = details;
  return [
    '### 12. The daemon at rest',
    '',
    `\`codexd run\` with no config file (its defaults: the file exporter for every signal, export every 5 s), started as every launcher starts it (\`node ${DAEMON_NODE_FLAGS.join(' ')}\`), no client connected. ` +
      `After ${SETTLE_MS / 1000} s for start-up (it gives back what starting took ${STARTUP_QUIET_MS / 1000} s in, and V8's memory reducer, having seen that collection, runs its own 30 s after start: ${details.startupSwitches} context switches in all, from its start), for ${details.seconds} s: wake-ups are the context switches of all its threads (voluntary and involuntary, summed from /proc/<pid>/task/<tid>/status) over the window, per second; CPU is utime + stime over the window; the resident set is VmRSS at its end. ` +
      `Beside it in the same window, a Node process that only keeps a timer of 2^30 ms (\`node -e "setInterval(() => {}, 1 << 30)"\`). ` +
      `Daemon: ${daemon.wakeupsPerSecond.toFixed(2)} wake-ups/s, CPU ${daemon.cpuPercent.toFixed(3)}%, RSS ${daemon.rssMiB.toFixed(1)} MiB; idle node: ${node.wakeupsPerSecond.toFixed(2)} wake-ups/s, CPU ${node.cpuPercent.toFixed(3)}%, RSS ${node.rssMiB.toFixed(1)} MiB. ` +
      `Then (12c) ${load.hosts} host processes (bench/fixtures/soak-client.mjs at its default pace: bursts of 200 counter increments, 200 histogram values, 10 session events and a turn of 9 spans, then \`await flush()\` and 20 ms) record for ${load.seconds} s, ${load.recorded.toLocaleString('en-US')} measurements, events and spans in all, ${load.dropped} dropped; the daemon's RSS is read every 250 ms (peak ${load.peakMiB.toFixed(1)} MiB), at the end of the load (${load.endMiB.toFixed(1)} MiB) and after ${load.restSeconds} s at rest again (${load.afterMiB.toFixed(1)} MiB). ` +
      `${STARTUP_QUIET_MS / 1000} s after start (before the window), and once telemetry has stopped for ${QUIET_MS / 1000} s after its resident set grew, the daemon packs the sessions' log rings it keeps for feedback, shrinks its write buffers to their first size and runs one collection that compacts V8's heap and returns its free pages, then has glibc return the pages its allocator kept free between live allocations (\`malloc_trim\`, through \`node:ffi\`; \`daemon/status\` counts these releases: \`memory.released\`); what stays above the idle figure is mostly what the heap still holds for the sessions seen and the pages of the node binary's code the load ran. ` +
      'Nothing of its own wakes an idle daemon: the metric reader runs its interval only from a record until a collection finds nothing, the journal arms its timer only while it has lines to write or files to trim, and the hand-off folder is watched rather than polled (a scan once a minute in case a change went unseen).',
  ];
}
