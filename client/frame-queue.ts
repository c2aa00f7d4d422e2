/**
 * The client's frame queue: what the buffers hold goes out as frames (batch-framer.ts encodes
 * them within the daemon's limits), written to the socket one at a time, with control messages
 * (session/start, session/end, requests) kept in order among the batches.
 *
 *   RecordBuffer --+                                   (one frame in flight)
 *   EventBuffer ---+--> batch-framer --> pending --> inFlight --> socket
 *   SpanBuffer ----+                       ^
 *   control messages ----------------------+
 *
 * A new connection does not wait for the answer to `initialize`: `pipeline()` hands the link the
 * frames to write right behind it, and keeps them until the answer settles
 * them (`settlePipelined`): taken, they count as sent; refused, or never answered because the
 * connection closed, they go back to the head of the queue, in order. The daemon handles a
 * connection's messages in order and answers `initialize` before it handles the next one, so
 * an answer that never came means nothing behind it was taken either (PROTOCOL.md, section 2).
 *
 * A frame taken back unsent (to be reframed, or handed over at exit) puts the drop counts it
 * carried back in the ledger.
 */
import type { Socket } from 'node:net';

import type { Limits, MetricRecord } from '../protocol/index.js';
import { type BatchFramer, type Frame, takeBack, type Unsent } from './batch-framer.js';
import type { DaemonLink } from './daemon-link.js';
import type { DropKind, DropLedger } from './drop-ledger.js';
import type { EventBuffer } from './event-buffer.js';
import type { RecordBuffer } from './record-buffer.js';
import type { SpanBuffer } from './span-buffer.js';

export interface FrameQueueOptions {
  readonly records: RecordBuffer;
  readonly events: EventBuffer;
  readonly spans: SpanBuffer;
  readonly drops: DropLedger;
  readonly framer: BatchFramer;
  /** The connection frames are written on, once it is initialized. */
  readonly link: Pick<DaemonLink, 'socket' | 'whenReady'>;
}

export interface FrameQueue {
  /**
   * A connection is made, its `initialize` written or being written: returns the frames to write
   * right behind it, `first` (a new daemon must know the live sessions before their records)
   * ahead of what is queued and one batch each of the buffered records and events, within
   * {@link MAX_PIPELINED_BYTES} (or one frame, when it alone is larger). They are held until
   * {@link settlePipelined}. Span batches wait for the answer: only it says whether the daemon
   * takes them.
   */
  pipeline(first: readonly { readonly method: string; readonly params: object }[]): Frame[];
  /**
   * The answer to `initialize` settled the pipelined frames: the first `taken` are the
   * daemon's (counted as sent); the rest were not taken and go back ahead of everything queued.
   * The re-announced sessions among them are dropped instead: every connection makes its own.
   */
  settlePipelined(taken: number): void;
  /** Frames written behind an `initialize` not yet answered. */
  readonly pipelined: readonly Frame[];
  /** A connection is initialized: the daemon's limits apply from now on. */
  ready(limits: Limits): void;
  /** The connection is gone, and with it the frame in flight: the daemon counted what it read. */
  lost(): void;
  /** A buffer of `kind` grew: writes at once when it holds a full batch, else once this turn. */
  added(kind: DropKind): void;
  /**
   * Queues a control message (encoded by the framer's `control()`) behind what is queued, not
   * behind what is still buffered, and schedules a write.
   */
  enqueue(frame: Frame): void;
  /** Moves everything buffered into frames, behind what is queued: a control message enqueued next goes after all of it. */
  queueEverything(): void;
  /** With no spans buffered, frames the span drops not yet reported in a batch of no spans (spans left open). */
  queueSpanDrops(): void;
  /** Writes until nothing is left or `timeoutMs` passed; with `untilAbsent`, stops as soon as no daemon answers. Never rejects. */
  sendAll(timeoutMs: number, untilAbsent: boolean): Promise<void>;
  /** Takes back everything not handed to the socket, control messages apart (they stay queued, in order). */
  takeUnsent(): Unsent;
  /** Takes every queued frame and frames all that is buffered behind them: what an exit still has to write. */
  takeForExit(): Frame[];
  /** Forgets the control messages still queued (the client is closed). */
  clear(): void;
  /** The frame handed to the socket whose write has not completed (at most one). */
  readonly inFlight: readonly Frame[];
  /** True while anything is buffered (frames queued or in flight apart). */
  readonly holdsTelemetry: boolean;
  /** Items of `kind` written to the socket. */
  sent(kind: DropKind): number;
  /** Items of `kind` buffered or framed and not yet written. */
  waiting(kind: DropKind): number;
}

/**
 * Bytes written behind `initialize` before its answer (one frame alone may be larger): a short
 * CLI's records go with the connection, and a host with much buffered sends the rest once the
 * daemon has answered (and said what it takes).
 */
export const MAX_PIPELINED_BYTES = 64 * 1024;

export function createFrameQueue(options: FrameQueueOptions): FrameQueue {
  const { records, events, spans, drops, framer, link } = options;
  /** Frames written behind an unanswered `initialize`; the first `pipelinedFirst` re-announce sessions. */
  let pipelined: Frame[] = [];
  let pipelinedFirst = 0;
  /** The frame handed to the socket whose write has not completed (at most one): what an exit must still finish. */
  let inFlight: Frame[] = [];
  /** Frames waiting for their turn: control messages, and batches encoded but not yet written. */
  let pending: Frame[] = [];
  let draining = false;
  let scheduled = false;
  /** Woken when a frame's write completes, or its connection is lost. */
  let writeWaiters: (() => void)[] = [];
  const sent = { records: 0, events: 0, spans: 0 };

  function wakeWriters(): void {
    const waiters = writeWaiters;
    writeWaiters = [];
    for (const wake of waiters) wake();
  }

  function schedule(): void {
    if (link.socket === null || scheduled) return;
    scheduled = true;
    setImmediate(tick);
  }

  function tick(): void {
    scheduled = false;
    drain();
  }

  /** Ended spans a daemon without `trace/span` would ignore: counted rather than lost unseen. */
  function dropSpansForOlderDaemon(): void {
    const count = spans.take(spans.size).length;
    drops.drop('spans', 'client_undeliverable', count, `codexd: the daemon is of a release that does not take spans; ${count} spans were dropped`);
  }

  function queueSpanDrops(out: Frame[]): void {
    if (spans.size === 0 && drops.hasUnreported('spans')) framer.batch('spans', [], out);
  }

  function takeUnsent(): Unsent {
    // Session frames and requests stay queued, in their order; only batches are taken apart.
    const unsent = takeBack(pending, drops);
    pending = pending.filter((entry) => entry.kind === 'control');
    while (records.size > 0) unsent.records.push(...records.take(framer.maxBatch('records')));
    while (events.size > 0) unsent.events.push(...events.take(framer.maxBatch('events')));
    while (spans.size > 0) unsent.spans.push(...spans.take(framer.maxBatch('spans')));
    return unsent;
  }

  function countSent(entry: Frame): void {
    sent.records += entry.measurements;
    sent.events += entry.events.length;
    sent.spans += entry.spans.length;
  }

  /**
   * Moves buffered telemetry into the socket, one frame at a time: the next frame is written
   * only once the previous one has been taken by the kernel. A frame the kernel takes at once
   * completes synchronously, so this costs nothing while the daemon keeps up; when it does not,
   * the telemetry waits in the bounded buffers rather than in an unbounded socket queue, and
   * an exit knows exactly which bytes of the one frame in flight are still unsent.
   */
  function drain(): void {
    if (draining) return;
    draining = true;
    try {
      let socket: Socket | null = link.socket;
      while (socket !== null && (records.size > 0 || events.size > 0 || spans.size > 0 || pending.length > 0) && inFlight.length === 0) {
        if (pending.length === 0) {
          if (records.size > 0) framer.batch('records', records.take(framer.maxBatch('records')), pending);
          else if (events.size > 0) framer.batch('events', events.take(framer.maxBatch('events')), pending);
          else if (framer.daemonTakesSpans) framer.batch('spans', spans.take(framer.maxBatch('spans')), pending);
          else dropSpansForOlderDaemon();
          if (pending.length === 0) continue;
        }
        const entry = pending.shift() as Frame;
        inFlight.push(entry);
        countSent(entry);
        const current = socket;
        current.write(entry.frame, () => {
          inFlight = inFlight.filter((candidate) => candidate !== entry);
          if (link.socket === current) drain();
          wakeWriters();
        });
        socket = link.socket;
      }
    } finally {
      draining = false;
    }
  }

  /**
   * Resolves when the frame in flight has been written (its completion callback runs on a
   * later tick even when the kernel took it at once), or at once when none is.
   */
  function written(): Promise<void> {
    if (inFlight.length === 0 || link.socket === null) return Promise.resolve();
    return new Promise((resolve) => writeWaiters.push(resolve));
  }

  const buffered = (kind: DropKind): number => (kind === 'records' ? records.size : kind === 'events' ? events.size : spans.size);

  return {
    pipeline(first) {
      const out = first.map(({ method, params }) => framer.control(method, params));
      let bytes = 0;
      const fits = (entry: Frame): boolean => (bytes === 0 ? true : bytes + entry.frame.byteLength <= MAX_PIPELINED_BYTES);
      while (pending.length > 0 && (pending[0] as Frame).kind !== 'spans' && fits(pending[0] as Frame)) {
        const entry = pending.shift() as Frame;
        bytes += entry.frame.byteLength;
        out.push(entry);
      }
      // Then one batch of records and one of events, as the next drain would frame them.
      const batches: Frame[] = [];
      if (pending.length === 0 && records.size > 0) framer.batch('records', records.take(framer.maxBatch('records')), batches);
      if (pending.length === 0 && events.size > 0) framer.batch('events', events.take(framer.maxBatch('events')), batches);
      for (const entry of batches) {
        if (pending.length === 0 && fits(entry)) {
          bytes += entry.frame.byteLength;
          out.push(entry);
        } else pending.push(entry);
      }
      pipelined = out;
      pipelinedFirst = first.length;
      return out;
    },
    settlePipelined(taken) {
      const settled = pipelined;
      const first = pipelinedFirst;
      pipelined = [];
      pipelinedFirst = 0;
      for (const entry of settled.slice(0, taken)) countSent(entry);
      pending.unshift(...settled.slice(Math.max(taken, first)));
    },
    get pipelined() {
      return pipelined;
    },
    ready(limits) {
      framer.setLimits(limits);
      drain();
    },
    lost() {
      inFlight = [];
      wakeWriters();
    },
    added(kind) {
      if (link.socket === null) return;
      if (buffered(kind) >= framer.maxBatch(kind)) drain();
      else schedule();
    },
    enqueue(frame) {
      pending.push(frame);
      schedule();
    },
    queueEverything() {
      const unsent = takeUnsent();
      framer.all('records', unsent.records, pending);
      framer.all('events', unsent.events, pending);
      framer.all('spans', unsent.spans, pending);
    },
    queueSpanDrops() {
      queueSpanDrops(pending);
    },
    async sendAll(timeoutMs, untilAbsent) {
      const deadline = Date.now() + timeoutMs;
      // Pipelined frames wait for the answer to initialize, which is what `whenReady` waits for.
      while ((records.size > 0 || events.size > 0 || spans.size > 0 || pending.length > 0 || inFlight.length > 0 || pipelined.length > 0) && Date.now() < deadline) {
        if (!(await link.whenReady(deadline - Date.now(), untilAbsent))) break;
        drain();
        await written();
      }
    },
    takeUnsent,
    takeForExit() {
      // Queued frames keep their order (a session's end stays after its records); the buffers follow.
      const out = pending;
      pending = [];
      const rest: MetricRecord[] = [];
      while (records.size > 0) rest.push(...records.take(framer.maxBatch('records')));
      framer.all('records', rest, out);
      while (events.size > 0) framer.batch('events', events.take(framer.maxBatch('events')), out);
      // A daemon of a release without trace/span would ignore them: they are counted instead.
      if (link.socket === null || framer.daemonTakesSpans) {
        queueSpanDrops(out);
        while (spans.size > 0) framer.batch('spans', spans.take(framer.maxBatch('spans')), out);
      } else dropSpansForOlderDaemon();
      return out;
    },
    clear() {
      pending = [];
    },
    get inFlight() {
      return inFlight;
    },
    get holdsTelemetry() {
      return records.size > 0 || events.size > 0 || spans.size > 0;
    },
    sent: (kind) => sent[kind],
    waiting(kind) {
      let count = buffered(kind);
      for (const entry of [...pipelined, ...pending]) count += kind === 'records' ? entry.measurements : entry[kind].length;
      return count;
    },
  };
}
