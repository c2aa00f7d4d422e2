/**
 * `npm run bench:ab -- <other checkout>`: the daemon's CPU per session event (row 6e's measure)
 * of this checkout's build against another's, their runs alternated on one machine. One run of
 * row 6 moves by ±15% with whatever else the machine does, more than most single changes to the
 * event path; runs of two daemons side by side, in pairs whose order alternates, show a change of
 * 5–10% as a median and as the count of pairs that agree, which the summary line turns into a
 * sign test's p (bench/lib/ab.ts).
 *
 * Both daemons start as every launcher starts them (their own bench/lib/daemon.ts), with their
 * defaults (the file exporter), or with `--grpc` exporting every signal over OTLP/gRPC to one
 * receiver in this process (test/support/otlp-receiver.ts, row 6f's). Each run, N clients
 * (bench/fixtures/event-client.mjs of the same checkout) send EVENTS events each in chunks of
 * 250, all at once, and the daemon's CPU is read from /proc from the first chunk until both lanes
 * have exported all but their last batch (`daemon/status` polled every 100 ms). Also printed per
 * run: minor page faults per event. With `--window=N`, the clients' chunks are handed out as row
 * 6's windowed runs hand them out (bench/lib/client-group.ts's feeder): while the events handed
 * out and not yet counted, plus the larger of the two lanes' unexported records, stay within N
 * (row 6 takes 10,000), `daemon/status` polled every 10 ms. The lanes then hold thousands of
 * records unexported, as in rows 6e and 6f, and the journal writes most event lines, which under
 * a flood the file exporter settles before the journal's next write.
 *
 *   node bench/ab-events.ts <other checkout> [--pairs=6] [--clients=2] [--events=10000] [--grpc] [--window=N] [--daemon-cpu=N] [--warm-each]
 *
 * With `--warm-each`, each timed run follows a short untimed one (a fifth of the events): a
 * daemon gives its memory back after 10 s without telemetry, and one that idled through the other
 * side's run otherwise pays the page faults of taking it again in its timed run (0.15-0.30 minor
 * faults per event against 0.01-0.05, and 20-40% more CPU per event, here).
 *
 * With `--daemon-cpu=N` (Linux, `taskset` from util-linux), each daemon runs on processor N alone,
 * every thread of it, and this process, its receiver and the clients it starts on the others.
 * On a machine whose processors differ in speed (one shared with another tenant's busy thread,
 * say: a CPU-bound loop was measured 1.75x slower on one of this machine's two than on the
 * other), where a daemon happens to run moves its CPU per event more than most changes do; pinned,
 * both sides of each pair run on the same one.
 *
 * The other checkout must be built (`npm run build` there; a worktree can share this
 * checkout's node_modules). BENCH_DAEMON_ARGS (node options) goes to both daemons.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { abArgs, comparePairs } from './lib/ab.ts';
import { ROOT } from './lib/daemon.ts';
import { pinMeasuredApart } from './lib/pin.ts';
import { loadReceiverModule, type OtlpReceiver } from './lib/receiver.ts';

const { other, otherRoot, option, flag } = abArgs('node bench/ab-events.ts <other checkout> [--pairs=6] [--clients=2] [--events=10000] [--grpc] [--window=N] [--daemon-cpu=N] [--warm-each]');
const pairs = option('pairs', 6);
const clients = option('clients', 2);
const events = Math.max(250, Math.round(option('events', 10_000) / 250) * 250);
/** Events handed out and not yet counted plus the lanes' unexported records, at most; a flood without it. */
const window = option('window', Number.POSITIVE_INFINITY);
/** Both daemons' receiver with `--grpc`: it keeps what it is sent, which each poll lets go. */
const receiver: OtlpReceiver | null = flag('grpc') ? await (await loadReceiverModule()).module.startOtlpReceiver() : null;
const forgetReceived = (): void => {
  if (receiver === null) return;
  receiver.logsRequests.length = 0;
  receiver.tracesRequests.length = 0;
  receiver.metricsRequests.length = 0;
};

/** Before each timed run, a short untimed one (`--warm-each`). */
const warmEach = flag('warm-each');
/** The processor each daemon runs on alone, if one is asked for; this process and its children run on the others (lib/pin.ts). */
const daemonCpu = option('daemon-cpu', -1);
const pinning = daemonCpu < 0 ? null : pinMeasuredApart(daemonCpu);
if (daemonCpu >= 0 && pinning === null) throw new Error(`--daemon-cpu=${daemonCpu}: cannot pin (Linux and taskset needed, and another processor for the clients)`);

/** Minor page faults of a process so far (/proc/<pid>/stat, field 10). */
function minorFaults(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

interface Side {
  readonly root: string;
  /** One run of `eventsEach` events per client: daemon CPU µs, minor faults and journal bytes, each per event. */
  run(eventsEach?: number): Promise<{ readonly us: number; readonly faults: number; readonly journalBytes: number }>;
  stop(): Promise<void>;
}

/** A daemon of the checkout at `root`, with its own benchmark library and client fixture. */
async function side(root: string): Promise<Side> {
  const lib = (await import(join(root, 'bench/lib/daemon.ts'))) as typeof import('./lib/daemon.ts');
  const group = (await import(join(root, 'bench/lib/client-group.ts'))) as typeof import('./lib/client-group.ts');
  const processes = (await import(join(root, 'bench/lib/processes.ts'))) as typeof import('./lib/processes.ts');
  const lanes = (await import(join(root, 'bench/lib/lanes.ts'))) as typeof import('./lib/lanes.ts');
  const bench = lib.createBenchEnv(receiver === null ? {} : { otlpEndpoint: receiver.endpoint });
  const daemon = await lib.startDaemon(bench, (process.env.BENCH_DAEMON_ARGS ?? '').split(' ').filter((arg) => arg !== ''));
  pinning?.pin(daemon.pid);
  let seed = 0;
  return {
    root,
    async run(eventsEach = events) {
      const before = await daemon.status();
      const started = await group.startClientGroup(bench, {
        count: clients,
        args: (index) => [join(root, 'bench/fixtures/event-client.mjs'), String(eventsEach), '250', String(seed + index)],
        ignoreStdinErrors: true,
      });
      seed += clients;
      // Each client's readiness event counted and exported: the lanes start empty.
      let status = await daemon.status();
      while (status.signals.logs.received < before.signals.logs.received + clients || status.signals.logs.buffered > 0 || status.signals.traces.buffered > 0) {
        await sleep(20);
        status = await daemon.status();
      }
      const base = { received: status.signals.logs.received, journal: status.journal.writtenBytes };
      const cpu = processes.processCpuMs(daemon.pid) as number;
      const faults = minorFaults(daemon.pid);
      const feeder = group.createChunkFeeder(started.clients, { unitsEach: eventsEach, chunkUnits: 250, itemsPerUnit: 1, window });
      feeder.handOut(0, 0);
      const interval = Number.isFinite(window) ? 10 : 100;
      const since = Date.now();
      for (;;) {
        if (Date.now() - since > 60_000) throw new Error(`${root}: the daemon did not take and export the run's events within a minute`);
        await sleep(interval);
        forgetReceived();
        status = await daemon.status();
        feeder.handOut(status.signals.logs.received - base.received, Math.max(status.signals.logs.buffered, status.signals.traces.buffered));
        const drained = (signal: 'logs' | 'traces'): boolean => lanes.delivered(status, signal).exported + 512 > status.signals[signal].accepted;
        if (status.signals.logs.received - base.received >= clients * eventsEach && drained('logs') && drained('traces')) break;
      }
      feeder.handOutRest();
      const total = clients * eventsEach;
      const journalBytes = ((await daemon.status()).journal.writtenBytes - base.journal) / total;
      const result = { us: (((processes.processCpuMs(daemon.pid) as number) - cpu) * 1000) / total, faults: (minorFaults(daemon.pid) - faults) / total, journalBytes };
      await started.exits;
      return result;
    },
    async stop() {
      await daemon.stop();
      lib.removeBenchEnvs();
    },
  };
}

const here = await side(ROOT);
const there = await side(otherRoot);
try {
  // One untimed run each: the JIT and the buffers warm up.
  await here.run();
  await there.run();
  const run = async (one: Side) => {
    // A daemon that idled through the other's run has given its memory back (after 10 s without
    // telemetry): a short run takes it again, untimed, rather than the timed run paying the faults.
    if (warmEach) await one.run(Math.max(250, Math.round(events / 5 / 250) * 250));
    const { us, faults, journalBytes } = await one.run();
    return { us, note: `${faults.toFixed(2)} faults, journal ${journalBytes.toFixed(0)} B/event` };
  };
  await comparePairs(pairs, other, 1, () => run(here), () => run(there));
} finally {
  await here.stop();
  await there.stop();
  await receiver?.close();
}
