/**
 * The client's link to the daemon: connect, `initialize`, and everything that happens when
 * that does not simply work. It reconnects with backoff, starts the daemon when nobody answers
 * (through the spawner) and waits for it fast, and replaces a daemon of an older release. It
 * knows nothing of records: the client writes frames on the socket it hands out when ready, and
 * hands it the frames to write right behind `initialize` (onConnect), which the answer settles.
 *
 *   the host's next turn:
 *   connect, initialize at once --> 'connect': pipelined frames --+--> ready (onSettled, onReady) --> ... --> close (onLost) --> reconnect
 *      |                                                           +--> refused or closed first: onSettled(0), the frames were not taken
 *      |                                                           +--> older daemon: daemon/shutdown, wait for close, start ours
 *      +--> ENOENT / ECONNREFUSED --> start the daemon, retry every 20 ms for 5 s, else back off
 */
import type { Socket } from 'node:net';

import { backoffDelayMs, type ClientInfo, compareVersions, createFrameDecoder, DaemonShutdown, encodeFrame, Initialize, type Limits, PACKAGE_VERSION, PROTOCOL_VERSION, type ResourceAttributes } from '../protocol/index.js';
import { type DaemonSpawner, SPAWN_DEADLINE_MS } from './daemon-spawner.js';
import { readUntilSync, socketInternals, writeAllSync, writeFramesSync } from './exit-handoff.js';

/** Reconnect backoff bounds. */
export const RECONNECT_MIN_MS = 50;
export const RECONNECT_MAX_MS = 5000;
/** Reconnects double from the first step to the last, without jitter: one host's attempts are its own. */
const RECONNECT_BACKOFF = { initialMs: RECONNECT_MIN_MS, maxMs: RECONNECT_MAX_MS, jitter: [1, 1] } as const;
/** Retry interval while a daemon that was just started comes up. */
const SPAWN_POLL_MS = 20;
/** Request ids this link uses on its connection; the client's own requests use ids from {@link FIRST_CLIENT_REQUEST_ID}. */
const INITIALIZE_ID = 1;
const SHUTDOWN_ID = 2;
export const FIRST_CLIENT_REQUEST_ID = 16;

export interface DaemonLinkOptions {
  readonly socketPath: string;
  readonly clientInfo: ClientInfo;
  /** The host's resource, sent in every `initialize`; already checked by the client. */
  readonly resource?: ResourceAttributes | undefined;
  /** `null` when the client may not start daemons (then it also never replaces one). */
  readonly spawner: DaemonSpawner | null;
  readonly report: (kind: string, message: string) => void;
  /**
   * A connection is made: the frames to write right behind `initialize`, without waiting for
   * its answer. They are the caller's to keep until `onSettled`.
   */
  readonly onConnect: () => readonly { readonly frame: Uint8Array }[];
  /**
   * The frames `onConnect` gave were settled: the first `taken` were written whole behind an
   * `initialize` the daemon accepted (an older daemon about to be replaced included); the rest
   * were not taken, because the daemon refused `initialize` or the connection closed before
   * its answer (the daemon answers `initialize` before it handles anything behind it). Not
   * called when `close()` ends a connection whose answer is still awaited.
   */
  readonly onSettled: (taken: number) => void;
  /** The connection is initialized: frames may be written on `socket`. */
  readonly onReady: (socket: Socket, limits: Limits) => void;
  /** The ready connection is gone; whatever was in flight on it is lost with it. */
  readonly onLost: () => void;
  /** A message from the daemon other than the answers this link reads itself (answers to the client's requests). */
  readonly onMessage: (message: { readonly id?: unknown; readonly result?: unknown; readonly error?: unknown }) => void;
}

export interface DaemonLink {
  /** The initialized connection, or `null`. */
  readonly socket: Socket | null;
  /** True while a daemon is being started and waited for. */
  readonly starting: boolean;
  /** True once the first connection was attempted (the turn after the link was made). */
  readonly attempted: boolean;
  /**
   * Resolves true once ready, false after `timeoutMs` or, with `untilAbsent`, as soon as a
   * connection attempt finds no daemon.
   */
  whenReady(timeoutMs: number, untilAbsent: boolean): Promise<boolean>;
  /** Starts a daemon unless one is being waited for (a host exiting before any attempt failed). */
  startDaemon(): void;
  /**
   * For a host's exit, when no event loop will run again: with frames written behind an
   * `initialize` still unanswered, finishes their write and waits for the answer with blocking
   * reads until `deadline`, then settles them (the answer's handling runs as it would have,
   * `onReady` included). Without an answer by then, the frames written whole count as taken:
   * they are in the daemon's socket, and it handles them if it accepts `initialize`. Does
   * nothing where the socket's descriptor cannot be reached (Windows pipes).
   */
  settleSync(deadline: number): void;
  /** Stops reconnecting and ends the connection. */
  close(): void;
}

/**
 * Writes `initialize` on a socket whose connect() has just returned, before Node reports the
 * connection: true when the kernel took all of it. False, with nothing written, where the
 * descriptor cannot be reached or the connection failed (the caller writes it on `connect`);
 * a frame taken only in part (impossible on a new connection's empty buffer) ends the socket.
 */
function writeInitializeNow(socket: Socket, frame: Uint8Array): boolean {
  const internals = socketInternals(socket);
  if (internals === null) return false;
  // The deadline is now: one attempt, no waiting.
  const written = writeAllSync(internals.fd, frame, 0);
  if (written > 0 && written < frame.length) socket.destroy();
  return written === frame.length;
}

/**
 * Connects on the host's next turn, in the background; the socket is unref'd so it never keeps
 * the host alive. A host that closes its client before then has made no connection
 * ({@link DaemonLink.attempted}), nor loaded node:net.
 */
export function createDaemonLink(options: DaemonLinkOptions): DaemonLink {
  const { socketPath, spawner, report } = options;
  /** The first connection, due on the next turn; null once it was attempted. */
  let first: NodeJS.Immediate | null = null;
  let ready: Socket | null = null;
  /** The latest connection, initialized or not. */
  let attempt: Socket | null = null;
  let closing = false;
  /** Connection attempts that found no daemon since the last one that did. */
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let readyWaiters: ((isReady: boolean) => void)[] = [];
  /** Waiters that also give up as soon as a connection attempt finds no daemon. */
  let absentWaiters: ((isReady: boolean) => void)[] = [];
  /** Set while an older daemon this client asked to exit is draining. */
  let replacing = false;
  /** While a daemon is starting: until when to retry fast, and whether this client started it. */
  let spawnWait: { until: number; ours: boolean } | null = null;
  /** The connection whose `initialize` is unanswered, what was written on it (`initialize` first) and its reader. */
  let awaiting: { readonly socket: Socket; readonly frames: readonly { readonly frame: Uint8Array }[]; readonly onData: (chunk: Buffer, pipelinedWhole?: number) => void } | null = null;

  /** Settles the frames written behind the awaited `initialize` on `current`, if any. */
  function settle(current: Socket, taken: number): void {
    if (awaiting?.socket !== current) return;
    awaiting = null;
    options.onSettled(taken);
  }

  function wake(isReady: boolean): void {
    const waiters = isReady ? [...readyWaiters, ...absentWaiters] : absentWaiters;
    if (isReady) readyWaiters = [];
    absentWaiters = [];
    for (const waiter of waiters) waiter(isReady);
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
    wake(false);
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
    failures++;
    scheduleReconnect(backoffDelayMs(failures, RECONNECT_BACKOFF));
  }

  function onInitialized(current: Socket, message: { result?: Initialize.Result; error?: { message?: string; data?: { serverVersion?: unknown } } }, pipelinedWhole = Number.POSITIVE_INFINITY): void {
    // Accepted, the daemon handles what follows `initialize` (an older daemon too, before it
    // drains and exits); refused, it takes none of it.
    settle(current, message.result === undefined ? 0 : Math.min(pipelinedWhole, (awaiting?.frames.length ?? 1) - 1));
    const serverVersion = message.result?.serverInfo.version ?? message.error?.data?.serverVersion;
    if (spawner !== null && typeof serverVersion === 'string' && compareVersions(serverVersion, PACKAGE_VERSION) < 0) {
      // An older daemon: ask it to drain and exit, then start this release's daemon. The
      // records wait meanwhile; the old daemon exports what it holds. (A daemon refusing our
      // protocol version makes way by itself when the client is newer.)
      replacing = true;
      if (message.result !== undefined) current.write(encodeFrame({ jsonrpc: '2.0', id: SHUTDOWN_ID, method: DaemonShutdown.method, params: {} }));
      report('replace', `codexd: replacing the running daemon ${serverVersion} with ${PACKAGE_VERSION}`);
      return;
    }
    if (message.result === undefined) {
      report('initialize', `codexd: the daemon refused initialize: ${message.error?.message ?? 'unknown error'}`);
      current.destroy();
      return;
    }
    ready = current;
    failures = 0;
    spawnWait = null;
    options.onReady(current, message.result.limits);
    wake(true);
  }

  function open(): void {
    const current = process.getBuiltinModule('node:net').connect(socketPath);
    attempt = current;
    current.unref();
    const decoder = createFrameDecoder();
    let failure: NodeJS.ErrnoException | null = null;
    /** Reads what the daemon sent; `pipelinedWhole`: how many pipelined frames an exit could finish writing. */
    const onData = (chunk: Buffer, pipelinedWhole?: number): void => {
      for (const frame of decoder.push(chunk)) {
        // The answer to a replacement's daemon/shutdown needs no reading: the close that follows is what matters.
        if (frame.kind !== 'message') continue;
        const id = (frame.message as { id?: unknown }).id;
        if (id === INITIALIZE_ID) onInitialized(current, frame.message as never, pipelinedWhole);
        else if (typeof id === 'number' && id >= FIRST_CLIENT_REQUEST_ID && ready === current) options.onMessage(frame.message as never);
      }
    };
    const initialize = encodeFrame({
      jsonrpc: '2.0',
      id: INITIALIZE_ID,
      method: Initialize.method,
      params: {
        protocolVersion: PROTOCOL_VERSION,
        clientInfo: options.clientInfo,
        processId: process.pid,
        ...(options.resource === undefined ? {} : { resource: options.resource }),
      } satisfies Initialize.Params,
    });
    // A Unix socket is connected when connect() returns, though Node reports it a turn later:
    // `initialize` goes into the daemon's socket at once, so the daemon answers it while the
    // host records, and a short CLI does not wait a round trip after its last record.
    const early = writeInitializeNow(current, initialize);
    if (early) awaiting = { socket: current, frames: [{ frame: initialize }], onData };
    current.on('connect', () => {
      // Written behind initialize without waiting for its answer (the daemon handles a
      // connection's messages in order): a short CLI's records go with the connection.
      const pipelined = options.onConnect();
      awaiting = { socket: current, frames: [{ frame: initialize }, ...pipelined], onData };
      current.cork();
      if (!early) current.write(initialize);
      for (const { frame } of pipelined) current.write(frame);
      current.uncork();
    });
    current.on('data', (chunk: Buffer) => onData(chunk));
    current.on('error', (error: NodeJS.ErrnoException) => {
      failure = error;
    });
    current.on('close', () => {
      // Closed before the answer to initialize: the daemon handled nothing behind it.
      settle(current, 0);
      const wasReady = ready === current;
      if (wasReady) {
        ready = null;
        options.onLost();
      }
      if (closing) return;
      if (replacing) {
        // The old daemon has drained and gone: start ours at once.
        replacing = false;
        onNoDaemon(Object.assign(new Error('replaced an older daemon'), { code: 'ECONNREFUSED' }));
      } else if (wasReady) scheduleReconnect(RECONNECT_MIN_MS);
      else onNoDaemon(failure ?? Object.assign(new Error('connection closed before initialize'), { code: 'ECONNRESET' }));
    });
  }

  first = setImmediate(() => {
    first = null;
    open();
  });

  return {
    get socket() {
      return ready;
    },
    get attempted() {
      return first === null;
    },
    get starting() {
      return spawnWait !== null;
    },
    whenReady(timeoutMs, untilAbsent) {
      if (ready !== null) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          readyWaiters = readyWaiters.filter((waiter) => waiter !== done);
          absentWaiters = absentWaiters.filter((waiter) => waiter !== done);
          resolve(false);
        }, timeoutMs);
        const done = (isReady: boolean): void => {
          clearTimeout(timer);
          resolve(isReady);
        };
        (untilAbsent ? absentWaiters : readyWaiters).push(done);
      });
    },
    startDaemon() {
      if (ready === null && spawnWait === null) spawner?.start();
    },
    settleSync(deadline) {
      // Nothing pipelined (an `initialize` written before the host exited, its connection not
      // reported yet, has nothing behind it): nothing to settle, and the exit path hands over.
      if (awaiting === null || awaiting.frames.length === 1) return;
      const { socket, frames, onData } = awaiting;
      const internals = socketInternals(socket);
      if (internals === null) return;
      // The pipelined write may still be partly in libuv: finish it. A frame not written whole
      // is discarded by the daemon when this process's socket closes.
      const total = frames.reduce((sum, { frame }) => sum + frame.length, 0);
      const whole = writeFramesSync(internals.fd, frames, total - internals.queuedBytes, deadline);
      if (whole === 0) return settle(socket, 0);
      const end = readUntilSync(internals.fd, deadline, (chunk) => {
        onData(chunk, whole - 1);
        return awaiting === null;
      });
      // Closed unanswered, the daemon took none of it; no answer in time, what was written
      // whole is in the daemon's socket, and it handles it if it accepts initialize.
      settle(socket, end === 'closed' ? 0 : whole - 1);
    },
    close() {
      closing = true;
      awaiting = null;
      if (first !== null) clearImmediate(first);
      if (reconnectTimer !== null) clearTimeout(reconnectTimer);
      // An initialized connection ends after what was written to it; one still being made is dropped.
      if (ready !== null) ready.end();
      else attempt?.destroy();
      ready = null;
    },
  };
}
