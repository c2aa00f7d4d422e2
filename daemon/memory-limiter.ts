/**
 * The daemon's memory limiter, after the OpenTelemetry Collector's: a hard limit on what the
 * daemon holds (V8's heap in use plus the memory outside it that JavaScript owns, Buffers
 * included) and a soft limit a spike below it.
 *
 *   ok   --held >= soft--> soft: connections that send telemetry are no longer read (their
 *                               clients keep what they have, in the socket and their own
 *                               bounded buffers); export queues move what they hold to disk;
 *                               hand-off files wait
 *   soft --held >= hard--> hard: as soft, and telemetry already read is refused: requests with
 *                               -32018 Overloaded (retryable, `data.retryAfterMs`), notifications
 *                               dropped and counted as `memory_limited`; a full garbage
 *                               collection is asked for
 *   back to ok once held < soft - a tenth of the spike (so it does not flap at the line)
 *
 * Memory is read on the ingest path at most every CHECK_INTERVAL_MS, so an idle daemon never
 * wakes for it; while not ok, a timer reads it at that pace until it is ok again.
 *
 * Once the resident set has grown RELEASE_GROWTH_BYTES past where it last settled and telemetry
 * then stops for QUIET_MS, one memory-reducing collection gives back what the load grew: V8 keeps
 * the pages a burst of telemetry made it take, and its own memory reducer, which judges by the
 * allocation rate it last saw, may never run in a daemon that then only sleeps. Start-up counts
 * as such a load: STARTUP_QUIET_MS after the limiter is made, if no telemetry has arrived (else
 * QUIET_MS after the last), the same collection gives back what loading and starting took (1–2 MiB
 * of an idle daemon's resident set), so that it is part of starting and not a wake-up of an idle
 * daemon. One timer, armed then and by a reading that finds the growth, never by an idle daemon.
 * A release also returns the C allocator's free pages, where it can (allocator-trim.ts).
 */

import type { Logger } from 'pino';

import type { MemoryStatus } from '../protocol/index.js';
import { allocatorTrim } from './allocator-trim.js';

/** How often memory is read while telemetry arrives, and while the limiter holds. */
export const CHECK_INTERVAL_MS = 100;

/**
 * Full collections asked for: over the soft limit at most once a second (paused connections
 * allocate little, so V8 might not collect on its own); before refusing anything over the hard
 * limit, at most every 250 ms (a collection of a heap this size takes tens of milliseconds).
 */
const SOFT_GC_INTERVAL_MS = 1000;
const HARD_GC_INTERVAL_MS = 250;

/** How long telemetry must have stopped before the daemon gives back memory it grew for it. */
export const QUIET_MS = 10_000;
/** How long after start-up, with no telemetry yet, start-up's memory is given back. */
export const STARTUP_QUIET_MS = 2000;
/** How far the resident set grows past where it last settled before a quiet time releases it. */
export const RELEASE_GROWTH_BYTES = 16 * 1024 * 1024;
/** Share of the soft limit from which a reading is preceded by a full collection (at most once a second). */
const COLLECT_BEFORE_SHARE = 0.8;

/** What a client is told to wait before sending refused telemetry again. */
export const MEMORY_RETRY_AFTER_MS = 1000;

export type MemoryState = MemoryStatus['state'];

export interface MemoryLimiterOptions {
  readonly hardLimitBytes: number;
  readonly softLimitBytes: number;
  readonly logger: Logger;
  /** Called at every reading over the soft limit: the export queues move what they hold in memory to disk. */
  onPressure(): void;
  /** Called just before memory is given back after a load: parts let go of what they keep for the next one. */
  onRelease?(): void;
  /** Reads memory; the default is the process's own. For tests. */
  readonly read?: () => { readonly held: number; readonly rss: number };
}

/** What a connection's reader needs: whether to stop reading, and a call when it may read again. */
export interface MemoryGate {
  /** True while telemetry connections should not be read. Reads memory if the last reading is old. */
  holding(): boolean;
  /** Calls `resume` once, when the limiter is back to ok; returns a function that cancels the call. */
  whenReleased(resume: () => void): () => void;
}

export interface MemoryLimiter extends MemoryGate {
  /** The state now, memory read if the last reading is older than {@link CHECK_INTERVAL_MS}. */
  check(): MemoryState;
  status(): MemoryStatus;
  /** Changes the limits (a reload). */
  setLimits(hardLimitBytes: number, softLimitBytes: number): void;
  /**
   * Lets every waiting connection go and holds none from now on: a stopping daemon takes in what
   * its connections already sent (or counts it as dropped), rather than leaving it unread.
   */
  stop(): void;
}

function processMemory(): { held: number; rss: number } {
  const usage = process.memoryUsage();
  return { held: usage.heapUsed + usage.external, rss: usage.rss };
}

/** How V8's `gc()` is asked for a collection: a full one, or one that also gives memory back. */
type Collect = (options?: { readonly type: 'major'; readonly execution: 'sync'; readonly flavor: 'last-resort' }) => void;

/** Compacts the heap and returns its free pages to the system (several full collections). */
const REDUCE_MEMORY = { type: 'major', execution: 'sync', flavor: 'last-resort' } as const;

/** V8's full collection, made callable once; `null` where the flag cannot be set. */
function exposeGc(): Collect | null {
  // Every launcher starts the daemon with --expose-gc (DAEMON_NODE_FLAGS): `gc` is a global then,
  // and nothing more is loaded for it. Started otherwise, node:v8 and a new V8 context give it,
  // for about 2.4 MiB of resident memory from then on.
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return global as Collect;
  try {
    // Taken at first use: an ESM import of node:v8 loads its profilers and heap tools with it.
    process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
    const gc = process.getBuiltinModule('node:vm').runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as Collect) : null;
  } catch {
    return null;
  }
}

export function createMemoryLimiter(options: MemoryLimiterOptions): MemoryLimiter {
  const read = options.read ?? processMemory;
  let hard = options.hardLimitBytes;
  let soft = options.softLimitBytes;
  let state: MemoryState = 'ok';
  let since = new Date();
  /** When memory was last evaluated (performance.now()); never yet: the first telemetry evaluates it. */
  let readAt = Number.NEGATIVE_INFINITY;
  let last = read();
  /** The resident set where it last settled: at start, and after each release. */
  let settledRss = last.rss;
  let softEntered = 0;
  let hardEntered = 0;
  /** Looked up at first use; `null` where there is none, and then not looked for again. */
  let gc: Collect | null | undefined;
  let trim: (() => void) | null | undefined;
  /** When V8 last collected at the limiter's request (performance.now()); never yet: the first need collects. */
  let collectedAt = Number.NEGATIVE_INFINITY;
  /** When telemetry last had memory read (performance.now()); the quiet timer, while armed. */
  let arrivedAt = performance.now();
  /** How long telemetry must have stopped before the armed timer releases: shorter until the first arrives. */
  let quietNeeded = STARTUP_QUIET_MS;
  let quietTimer: NodeJS.Timeout | null = null;
  let released = 0;
  let releasedBytes = 0;
  const waiting = new Set<() => void>();
  let timer: NodeJS.Timeout | null = null;
  /** Set by stop(): nothing is held any more. */
  let stopped = false;

  function change(next: MemoryState): void {
    if (next === state) return;
    const before = state;
    state = next;
    since = new Date();
    const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
    if (next === 'ok') {
      options.logger.info({ held: last.held, rss: last.rss }, `memory back under the soft limit (${mib(last.held)} held); reading telemetry again`);
      stopTimer();
      const resumes = [...waiting];
      waiting.clear();
      for (const resume of resumes) resume();
      return;
    }
    if (next === 'hard') hardEntered++;
    else if (before === 'ok') softEntered++;
    options.logger.warn(
      { held: last.held, rss: last.rss, softLimit: soft, hardLimit: hard },
      next === 'hard'
        ? `memory over the hard limit (${mib(last.held)} of ${mib(hard)}): refusing telemetry until under ${mib(soft)}`
        : `memory over the soft limit (${mib(last.held)} of ${mib(soft)}): telemetry connections wait until it is back under`,
    );
    if (before === 'ok') startTimer();
  }

  function evaluate(): MemoryState {
    readAt = performance.now();
    // Close to the soft limit, what V8 holds is mostly garbage under a high allocation rate (it
    // collects its old generation late): collect before reading, so that garbage alone does
    // not pause connections and send the export queues to disk, only memory really held does.
    if (state === 'ok' && last.held >= soft * COLLECT_BEFORE_SHARE) collect(SOFT_GC_INTERVAL_MS);
    last = read();
    if (quietTimer === null && last.rss > settledRss + RELEASE_GROWTH_BYTES) armQuiet(QUIET_MS);
    // Over the hard limit, garbage may be most of it: collect, and refuse only what is still held.
    if (last.held >= hard && collect(HARD_GC_INTERVAL_MS)) last = read();
    if (last.held >= soft) options.onPressure();
    if (last.held >= hard) change('hard');
    else if (last.held >= soft) {
      // From hard, only as far as soft: held must fall under soft to read again.
      change('soft');
      // With its telemetry connections paused the daemon allocates little, so V8 may never
      // collect on its own: the garbage would hold it over the line for good.
      collect(SOFT_GC_INTERVAL_MS);
    } else if (state !== 'ok' && last.held < soft - (hard - soft) / 10) change('ok');
    return state;
  }

  /** Asks V8 for a full collection unless one ran less than `intervalMs` ago; true when it ran. */
  function collect(intervalMs: number): boolean {
    const now = performance.now();
    if (now - collectedAt < intervalMs) return false;
    collectedAt = now;
    if (gc === undefined) gc = exposeGc();
    if (gc === null) return false;
    gc();
    return true;
  }

  function armQuiet(delayMs: number): void {
    quietTimer = setTimeout(() => {
      quietTimer = null;
      if (stopped) return;
      const quietFor = performance.now() - arrivedAt;
      if (quietFor < quietNeeded) armQuiet(quietNeeded - quietFor);
      else release();
    }, delayMs);
    quietTimer.unref();
  }

  function release(): void {
    if (gc === undefined) gc = exposeGc();
    const before = read().rss;
    options.onRelease?.();
    if (gc !== null) {
      gc(REDUCE_MEMORY);
      collectedAt = performance.now();
      released++;
    }
    // V8 gave back its free pages; the C allocator keeps its own until asked (allocator-trim.ts).
    if (trim === undefined) trim = allocatorTrim();
    trim?.();
    last = read();
    releasedBytes += Math.max(0, before - last.rss);
    // What a release could not give back is where memory settles now: no release again for it.
    settledRss = last.rss;
  }

  function startTimer(): void {
    if (timer !== null) return;
    timer = setInterval(evaluate, CHECK_INTERVAL_MS);
    timer.unref();
  }

  function stopTimer(): void {
    if (timer === null) return;
    clearInterval(timer);
    timer = null;
  }

  // Start-up is the first load to give back.
  armQuiet(STARTUP_QUIET_MS);

  function check(): MemoryState {
    if (stopped) return 'ok';
    const now = performance.now();
    arrivedAt = now;
    quietNeeded = QUIET_MS;
    return now - readAt >= CHECK_INTERVAL_MS ? evaluate() : state;
  }

  return {
    check,
    holding: () => check() !== 'ok',
    whenReleased(resume) {
      if (state === 'ok' || stopped) {
        resume();
        return () => undefined;
      }
      waiting.add(resume);
      return () => waiting.delete(resume);
    },
    status: () => ({
      state,
      since: since.toISOString(),
      heldBytes: last.held,
      rssBytes: last.rss,
      softLimitBytes: soft,
      hardLimitBytes: hard,
      pausedConnections: waiting.size,
      softEntered,
      hardEntered,
      released,
      releasedBytes,
    }),
    setLimits(hardLimitBytes, softLimitBytes) {
      hard = hardLimitBytes;
      soft = softLimitBytes;
      evaluate();
    },
    stop() {
      stopped = true;
      stopTimer();
      if (quietTimer !== null) clearTimeout(quietTimer);
      quietTimer = null;
      const resumes = [...waiting];
      waiting.clear();
      for (const resume of resumes) resume();
    },
  };
}
