/**
 * The thin client a host embeds. Recording appends to a bounded buffer and schedules one
 * write; a batch goes to the daemon as a single `metric/record` notification per event-loop
 * turn (or as soon as a batch is full). The host never waits on the daemon and never sees an
 * exception from this module: problems are counted, and reported once through `onError`.
 *
 *   counter() --> RecordBuffer --(setImmediate)--> metric/record notification --> socket
 *                  (bounded, counters summed)         (split to fit the limits)
 *
 * When nothing answers on the socket, the client starts the daemon itself (daemon-spawner.ts)
 * and keeps buffering meanwhile. When the host exits, what is still buffered or queued is
 * written synchronously, or handed over as a file the daemon ingests (exit-handoff.ts).
 *
 * Node built-ins are reached through `process.getBuiltinModule()` where they are used, here and
 * in the modules below: a host's start-up is the hot path, and an ES import of a built-in costs
 * milliseconds (measured in bench/).
 */
import type { Socket } from 'node:net';

import {
  type ClientInfo,
  createFrameDecoder,
  encodeFrame,
  Initialize,
  MAX_BATCH_RECORDS,
  MAX_MESSAGE_BYTES,
  type MetricKind,
  type MetricRecord,
  MetricRecordBatch,
  measurementsOf,
  DaemonShutdown,
  metricNameProblem,
  PACKAGE_VERSION,
  PROTOCOL_VERSION,
  type RejectionCode,
  resolveSocketPath,
  runtimeFolder,
  tagsProblem,
} from '../protocol/index.js';
import { createDaemonSpawner, SPAWN_DEADLINE_MS } from './daemon-spawner.js';
import { EXIT_WRITE_DEADLINE_MS, socketInternals, writeAllSync, writeHandoffFile } from './exit-handoff.js';
import { createRecordBuffer } from './record-buffer.js';

/** Records held while the daemon is unreachable or slow; beyond it new records are dropped and counted. */
export const DEFAULT_MAX_BUFFERED_RECORDS = 10_000;
/** How long `close()` and `flush()` wait for a connection before giving up on what is buffered. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 2000;
/** Reconnect backoff bounds. */
export const RECONNECT_MIN_MS = 50;
export const RECONNECT_MAX_MS = 5000;
/** Retry interval while a daemon that was just started comes up. */
const SPAWN_POLL_MS = 20;

export type Tags = Readonly<Record<string, string>>;

export interface ClientOptions {
  readonly clientInfo: ClientInfo;
  /** Defaults to `CODEXD_SOCKET`, else the per-user default path. */
  readonly socketPath?: string;
  readonly maxBufferedRecords?: number;
  readonly closeTimeoutMs?: number;
  /** Called once per kind of problem (daemon unreachable, buffer full, invalid record). */
  readonly onError?: (message: string) => void;
  /**
   * Start the daemon when nothing answers on the socket. Default true, unless the environment
   * has `CODEXD_NO_SPAWN=1`.
   */
  readonly spawn?: boolean;
  /** `[executable, ...args]` to start the daemon with; default: this Node, the package's `codexd run --spawned`. */
  readonly daemonCommand?: readonly string[];
}

export interface Timer {
  /** Records the elapsed milliseconds as a histogram and returns them; later calls do nothing and return `undefined`. */
  stop(extraTags?: Tags): number | undefined;
}

export interface ClientStats {
  readonly connected: boolean;
  readonly buffered: number;
  readonly sent: number;
  /** Records not sent, by reason: `client_buffer_full`, `client_undeliverable`, or a rejection code. */
  readonly dropped: Readonly<Record<string, number>>;
  /** Records written to hand-off files for the daemon to ingest. */
  readonly handedOff: number;
}

export interface TelemetryClient {
  counter(name: string, value?: number, tags?: Tags): void;
  histogram(name: string, value: number, tags?: Tags): void;
  gauge(name: string, value: number, tags?: Tags): void;
  startTimer(name: string, tags?: Tags): Timer;
  /** Sends what is buffered; resolves once it is written to the socket (not exported). Never rejects. */
  flush(): Promise<void>;
  /**
   * Sends what is buffered, then closes; resolves once it is written to the socket. When no
   * daemon is up yet, or none answers within `closeTimeoutMs`, the records are handed over as a
   * file in the socket's folder, which the daemon ingests when it runs. Never rejects.
   */
  close(): Promise<void>;
  stats(): ClientStats;
}

/** An encoded `metric/record` notification and what it carries. */
interface Frame {
  readonly frame: Buffer;
  readonly records: MetricRecord[];
  /** Measurements in `records` (each histogram value counts). */
  readonly measurements: number;
}

function countMeasurements(records: readonly MetricRecord[]): number {
  let total = 0;
  for (const record of records) total += measurementsOf(record);
  return total;
}

/** Compares dotted release numbers (`0.10.2` > `0.9.9`); a pre-release suffix is ignored. */
export function compareVersions(a: string, b: string): number {
  const parse = (version: string): number[] => version.split('-')[0]!.split('.').map((part) => Number.parseInt(part, 10) || 0);
  const left = parse(a);
  const right = parse(b);
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

/** `os.tmpdir()` on POSIX, without loading node:os (2 ms of a host's start-up). */
function posixTmpdir(): string {
  const dir = process.env.TMPDIR || process.env.TMP || process.env.TEMP || '/tmp';
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}

/** The user name and temp folder the socket path rules need, without node:os on POSIX. */
function platformInfo(): { tmpdir: string; username: string } {
  if (process.platform !== 'win32') return { tmpdir: posixTmpdir(), username: process.env.USER ?? process.env.LOGNAME ?? 'user' };
  // Only Windows needs the user's name (for the pipe), and only there is node:os loaded.
  const os = process.getBuiltinModule('node:os');
  let username = process.env.USERNAME ?? 'user';
  try {
    username = os.userInfo().username;
  } catch {
    // No account entry for this user: the pipe gets the name from the environment.
  }
  return { tmpdir: os.tmpdir(), username };
}

/**
 * Creates a client and starts connecting at once, in the background. The socket is unref'd:
 * an idle client never keeps its host alive.
 */
export function createClient(options: ClientOptions): TelemetryClient {
  // Built-ins are fetched here rather than imported: an ES import of a built-in builds its whole
  // namespace (for node:fs, every lazy part of it), which a short-lived host pays at start-up.
  const net = process.getBuiltinModule('node:net');
  const platform = platformInfo();
  const socketPath =
    options.socketPath ??
    resolveSocketPath({ platform: process.platform, env: process.env, uid: typeof process.getuid === 'function' ? process.getuid() : null, ...platform });
  const runtimeDir = runtimeFolder(socketPath, platform.tmpdir, platform.username);
  const buffer = createRecordBuffer(options.maxBufferedRecords ?? DEFAULT_MAX_BUFFERED_RECORDS);
  const closeTimeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  const spawnEnabled = options.spawn ?? process.env.CODEXD_NO_SPAWN !== '1';
  const dropped = new Map<string, number>();
  /** Drops not yet reported to the daemon. */
  const unreported = new Map<string, number>();
  const reported = new Set<string>();
  /** The frame handed to the socket whose write has not completed (at most one): what an exit must still finish. */
  let inFlight: Frame[] = [];
  /** Frames encoded from one batch that split in several, waiting for their turn. */
  let pendingFrames: Frame[] = [];
  let draining = false;
  /** Woken when a frame's write completes. */
  let writeWaiters: (() => void)[] = [];
  let socket: Socket | null = null;
  let ready = false;
  let closing = false;
  let sent = 0;
  let handedOff = 0;
  let maxBatch = MAX_BATCH_RECORDS;
  let maxBytes = MAX_MESSAGE_BYTES;
  let scheduled = false;
  let backoff = RECONNECT_MIN_MS;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let readyWaiters: ((isReady: boolean) => void)[] = [];
  /** Waiters that also give up as soon as a connection attempt finds no daemon. */
  let absentWaiters: ((isReady: boolean) => void)[] = [];
  let closePromise: Promise<void> | null = null;
  /** Set while an older daemon this client asked to exit is draining. */
  let replacing = false;
  /** While a daemon is starting: until when to retry fast, and whether this client started it. */
  let spawnWait: { until: number; ours: boolean } | null = null;

  function report(kind: string, message: string): void {
    if (reported.has(kind)) return;
    reported.add(kind);
    try {
      options.onError?.(message);
    } catch {
      // A host's logger must not break recording.
    }
  }

  const spawner = spawnEnabled ? createDaemonSpawner({ socketPath, runtimeDir, report, ...(options.daemonCommand === undefined ? {} : { command: options.daemonCommand }) }) : null;

  function drop(reason: string, count: number, message: string): void {
    dropped.set(reason, (dropped.get(reason) ?? 0) + count);
    unreported.set(reason, (unreported.get(reason) ?? 0) + count);
    report(reason, message);
  }

  function wakeWaiters(isReady: boolean): void {
    const waiters = isReady ? [...readyWaiters, ...absentWaiters] : absentWaiters;
    if (isReady) readyWaiters = [];
    absentWaiters = [];
    for (const wake of waiters) wake(isReady);
  }

  /** Encodes records as `metric/record` notifications, split to fit the daemon's message limit. */
  function frames(records: MetricRecord[], out: Frame[]): void {
    const params: { records: MetricRecord[]; dropped?: Record<string, number> } = { records };
    if (unreported.size > 0) {
      params.dropped = Object.fromEntries(unreported);
      unreported.clear();
    }
    const frame = encodeFrame({ jsonrpc: '2.0', method: MetricRecordBatch.method, params });
    if (frame.byteLength > maxBytes && records.length > 1) {
      // Too big for one message (long tags): send it in halves.
      if (params.dropped !== undefined) for (const [reason, count] of Object.entries(params.dropped)) unreported.set(reason, count);
      const half = records.length >> 1;
      frames(records.slice(0, half), out);
      frames(records.slice(half), out);
      return;
    }
    out.push({ frame, records, measurements: countMeasurements(records) });
  }

  /**
   * Moves buffered records into the socket, one frame at a time: the next frame is written only
   * once the previous one has been taken by the kernel. A frame the kernel takes at once
   * completes synchronously, so this costs nothing while the daemon keeps up; when it does
   * not, the records wait in the bounded buffer rather than in an unbounded socket queue, and
   * an exit knows exactly which bytes of the one frame in flight are still unsent.
   */
  function drain(): void {
    if (draining) return;
    draining = true;
    try {
      while (ready && socket !== null && (buffer.size > 0 || pendingFrames.length > 0) && inFlight.length === 0) {
        if (pendingFrames.length === 0) frames(buffer.take(maxBatch), pendingFrames);
        const entry = pendingFrames.shift() as Frame;
        inFlight.push(entry);
        sent += entry.measurements;
        const current = socket;
        current.write(entry.frame, () => {
          inFlight = inFlight.filter((candidate) => candidate !== entry);
          if (socket === current) drain();
          const waiters = writeWaiters;
          writeWaiters = [];
          for (const wake of waiters) wake();
        });
      }
    } finally {
      draining = false;
    }
  }

  function tick(): void {
    scheduled = false;
    drain();
  }

  function record(kind: MetricKind, name: string, value: number, tags: Tags | undefined): void {
    // The hot path: a counter increment or histogram value for a name and tags already buffered.
    if (typeof value === 'number' && Number.isFinite(value) && (kind === 'histogram' || (kind === 'counter' && value >= 0)) && buffer.addToExisting(kind, name, value, tags)) return;
    // metricNameProblem remembers names it found valid, so this is a Set lookup after the first call.
    const nameProblem = metricNameProblem(name);
    if (nameProblem !== null) {
      drop('invalid_name', 1, `codexd: metric name ${JSON.stringify(String(name)).slice(0, 80)} ${nameProblem}; dropping such records`);
      return;
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || (kind === 'counter' && value < 0)) {
      const code: RejectionCode = kind === 'counter' && value < 0 ? 'negative_counter' : 'invalid_value';
      drop(code, 1, `codexd: ${name}: value ${String(value)} is not valid for a ${kind}; dropping such records`);
      return;
    }
    if (tags !== undefined) {
      const problem = tagsProblem(tags);
      if (problem !== null) {
        drop(problem.code, 1, `codexd: ${name}: ${problem.field} ${problem.message}; dropping such records`);
        return;
      }
    }
    if (!buffer.add(kind, name, value, tags)) {
      drop('client_buffer_full', 1, `codexd: client buffer full (${options.maxBufferedRecords ?? DEFAULT_MAX_BUFFERED_RECORDS} records); dropping new records until the daemon catches up`);
      return;
    }
    if (!ready) return;
    if (buffer.size >= maxBatch) drain();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(tick);
    }
  }

  function scheduleReconnect(delayMs: number): void {
    if (closing || reconnectTimer !== null) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      open();
    }, delayMs);
    reconnectTimer.unref();
  }

  /** Nothing answered: start a daemon (or wait for the one starting), else back off. */
  function onNoDaemon(error: NodeJS.ErrnoException): void {
    wakeWaiters(false);
    const now = Date.now();
    if (spawnWait !== null && now >= spawnWait.until) {
      if (spawnWait.ours) spawner?.failed();
      report('spawn-timeout', `codexd: the daemon did not come up on ${socketPath} within ${SPAWN_DEADLINE_MS} ms; buffering records`);
      spawnWait = null;
    } else if (spawnWait === null && spawner !== null && (error.code === 'ENOENT' || error.code === 'ECONNREFUSED')) {
      const outcome = spawner.start();
      if (outcome !== 'refused') spawnWait = { until: now + SPAWN_DEADLINE_MS, ours: outcome === 'spawned' };
    }
    if (spawnWait !== null) {
      scheduleReconnect(SPAWN_POLL_MS);
      return;
    }
    report('connect', `codexd: cannot reach the daemon at ${socketPath} (${error.code ?? error.message}); buffering records`);
    scheduleReconnect(backoff);
    backoff = Math.min(backoff * 2, RECONNECT_MAX_MS);
  }

  function open(): void {
    const current = net.connect(socketPath);
    socket = current;
    current.unref();
    const decoder = createFrameDecoder();
    let failure: NodeJS.ErrnoException | null = null;
    current.on('connect', () => {
      current.write(
        encodeFrame({
          jsonrpc: '2.0',
          id: 1,
          method: Initialize.method,
          params: { protocolVersion: PROTOCOL_VERSION, clientInfo: options.clientInfo, processId: process.pid },
        }),
      );
    });
    current.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        if (frame.kind !== 'message') continue;
        const message = frame.message as { id?: unknown; result?: Initialize.Result; error?: { code?: number; message?: string; data?: { serverVersion?: unknown } } };
        if (message.id === 2) continue; // The answer to a replacement's daemon/shutdown: the close that follows is what matters.
        if (message.id !== 1) continue;
        const serverVersion = message.result?.serverInfo.version ?? message.error?.data?.serverVersion;
        if (spawner !== null && typeof serverVersion === 'string' && compareVersions(serverVersion, PACKAGE_VERSION) < 0) {
          // An older daemon: ask it to drain and exit, then start this release's daemon. The
          // records wait in the buffer meanwhile; the old daemon exports what it holds.
          replacing = true;
          if (message.result !== undefined) current.write(encodeFrame({ jsonrpc: '2.0', id: 2, method: DaemonShutdown.method, params: {} }));
          // A daemon refusing our protocol version exits by itself when the client is newer.
          report('replace', `codexd: replacing the running daemon ${serverVersion} with ${PACKAGE_VERSION}`);
          continue;
        }
        if (message.result !== undefined) {
          maxBatch = Math.min(MAX_BATCH_RECORDS, message.result.limits.maxBatchRecords);
          maxBytes = Math.min(MAX_MESSAGE_BYTES, message.result.limits.maxMessageBytes);
          ready = true;
          backoff = RECONNECT_MIN_MS;
          spawnWait = null;
          drain();
          wakeWaiters(true);
        } else {
          report('initialize', `codexd: the daemon refused initialize: ${message.error?.message ?? 'unknown error'}`);
          current.destroy();
        }
      }
    });
    current.on('error', (error: NodeJS.ErrnoException) => {
      failure = error;
    });
    current.on('close', () => {
      if (replacing) {
        // The old daemon has drained and gone: start ours at once.
        replacing = false;
        if (socket === current) socket = null;
        if (!closing) onNoDaemon(Object.assign(new Error('replaced an older daemon'), { code: 'ECONNREFUSED' }));
        return;
      }
      const wasReady = ready && socket === current;
      if (socket === current) {
        socket = null;
        ready = false;
      }
      // A frame in flight on a dead connection is lost with it; the daemon counted what it read.
      inFlight = [];
      const waiters = writeWaiters;
      writeWaiters = [];
      for (const wake of waiters) wake();
      if (closing) return;
      if (wasReady) scheduleReconnect(RECONNECT_MIN_MS);
      else onNoDaemon(failure ?? Object.assign(new Error('connection closed before initialize'), { code: 'ECONNRESET' }));
    });
  }

  /** Resolves true once connected, false after `timeoutMs` (or, with `untilAbsent`, once no daemon is found). */
  function whenReady(timeoutMs: number, untilAbsent: boolean): Promise<boolean> {
    if (ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        readyWaiters = readyWaiters.filter((waiter) => waiter !== wake);
        absentWaiters = absentWaiters.filter((waiter) => waiter !== wake);
        resolve(false);
      }, timeoutMs);
      const wake = (isReady: boolean): void => {
        clearTimeout(timer);
        resolve(isReady);
      };
      (untilAbsent ? absentWaiters : readyWaiters).push(wake);
    });
  }

  /**
   * Resolves when the frame in flight has been written (its completion callback runs on a
   * later tick even when the kernel took it at once), or at once when none is.
   */
  function written(): Promise<void> {
    if (inFlight.length === 0 || socket === null) return Promise.resolve();
    return new Promise((resolve) => writeWaiters.push(resolve));
  }

  async function sendAll(untilAbsent: boolean): Promise<void> {
    const deadline = Date.now() + closeTimeoutMs;
    while ((buffer.size > 0 || pendingFrames.length > 0 || inFlight.length > 0) && Date.now() < deadline) {
      if (!(await whenReady(deadline - Date.now(), untilAbsent))) break;
      drain();
      await written();
    }
  }

  /** Hands records over as a file for the daemon; counts them as dropped if even that fails. */
  function handOff(records: MetricRecord[]): void {
    if (records.length === 0) return;
    const measurements = countMeasurements(records);
    const handoff = { version: 1 as const, clientInfo: options.clientInfo, pid: process.pid, records, ...(unreported.size > 0 ? { dropped: Object.fromEntries(unreported) } : {}) };
    if (writeHandoffFile(runtimeDir, handoff)) {
      unreported.clear();
      handedOff += measurements;
    } else {
      drop('client_undeliverable', measurements, `codexd: ${measurements} measurements could not be delivered or handed over`);
    }
  }

  /**
   * The host is exiting and no event loop will run again. With the connection up, finish the
   * frames libuv still queues and write the buffer with blocking writes; whatever cannot be
   * written within the deadline, or everything when the daemon is not up yet, is handed over.
   */
  function onExit(): void {
    if (closing) return;
    // A host that exits before its first connection attempt even failed still starts the
    // daemon that will ingest its hand-off (a daemon already up just refuses to start twice).
    if (!ready && spawnWait === null && buffer.size > 0) spawner?.start();
    const deadline = Date.now() + EXIT_WRITE_DEADLINE_MS;
    const pending = pendingFrames;
    pendingFrames = [];
    while (buffer.size > 0) frames(buffer.take(maxBatch), pending);
    const internals = ready && socket !== null ? socketInternals(socket) : null;
    if (internals === null) {
      // Frames queued on a connection that cannot be finished are lost with the process.
      handOff(pending.flatMap((entry) => entry.records));
      return;
    }
    // The last `queuedBytes` of the frame in flight have not reached the kernel: write them.
    const queue = [...inFlight, ...pending];
    let alreadySent = (inFlight[0]?.frame.length ?? 0) - internals.queuedBytes;
    for (let index = 0; index < queue.length; index++) {
      const frame = (queue[index] as { frame: Buffer }).frame;
      if (alreadySent >= frame.length) {
        alreadySent -= frame.length;
        continue;
      }
      const rest = frame.subarray(Math.max(0, alreadySent));
      alreadySent = 0;
      if (writeAllSync(internals.fd, rest, deadline) < rest.length) {
        // A partly written frame is discarded by the daemon when this process's socket closes.
        handOff(queue.slice(index).flatMap((entry) => entry.records));
        return;
      }
    }
  }
  process.on('exit', onExit);

  open();

  return {
    counter(name, value = 1, tags) {
      record('counter', name, value, tags);
    },
    histogram(name, value, tags) {
      record('histogram', name, value, tags);
    },
    gauge(name, value, tags) {
      record('gauge', name, value, tags);
    },
    startTimer(name, tags) {
      const started = performance.now();
      let stopped = false;
      return {
        stop(extraTags) {
          // Codex's Timer records again when dropped after an explicit stop; this one records once.
          if (stopped) return undefined;
          stopped = true;
          const elapsed = performance.now() - started;
          record('histogram', name, elapsed, extraTags === undefined ? tags : { ...tags, ...extraTags });
          return elapsed;
        },
      };
    },
    async flush() {
      await sendAll(false);
    },
    close() {
      closePromise ??= (async () => {
        // With a connection up or being made, send and wait for the write. As soon as there
        // is none (the daemon is starting, or cannot be reached), waiting would only delay the
        // host: the records are handed over as a file at once.
        if (ready || spawnWait === null) await sendAll(true);
        closing = true;
        process.off('exit', onExit);
        if (reconnectTimer !== null) clearTimeout(reconnectTimer);
        // Not delivered within the close timeout (no daemon yet): the daemon gets them later.
        const waiting = pendingFrames.flatMap((entry) => entry.records);
        pendingFrames = [];
        const rest: MetricRecord[] = [];
        while (buffer.size > 0) rest.push(...buffer.take(maxBatch));
        handOff([...waiting, ...rest]);
        socket?.end();
        socket = null;
        ready = false;
      })();
      return closePromise;
    },
    stats() {
      const waiting = pendingFrames.reduce((total, entry) => total + entry.measurements, 0);
      return { connected: ready, buffered: buffer.size + waiting, sent, handedOff, dropped: Object.fromEntries(dropped) };
    },
  };
}
