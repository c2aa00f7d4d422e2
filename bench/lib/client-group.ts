/**
 * Client processes a row starts together (rows 3, 6 and 8b): each connects, prints "ready" and
 * waits for its stdin; the row then hands them work (all at once, or in chunks within a window)
 * and sums what each reported as it ended.
 */
import type { ChildProcess } from 'node:child_process';

import { problems } from './checks.ts';
import { type BenchEnv, ORPHAN_GUARD, ROOT } from './daemon.ts';
import { type Finished, finished, lastJsonLine, startChild, waitForLine } from './processes.ts';

export interface ClientGroup {
  readonly clients: readonly ChildProcess[];
  /** Clients that have not exited yet. */
  running(): number;
  /** Every client's outcome, once all have exited. */
  readonly exits: Promise<Finished[]>;
}

export interface ClientGroupOptions {
  readonly count: number;
  /** The script and its arguments for client `index`. */
  readonly args: (index: number) => string[];
  /**
   * A client that died has its stdin closed: with this, writing a chunk to it does not end the
   * benchmark (its exit is reported when the reports are summed).
   */
  readonly ignoreStdinErrors: boolean;
}

/** Starts the clients and resolves once every one has printed "ready" (20 s each at most). */
export async function startClientGroup(bench: BenchEnv, options: ClientGroupOptions): Promise<ClientGroup> {
  const clients: ChildProcess[] = [];
  for (let index = 0; index < options.count; index++) {
    const child = startChild(['--import', ORPHAN_GUARD, ...options.args(index)], { env: bench.env, cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    if (options.ignoreStdinErrors) child.stdin?.on('error', () => undefined);
    clients.push(child);
  }
  const readies = clients.map((child) => waitForLine(child, 'ready', 20_000));
  // Attached before anything can be missed; each resolves when its client exits.
  let running = clients.length;
  const exits = Promise.all(
    clients.map((child) =>
      finished(child).finally(() => {
        running--;
      }),
    ),
  );
  await Promise.all(readies);
  return { clients, running: () => running, exits };
}

/** What every client fixture prints as it ends, as far as the sums go. */
export interface ClientReport {
  readonly sent: number;
  readonly cpuMs: number;
  readonly dropped: Readonly<Record<string, number>>;
}

/** Adds each reason's count of `more` into `into`. */
export function addCounts(into: Record<string, number>, more: Readonly<Record<string, number>>): void {
  for (const [reason, count] of Object.entries(more)) into[reason] = (into[reason] ?? 0) + count;
}

/**
 * Sums the reports of the clients that exited 0; each other exit is a problem, named with `who`
 * ("row 3: a load client"). Returns every report too, for what a row sums besides.
 */
export function sumReports<T extends ClientReport>(outcomes: readonly Finished[], who: string): { sent: number; cpuMs: number; dropped: Record<string, number>; reports: T[] } {
  const sums = { sent: 0, cpuMs: 0, dropped: {} as Record<string, number>, reports: [] as T[] };
  for (const outcome of outcomes) {
    if (outcome.code !== 0) {
      problems.push(`${who} exited with ${outcome.code ?? outcome.signal}: ${outcome.stderr.slice(-500)}`);
      continue;
    }
    const report = lastJsonLine<T>(outcome.stdout);
    sums.sent += report.sent;
    sums.cpuMs += report.cpuMs;
    addCounts(sums.dropped, report.dropped);
    sums.reports.push(report);
  }
  return sums;
}

export interface ChunkFeeder {
  /** Hands out chunks, one at a time to the clients in turn, while the window allows. */
  handOut(received: number, buffered: number): void;
  /** Cut short (timeout, stall): hands out what is left, so that no client waits for a chunk forever. */
  handOutRest(): void;
}

export interface ChunkFeederOptions {
  /** Units (events, turns) each client makes, units per chunk, items (events, spans) per unit. */
  readonly unitsEach: number;
  readonly chunkUnits: number;
  readonly itemsPerUnit: number;
  /**
   * Items handed out but not yet received plus those the daemon holds unexported, at most, once
   * the next chunk is out; Infinity hands out everything at once.
   */
  readonly window: number;
}

/** Chunks go to a client as "+" on its stdin; its last chunk also ends its stdin. */
export function createChunkFeeder(clients: readonly ChildProcess[], options: ChunkFeederOptions): ChunkFeeder {
  const { unitsEach, chunkUnits, itemsPerUnit, window } = options;
  const n = clients.length;
  const chunksEach = Math.ceil(unitsEach / chunkUnits);
  const left = clients.map(() => chunksEach);
  let handedOut = 0;
  let turn = 0;
  return {
    handOut(received, buffered) {
      while (left.some((chunks) => chunks > 0) && handedOut - received + buffered + chunkUnits * itemsPerUnit <= window) {
        while (left[turn % n] === 0) turn++;
        const index = turn % n;
        const chunkIndex = chunksEach - (left[index] as number);
        left[index] = (left[index] as number) - 1;
        const stdin = clients[index]?.stdin;
        if (left[index] === 0) stdin?.end('+');
        else stdin?.write('+');
        handedOut += Math.min(chunkUnits, unitsEach - chunkIndex * chunkUnits) * itemsPerUnit;
        turn++;
      }
    },
    handOutRest() {
      for (const [index, chunks] of left.entries()) {
        if (chunks > 0) clients[index]?.stdin?.end('+'.repeat(chunks));
      }
    },
  };
}
