/**
 * One signal's export queue: batches serialised once, sent one at a time, retried with backoff,
 * spilled to disk when memory is short or the daemon stops, and replayed from disk first, in
 * order. This file only wires its stages, each in a file of its own:
 *
 *   enqueue(bytes) --> memory-buffer (bounded) --past the bound / spillNow / stop--> segment spool
 *                            |                                                         |
 *                            |          spool-replayer: the spool first, in order  <---+
 *                            v                     v
 *                      send-loop: one batch at a time; idle | waiting | sending | stopping | stopped
 *                            |  ok --> exported    permanent --> dropped (export_rejected)
 *                            |  retryable --> backoff + jitter (protocol/backoff.ts), at least Retry-After/RetryInfo
 *                            v
 *                      send-timeout (min of the per-send timeout and a flush's or stop's time left) --> sender
 *
 * Accounting: a batch's records stay `buffered` in the signal's counts until it is sent
 * (`exported`) or refused for good (`failed`, `export_rejected`); batches a stop spilled are
 * `spooled`, and batches an earlier daemon spilled are counted apart, as `replayed`.
 */
import type { BackoffPolicy, QueueStatus, Signal } from '../../protocol/index.js';
import type { SignalStats } from '../stats.js';
import { createMemoryBuffer, type QueuedBatch, type Spill } from './memory-buffer.js';
import type { SegmentSpool } from './segment-spool.js';
import { type BatchSource, createSendLoop } from './send-loop.js';
import { withSendTimeout } from './send-timeout.js';
import { isPermanent, isRetryable, isSent, type Sender } from './sender.js';
import { createSpoolReplayer } from './spool-replayer.js';

/** How long a batch may wait in memory while sends keep failing before it is moved to disk. */
export const SPILL_AFTER_FAILING_MS = 30_000;

export interface ExportQueueOptions {
  readonly signal: Signal;
  readonly sender: Sender;
  readonly stats: SignalStats;
  /** `null`: no disk; what does not fit in memory is dropped (counted). */
  readonly spool: SegmentSpool | null;
  /** Bytes of batches held in memory at most. */
  readonly maxMemoryBytes: number;
  readonly retry: BackoffPolicy;
  /** Longest one send may take. */
  readonly sendTimeoutMs: number;
  readonly onError: (message: string) => void;
  /** Told of every write to the spool: `null` when it succeeded, else the error and the records lost with it. */
  readonly onSpoolWrite?: (error: unknown, records: number) => void;
  /** Default {@link SPILL_AFTER_FAILING_MS}. */
  readonly spillAfterFailingMs?: number;
}

export interface ExportQueue {
  /** Takes one serialised batch of `records` records. Never blocks; never throws. */
  enqueue(bytes: Uint8Array, records: number): void;
  /** Sends now, ignoring the backoff, until empty or `timeoutMs`; true when nothing is left. */
  flush(timeoutMs: number): Promise<boolean>;
  /**
   * Tries to send what is queued until `deadline` (epoch ms), stops at the first failure, then
   * spills the rest to disk. A second call returns the first call's promise.
   */
  shutdown(deadline: number): Promise<void>;
  status(): QueueStatus;
  /** Moves every batch waiting in memory to disk (the journal is growing: the collector has been failing a while). */
  spillNow(): void;
  /** Whether anything waits, in memory or on disk. */
  pending(): boolean;
  /**
   * Sends from now on through `sender` (a reload changed the destination): what waits goes
   * there, at once, whatever the backoff said. A send on the wire ends on the old sender; if it
   * fails, the batch goes again through the new one. Resolves when the old sender is no longer
   * in use, within `sendTimeoutMs` of the old settings, so that it can be closed.
   */
  setSender(sender: Sender, sendTimeoutMs: number): Promise<void>;
}

export function createExportQueue(options: ExportQueueOptions): ExportQueue {
  const { signal, stats, spool, onError } = options;
  const spillAfterFailingMs = options.spillAfterFailingMs ?? SPILL_AFTER_FAILING_MS;
  const replayer = spool === null ? null : createSpoolReplayer({ signal, spool, stats, onError });
  /**
   * A batch a spill moved to disk while it was on the wire: it went first in the segment, so
   * the order holds. When its send ends, the segment learns whether it still needs sending.
   */
  let movedWhileSending: { readonly batch: QueuedBatch; readonly segment: string; readonly written: number } | null = null;

  function spilled({ moved, segment, written, skipped, droppedSegments }: Spill): void {
    const onWire = loop.onWire();
    if (onWire !== null && moved[0] === onWire && skipped === 0 && segment !== null) movedWhileSending = { batch: onWire, segment, written };
    // The bound dropped the oldest segments, perhaps the one under replay: let it go.
    replayer?.forget(droppedSegments);
  }

  const memory = createMemoryBuffer({ signal, maxBytes: options.maxMemoryBytes, spool, stats, onError, onSpilled: spilled, ...(options.onSpoolWrite === undefined ? {} : { onSpoolWrite: options.onSpoolWrite }) });

  /** The spool's oldest first (it is older than anything in memory), then memory, oldest first. */
  const source: BatchSource<QueuedBatch> = {
    next: () => replayer?.next() ?? memory.oldest(),
    settleMoved(batch, outcome) {
      if (movedWhileSending === null || movedWhileSending.batch !== batch) return false;
      // Spilled while on the wire (its records counted as spooled then): sent or refused, its
      // place on disk is marked done; otherwise it waits there, first, in order.
      const { segment, written } = movedWhileSending;
      movedWhileSending = null;
      if (!isRetryable(outcome)) replayer?.settleFirstOf(segment, written, batch.records, isSent(outcome));
      return true;
    },
    settle(batch, outcome) {
      const sent = isSent(outcome);
      if (batch.replayed) replayer?.settle(batch, sent);
      else {
        memory.removeOldest(batch);
        if (sent) stats.exported(batch.records);
        else stats.failed(batch.records, 'export_rejected');
      }
      if (isPermanent(outcome)) onError(`${signal} export refused, ${batch.records} records dropped: ${outcome.message}`);
    },
    failing() {
      // Failing a while: what waits in memory goes to disk, where a crash cannot take it and
      // where it no longer holds the journal.
      const oldest = memory.oldest();
      if (oldest !== null && Date.now() - oldest.createdAt >= spillAfterFailingMs) memory.spill(0);
    },
  };

  const loop = createSendLoop({
    signal,
    sender: withSendTimeout(options.sender, options.sendTimeoutMs),
    source,
    retry: options.retry,
    onError,
    // Runs as the loop stops, before any send still on the wire ends: what is left in memory,
    // the batch on the wire included, goes to disk, so a stop never loses what was accepted
    // and never waits on a collector. If the collector took that batch after all, the next
    // daemon sends it again (at least once, never lost).
    onStopped: () => {
      memory.spill(0);
      spool?.close();
    },
  });
  loop.schedule();

  return {
    enqueue(bytes, records) {
      if (loop.state() === 'stopped') {
        stats.failed(records, 'shutdown_deadline');
        return;
      }
      memory.add(bytes, records);
      loop.schedule();
    },
    flush: (timeoutMs) => loop.flush(timeoutMs),
    // The order of a stop (send-loop.ts): no retry timer from now on; the send on the wire is
    // awaited and one last run sends what waits, both within the deadline, whatever the backoff
    // said; then the loop stops and `onStopped` spills what is left; a send ending after that
    // only settles its batch's place on disk.
    shutdown: (deadline) => loop.stop(deadline),
    status() {
      const { failures, nextAttemptAt, lastError } = loop.status();
      const oldest = memory.oldest();
      return {
        memoryBatches: memory.batches(),
        memoryBytes: memory.bytes(),
        spooledSegments: spool?.segments() ?? 0,
        spooledBytes: spool?.bytes() ?? 0,
        oldestAgeMs: oldest === null ? null : Date.now() - oldest.createdAt,
        failures,
        nextAttemptAt: failures > 0 && nextAttemptAt > 0 ? new Date(nextAttemptAt).toISOString() : null,
        lastError,
        replayed: replayer?.counts() ?? { exported: 0, dropped: 0 },
        spooled: memory.spooledRecords(),
      };
    },
    spillNow: () => memory.spill(0),
    setSender: (sender, sendTimeoutMs) => loop.setSender(withSendTimeout(sender, sendTimeoutMs)),
    pending: () => memory.batches() > 0 || (replayer?.replaying() ?? false) || (spool?.segments() ?? 0) > 0,
  };
}
