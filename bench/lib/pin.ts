/**
 * Processors for the rows whose figure is a process's own CPU time per item (6e–6h): the daemon,
 * and the floor fixture measured against it, run on the first processor alone, every thread;
 * the benchmark, its receiver and the clients on the others. On this kind of machine the two
 * processors are not alike: the same CPU-bound loop was measured 1.75x slower on one than on the
 * other (another tenant's busy thread beside it, it seems), so where the scheduler happened to
 * put the daemon, or the floor, moved their figures by more than most changes do, and their ratio
 * compared one processor with another. Linux only (`taskset`, util-linux); elsewhere, or with a
 * single processor, nothing is pinned and the rows say so.
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface Pinning {
  /** Puts a process (every thread of it) on the measured processor alone. */
  pin(pid: number): void;
  /** Gives this process, and what it starts from then on, every processor again; and `pids` too. */
  release(pids: readonly number[]): void;
}

const taskset = (cpus: string, pid: number): void => void execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });

/**
 * Moves this process (and every process it starts from now on) off processor `measured` (the
 * first unless given), which `pin` then gives the measured processes; null when it cannot (not
 * Linux, no `taskset`, one processor, or no such processor).
 */
export function pinMeasuredApart(measured = 0): Pinning | null {
  const count = availableParallelism();
  if (count < 2 || process.platform !== 'linux' || measured < 0 || measured >= count) return null;
  const all = `0-${count - 1}`;
  const others = [...Array(count).keys()].filter((cpu) => cpu !== measured).join(',');
  try {
    taskset(others, process.pid);
  } catch {
    return null;
  }
  return {
    pin: (pid) => taskset(String(measured), pid),
    release(pids) {
      for (const pid of [process.pid, ...pids]) {
        try {
          taskset(all, pid);
        } catch {
          // Gone already.
        }
      }
    },
  };
}
