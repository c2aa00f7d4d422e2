/**
 * Row 12 of `npm run bench`: what the daemon costs when nothing happens, with its default
 * configuration (no config file: the file exporter for every signal), started as every launcher
 * starts it. Beside it for the same window, a Node process that does nothing
 * (`node -e "setInterval(() => {}, 1 << 30)"`) as the floor.
 *
 *   12   wake-ups per second: context switches of all the process's threads (voluntary and not,
 *        from /proc/<pid>/task/<tid>/status) over the window, after 5 s to settle
 *   12b  resident set (VmRSS) at the end of the window; CPU (utime + stime) over it
 *
 * bench/run.ts calls {@link rowIdle} and renders {@link idleDoc}.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { DAEMON_NODE_FLAGS } from '../../dist/protocol/index.js';
import { check, log, rows } from '../lib/checks.ts';
import { createBenchEnv, DAEMON_CLI } from '../lib/daemon.ts';
import type { ChildProcess } from 'node:child_process';

import { processCpuMs, startChild, stopChild } from '../lib/processes.ts';

const SETTLE_MS = 5000;
/** The targets of issue 16, item 1. */
const TARGET = { wakeupsPerSecond: 1, rssMiB: 55 } as const;

export interface IdleReading {
  readonly wakeupsPerSecond: number;
  readonly rssMiB: number;
  readonly cpuPercent: number;
}

export interface IdleDetails {
  readonly seconds: number;
  readonly daemon: IdleReading;
  readonly node: IdleReading;
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
    const [atRest, floor] = (await window([daemon.pid as number, node.pid as number], seconds)) as [IdleReading, IdleReading];
    check(daemon.exitCode === null && daemon.signalCode === null, `row 12: the daemon ran the whole window (pid ${daemon.pid}) and stopped on SIGTERM after`);
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
    );
    return { seconds, daemon: atRest, node: floor };
  } finally {
    await stopChild(daemon);
    await stopChild(node);
  }
}

/** Section 12 of docs/benchmarks.md. */
export function idleDoc(details: IdleDetails): string[] {
  const { daemon, node } = details;
  return [
    '### 12. The daemon at rest',
    '',
    `\`codexd run\` with no config file (its defaults: the file exporter for every signal, export every 5 s), started as every launcher starts it (\`node ${DAEMON_NODE_FLAGS.join(' ')}\`), no client connected. ` +
      `After ${SETTLE_MS / 1000} s to settle, for ${details.seconds} s: wake-ups are the context switches of all its threads (voluntary and involuntary, summed from /proc/<pid>/task/<tid>/status) over the window, per second; CPU is utime + stime over the window; the resident set is VmRSS at its end. ` +
      `Beside it in the same window, a Node process that only keeps a timer of 2^30 ms (\`node -e "setInterval(() => {}, 1 << 30)"\`). ` +
      `Daemon: ${daemon.wakeupsPerSecond.toFixed(2)} wake-ups/s, CPU ${daemon.cpuPercent.toFixed(3)}%, RSS ${daemon.rssMiB.toFixed(1)} MiB; idle node: ${node.wakeupsPerSecond.toFixed(2)} wake-ups/s, CPU ${node.cpuPercent.toFixed(3)}%, RSS ${node.rssMiB.toFixed(1)} MiB. ` +
      'Nothing of its own wakes an idle daemon: the metric reader runs its interval only from a record until a collection finds nothing, the journal arms its timer only while it has lines to write or files to trim, and the hand-off folder is watched rather than polled (a scan once a minute in case a change went unseen).',
  ];
}
