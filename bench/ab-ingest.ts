/**
 * `npm run bench:ab-ingest -- <other checkout>`: the daemon's CPU per session event on its event
 * path (ingest, journal, both lanes, the file exporter), of this checkout's build against
 * another's, in processes of their own with nothing else running beside them.
 *
 * bench:ab (ab-events.ts) runs two daemons fed by clients over their sockets: on two cores the
 * clients and the daemons' threads share the processors, and one run differs from the next by
 * ±15%. Here each run is one process (bench/fixtures/ingest-path.mjs of this checkout, loading
 * the build of the checkout it measures) that takes frames of bench events parsed from their JSON
 * text, as the socket would hand them over, and waits for both lanes to export them: no client,
 * no socket, nothing else running beside it. It runs on one processor (`taskset -c 1`, when the
 * machine has taskset and two processors) with V8's collector on the main thread
 * (`--single-threaded-gc`, and the daemon's other flags), so that its CPU time is the event
 * path's work. In one sitting, 8 pairs of two builds 4% apart agreed 8 times, each build's runs
 * within 3%; in another, runs of one build moved between 19 and 31 µs, as the virtual machine's
 * processor slowed and sped up (a loop of plain JavaScript moved ±15% meanwhile). Read the count
 * of pairs that agree as much as the medians, and run more pairs when the runs spread. The figure
 * is lower than row 6e's: no socket and no frame reader are in it.
 *
 *   node bench/ab-ingest.ts <other checkout> [--pairs=6] [--events=100000]
 *
 * The other checkout must be built (`npm run build` there; a worktree can share this checkout's
 * node_modules), and its daemon modules must take what this checkout's fixture gives them.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { DAEMON_NODE_FLAGS } from '../dist/protocol/index.js';
import { abArgs, comparePairs } from './lib/ab.ts';
import { ROOT } from './lib/daemon.ts';

const { other, otherRoot, option } = abArgs('node bench/ab-ingest.ts <other checkout> [--pairs=6] [--events=100000]');
const pairs = option('pairs', 6);
const events = option('events', 100_000);
const TASKSET = '/usr/bin/taskset';
const pinned = existsSync(TASKSET) && availableParallelism() > 1;

/** One run of the checkout at `root`: CPU µs per event. */
async function measure(root: string): Promise<number> {
  const node = [...DAEMON_NODE_FLAGS, '--single-threaded-gc', join(ROOT, 'bench/fixtures/ingest-path.mjs'), root, String(events)];
  // Throws, with the process's output, when it fails.
  const { stdout } = await promisify(execFile)(pinned ? TASKSET : process.execPath, pinned ? ['-c', '1', process.execPath, ...node] : node, { timeout: 300_000 });
  return (JSON.parse(stdout.trim().split('\n').at(-1) as string) as { us: number }).us;
}

process.stdout.write(`${pinned ? 'pinned to processor 1' : 'not pinned (no taskset, or one processor)'}; ${events} events a run\n`);
await comparePairs(pairs, other, 2, async () => ({ us: await measure(ROOT) }), async () => ({ us: await measure(otherRoot) }));
