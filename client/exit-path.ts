/**
 * How a client ends: `close()`, or its host's `exit` event when the host never called it. What
 * is still buffered or queued goes to the daemon if it can (asynchronously on `close()`, with
 * blocking writes at exit), and is otherwise handed over as a file the daemon ingests when it
 * runs (exit-handoff.ts writes it). Spans still open are never sent, only counted.
 *
 *   close() --> send all within closeTimeoutMs --> hand over the rest --> end the connection
 *   close() before the first connection, a daemon up --> hand over all of it (no connection)
 *   exit    --> learn whether frames written behind initialize were taken (blocking, until
 *               EXIT_WRITE_DEADLINE_MS) --> finish the frame in flight, write the rest until
 *               the same deadline --> hand over the rest
 */
import { type ClientInfo, type HostSpan, measurementsIn, type MetricRecord, type ResourceAttributes, type SessionEvent, type SessionStart } from '../protocol/index.js';
import { type Frame, takeBack } from './batch-framer.js';
import type { DaemonLink } from './daemon-link.js';
import type { DropKind, DropLedger } from './drop-ledger.js';
import { daemonTakesHandoffs, EXIT_WRITE_DEADLINE_MS, type Handoff, socketInternals, writeFramesSync, writeHandoffFile } from './exit-handoff.js';
import type { FrameQueue } from './frame-queue.js';

/**
 * Exit hooks of the live clients, behind one `exit` listener: a host that creates many clients
 * (one per thread, say) must not pile listeners on `process` and get Node's warning for it.
 */
const exitHooks = new Set<() => void>();
function runExitHooks(): void {
  for (const hook of exitHooks) hook();
}

export interface ExitPathOptions {
  readonly clientInfo: ClientInfo;
  /** The host's resource, already checked; written into hand-off files. */
  readonly resource: ResourceAttributes | undefined;
  /** The socket's folder, where hand-off files go. */
  readonly runtimeDir: string;
  /** How long `close()` waits for a connection before handing over what is buffered. */
  readonly closeTimeoutMs: number;
  readonly link: DaemonLink;
  readonly queue: FrameQueue;
  readonly drops: DropLedger;
  /** Sessions started and not ended: a daemon ingesting a hand-off may never have seen them. */
  readonly sessions: ReadonlyMap<string, SessionStart.Params>;
  /** Counts the spans still open as never to be sent. */
  readonly abandonOpenSpans: () => void;
  /**
   * True while all the client queued is telemetry and the starts of sessions not ended: what a
   * hand-off file carries whole (an ended session or a request needs the connection).
   */
  readonly onlyTelemetry: () => boolean;
}

export interface ExitPath {
  /** See `TelemetryClient.close()`. A second call returns the first one's promise. */
  close(): Promise<void>;
  /** True once `close()` has sent what it could: nothing more is sent. */
  readonly closing: boolean;
  /** Items of `kind` written to hand-off files. */
  handedOff(kind: DropKind): number;
}

/** Registers the client's exit hook at once; `close()` removes it. */
export function createExitPath(options: ExitPathOptions): ExitPath {
  const { link, queue, drops, abandonOpenSpans } = options;
  const handedOff = { records: 0, events: 0, spans: 0 };
  let closing = false;
  let closePromise: Promise<void> | null = null;

  /**
   * Hands records, events and spans over as a file for the daemon; counts them as dropped if
   * even that fails. Span drops alone (spans open at exit) are handed over too: the daemon
   * learns of spans that will never come.
   */
  function handOff(records: MetricRecord[], events: SessionEvent[], spans: HostSpan[]): void {
    if (records.length === 0 && events.length === 0 && spans.length === 0 && !drops.hasUnreported('spans')) return;
    const measurements = measurementsIn(records);
    const unreported = drops.unreported();
    const handoff: Handoff = {
      version: 1,
      clientInfo: options.clientInfo,
      ...(options.resource === undefined ? {} : { resource: options.resource }),
      pid: process.pid,
      records,
      ...(events.length > 0 ? { events } : {}),
      ...(spans.length > 0 ? { spans } : {}),
      // The daemon that ingests this may never have seen these sessions: it registers them first.
      ...(options.sessions.size > 0 ? { sessions: [...options.sessions.values()] } : {}),
      ...(unreported.records === undefined ? {} : { dropped: unreported.records }),
      ...(unreported.events === undefined ? {} : { eventsDropped: unreported.events }),
      ...(unreported.spans === undefined ? {} : { spansDropped: unreported.spans }),
    };
    if (writeHandoffFile(options.runtimeDir, handoff)) {
      drops.clearUnreported();
      handedOff.records += measurements;
      handedOff.events += events.length;
      handedOff.spans += spans.length;
      return;
    }
    if (measurements > 0) drops.drop('records', 'client_undeliverable', measurements, `codexd: ${measurements} measurements could not be delivered or handed over`);
    if (events.length > 0) drops.drop('events', 'client_undeliverable', events.length, `codexd: ${events.length} events could not be delivered or handed over`);
    if (spans.length > 0) drops.drop('spans', 'client_undeliverable', spans.length, `codexd: ${spans.length} spans could not be delivered or handed over`);
  }

  /** Hands over what the frames carry, the drop counts they would have reported included. */
  function handOffFrames(frames: readonly Frame[]): void {
    const unsent = takeBack(frames, drops);
    handOff(unsent.records, unsent.events, unsent.spans);
  }

  /**
   * The host is exiting and no event loop will run again. With the connection up, finish the
   * frame libuv still queues and write the rest with blocking writes; whatever cannot be
   * written within the deadline, or everything when the daemon is not up yet, is handed over.
   */
  function onExit(): void {
    if (closing) return;
    const deadline = Date.now() + EXIT_WRITE_DEADLINE_MS;
    // Frames written behind an initialize not answered yet are the daemon's if it accepts it,
    // and must be handed over if it refuses it: wait for the answer (it usually takes about a
    // millisecond). A host that ends without close() is often still waiting for it.
    link.settleSync(deadline);
    // Frames pipelined where their answer cannot be awaited (no descriptor to read) were
    // written: the daemon's, as any frame written.
    if (queue.pipelined.length > 0) queue.settlePipelined(queue.pipelined.length);
    const socket = link.socket;
    // No span ends after this: the open ones are counted, and the count goes with the rest.
    abandonOpenSpans();
    // A host that exits before its first connection attempt even failed still starts the
    // daemon that will ingest its hand-off, unless one is up and takes hand-offs (another
    // started anyway would only refuse to start twice).
    if (socket === null && queue.holdsTelemetry && !daemonTakesHandoffs(options.runtimeDir)) link.startDaemon();
    const pending = queue.takeForExit();
    const internals = socket === null ? null : socketInternals(socket);
    if (internals === null) {
      // A frame queued on a connection that cannot be finished is lost with the process.
      handOffFrames(pending);
      return;
    }
    // The last `queuedBytes` of the frame in flight have not reached the kernel: write them.
    const frames = [...queue.inFlight, ...pending];
    const alreadySent = (queue.inFlight[0]?.frame.length ?? 0) - internals.queuedBytes;
    const unwritten = writeFramesSync(internals.fd, frames, alreadySent, deadline);
    if (unwritten < frames.length) handOffFrames(frames.slice(unwritten));
  }

  if (exitHooks.size === 0) process.on('exit', runExitHooks);
  exitHooks.add(onExit);

  return {
    close() {
      closePromise ??= (async () => {
        // Spans still open are never sent; their count goes with the last span batch.
        abandonOpenSpans();
        queue.queueSpanDrops();
        // Closed before the first connection (a short CLI, in the turn it made the client),
        // with a daemon up: a hand-off file carries everything, and the daemon takes it at
        // once. No connection is made, no answer waited for.
        const handOver = !link.attempted && options.onlyTelemetry() && daemonTakesHandoffs(options.runtimeDir);
        // With a connection up or being made, send and wait for the write. As soon as there
        // is none (the daemon is starting, or cannot be reached), waiting would only delay the
        // host: the records are handed over as a file at once.
        if (!handOver && (link.socket !== null || !link.starting)) await queue.sendAll(options.closeTimeoutMs, true);
        // Written behind an initialize that was not answered within the timeout: in the
        // daemon's socket, it handles them if it accepts initialize. Handing them over too
        // could count them twice.
        if (queue.pipelined.length > 0) queue.settlePipelined(queue.pipelined.length);
        closing = true;
        exitHooks.delete(onExit);
        if (exitHooks.size === 0) process.off('exit', runExitHooks);
        // Not delivered within the close timeout (no daemon yet): the daemon gets them later.
        const unsent = queue.takeUnsent();
        handOff(unsent.records, unsent.events, unsent.spans);
        queue.clear();
        link.close();
      })();
      return closePromise;
    },
    get closing() {
      return closing;
    },
    handedOff: (kind) => handedOff[kind],
  };
}
